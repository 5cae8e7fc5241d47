#include "config/option_table.hpp"

#include <cctype>

#include "config/values.hpp"

namespace s3l::config {
namespace {

using Setter = std::function<Status(const std::string&)>;

// Builders for the recurring kinds of options.
OptionSpec string_opt(std::string name, std::string value_name, std::string help, std::string* target,
                      std::function<Result<std::string>(const std::string&)> normalize) {
  OptionSpec o;
  o.name = std::move(name);
  o.value_name = std::move(value_name);
  o.help = std::move(help);
  o.set = [target, normalize](const std::string& v) -> Status {
    auto r = normalize(v);
    if (!r.ok()) return r.status;
    *target = *r;
    return Status::Ok();
  };
  o.show = [target] { return *target; };
  return o;
}

Result<std::string> as_is(const std::string& v) { return v; }

OptionSpec positional(std::string key, std::string help, std::string* target,
                      std::function<Result<std::string>(const std::string&)> normalize) {
  std::string display = positional_display(key);
  OptionSpec o = string_opt(std::move(key), display, std::move(help), target, std::move(normalize));
  o.on_cli = false;
  return o;
}

OptionSpec size_opt(std::string name, std::string help, uint64_t* target, uint64_t lo, uint64_t hi,
                    bool power_of_two) {
  OptionSpec o;
  o.name = std::move(name);
  o.value_name = "SIZE";
  o.help = std::move(help);
  o.set = [=](const std::string& v) -> Status {
    auto r = parse_size_in(v, lo, hi, power_of_two);
    if (!r.ok()) return r.status;
    *target = *r;
    return Status::Ok();
  };
  o.show = [target] { return format_size(*target); };
  return o;
}

OptionSpec uint_opt(std::string name, std::string help, uint32_t* target, uint32_t lo, uint32_t hi) {
  OptionSpec o;
  o.name = std::move(name);
  o.value_name = "N";
  o.help = std::move(help);
  o.set = [=](const std::string& v) -> Status {
    auto r = parse_uint(v, lo, hi);
    if (!r.ok()) return r.status;
    *target = static_cast<uint32_t>(*r);
    return Status::Ok();
  };
  o.show = [target] { return std::to_string(*target); };
  return o;
}

OptionSpec seconds_opt(std::string name, std::string help, double* target) {
  OptionSpec o;
  o.name = std::move(name);
  o.value_name = "SECONDS";
  o.help = std::move(help);
  o.set = [target](const std::string& v) -> Status {
    auto r = parse_seconds(v, kMaxTimeoutSeconds);
    if (!r.ok()) return r.status;
    *target = *r;
    return Status::Ok();
  };
  o.show = [target] {
    std::string s = std::to_string(*target);          // "1.000000" -> "1", "0.500000" -> "0.5"
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
    return s;
  };
  return o;
}

// invert: the option turns the setting off (--no-default-permissions).
OptionSpec flag_opt(std::string name, char short_name, std::string help, bool* target, bool invert = false) {
  OptionSpec o;
  o.name = std::move(name);
  o.short_name = short_name;
  o.is_flag = true;
  o.help = std::move(help);
  o.set = [target, invert](const std::string& v) -> Status {
    auto r = parse_bool(v);
    if (!r.ok()) return r.status;
    *target = *r != invert;
    return Status::Ok();
  };
  o.show = [target, invert] { return (*target != invert) ? "true" : "false"; };
  return o;
}

// An option whose "not given" matters (mount/fsck then use the volume settings).
OptionSpec opt_string(std::string name, std::string value_name, std::string help, std::optional<std::string>* target,
                      std::function<Result<std::string>(const std::string&)> normalize, std::string shown) {
  OptionSpec o;
  o.name = std::move(name);
  o.value_name = std::move(value_name);
  o.help = std::move(help);
  o.set = [target, normalize](const std::string& v) -> Status {
    auto r = normalize(v);
    if (!r.ok()) return r.status;
    *target = *r;
    return Status::Ok();
  };
  o.show = [shown] { return shown; };   // never the value: it may be a secret
  return o;
}

OptionSpec opt_flag(std::string name, std::string help, std::optional<bool>* target, bool invert, std::string shown) {
  OptionSpec o;
  o.name = std::move(name);
  o.is_flag = true;
  o.help = std::move(help);
  o.set = [target, invert](const std::string& v) -> Status {
    auto r = parse_bool(v);
    if (!r.ok()) return r.status;
    *target = *r != invert;
    return Status::Ok();
  };
  o.show = [shown] { return shown; };
  return o;
}

// HOST:PORT, kept as typed once it parses.
std::function<Result<std::string>(const std::string&)> host_port(bool allow_zero) {
  return [allow_zero](const std::string& v) -> Result<std::string> {
    auto r = parse_host_port(v, allow_zero);
    if (!r.ok()) return r.status;
    return v;
  };
}

Result<std::string> plain_text(const std::string& v) {
  for (char c : v)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return Status::Error(EINVAL, "contains a control character");
  return v;
}

// The S3 options; `stored` is true for mount/fsck, whose defaults are what the volume holds.
void add_s3_options(std::vector<OptionSpec>& v, S3Flags& f, bool stored) {
  auto dflt = [stored](const std::string& format_default) {
    return stored ? std::string("as formatted") : format_default;
  };
  v.push_back(opt_string("endpoint", "URL", "S3 endpoint http(s)://HOST[:PORT] for s3://BUCKET storage", &f.endpoint,
                         normalize_endpoint, stored ? "as formatted" : "https://s3.<region>.amazonaws.com"));
  v.push_back(opt_string("region", "NAME", "S3 region used in signatures", &f.region,
                         [](const std::string& r) -> Result<std::string> {
                           auto st = check_region(r);
                           if (!st.ok()) return st;
                           return r;
                         },
                         dflt("us-east-1")));
  v.push_back(opt_string("access-key", "ID", "S3 access key id", &f.access_key, plain_text,
                         stored ? "as stored by format --store-secret-in-meta, else $AWS_ACCESS_KEY_ID" : "$AWS_ACCESS_KEY_ID"));
  v.push_back(opt_string("secret-key", "KEY",
                         "S3 secret key; visible to `ps` on the command line: prefer the environment or the "
                         "config file",
                         &f.secret_key, plain_text,
                         stored ? "as stored by format --store-secret-in-meta, else $AWS_SECRET_ACCESS_KEY"
                                : "$AWS_SECRET_ACCESS_KEY"));
  v.push_back(opt_flag("virtual-hosted", "S3 requests to BUCKET.HOST/KEY instead of HOST/BUCKET/KEY",
                       &f.virtual_hosted, false, dflt("false (path-style)")));
  v.push_back(opt_flag("no-verify-tls", "do NOT verify the server's TLS certificate (insecure; warns loudly)",
                       &f.verify_tls, true, dflt("false")));
  v.push_back(opt_string("ca-file", "FILE", "PEM bundle of CAs trusted for https://", &f.ca_file,
                         normalize_local_path, dflt("$AWS_CA_BUNDLE or the system's")));
}

const char* const kMetaUrlHelp = "metadata database: sqlite3://PATH (e.g. sqlite3:///var/lib/s3l/meta.db)";

}  // namespace

std::string positional_display(const std::string& key) {
  std::string s = key;
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool parse_command(const std::string& word, Command& out) {
  for (Command c : {Command::format, Command::mount, Command::fsck, Command::gc, Command::status,
                    Command::shell, Command::gc_node, Command::upgrade})
    if (word == command_name(c)) {
      out = c;
      return true;
    }
  return false;
}

std::vector<OptionSpec> common_options(CommonOptions& common) {
  std::vector<OptionSpec> v;
  OptionSpec config = string_opt("config", "FILE", "read options from this INI file; the command line overrides it",
                                 &common.config_file, as_is);
  config.in_file = false;
  config.show = [] { return std::string("none"); };
  v.push_back(std::move(config));
  v.push_back(string_opt("log-level", "LEVEL", "trace, debug, info, warn, error, critical or off",
                         &common.log_level, [](const std::string& s) -> Result<std::string> {
                           auto st = check_log_level(s);
                           if (!st.ok()) return st;
                           return s;
                         }));
  return v;
}

CommandSpec command_spec(Command c, Invocation& inv) {
  CommandSpec s;
  s.command = c;
  switch (c) {
    case Command::format: {
      FormatOptions& o = inv.format;
      s.usage = "format <META-URL> <NAME> --storage URL [options]";
      s.summary = "create a new volume in an empty metadata database";
      s.description =
          "Creates the volume NAME: writes its settings to the metadata database and checks that the\n"
          "object store is writable. Refuses a database that already holds a volume unless --force.";
      s.positionals = {"meta-url", "name"};
      s.required = {"storage"};
      s.options.push_back(positional("meta-url", kMetaUrlHelp, &o.meta_url, normalize_meta_url));
      s.options.push_back(positional("name", "volume name: 1-63 letters, digits, '.', '_' or '-'", &o.name,
                                     [](const std::string& v) -> Result<std::string> {
                                       auto st = check_volume_name(v);
                                       if (!st.ok()) return st;
                                       return v;
                                     }));
      s.options.push_back(string_opt("storage", "URL",
                                     "object store: file:///ABS/DIR, http(s)://HOST[:PORT]/BUCKET or s3://BUCKET "
                                     "(required)",
                                     &o.storage, normalize_storage_url));
      s.options.push_back(size_opt("block-size", "size of data blocks: a power of two from 64K to 64M",
                                   &o.block_size, kMinBlockSize, kMaxBlockSize, true));
      s.options.push_back(flag_opt("force", 0, "overwrite the settings of an existing volume", &o.force));
      add_s3_options(s.options, o.s3, false);
      s.options.push_back(flag_opt("store-secret-in-meta", 0,
                                   "keep the S3 access and secret key in the volume settings, so that mount "
                                   "needs none (anyone who can read the metadata can read them)",
                                   &o.store_secret_in_meta));
      break;
    }
    case Command::mount: {
      MountOptions& o = inv.mount;
      s.usage = "mount <META-URL> <MOUNTPOINT> [options]";
      s.summary = "mount a volume";
      s.description =
          "Mounts the volume stored in META-URL at MOUNTPOINT (an existing directory). Without\n"
          "--foreground it runs in the background once the filesystem is mounted. SIGTERM, SIGINT or\n"
          "`fusermount3 -u MOUNTPOINT` unmount cleanly after all written data is committed.";
      s.positionals = {"meta-url", "mountpoint"};
      s.options.push_back(positional("meta-url", kMetaUrlHelp, &o.meta_url, normalize_meta_url));
      s.options.push_back(positional("mountpoint", "existing directory to mount on", &o.mountpoint,
                                     normalize_local_path));
      s.options.push_back(flag_opt("foreground", 'f', "stay in the foreground", &o.foreground));
      OptionSpec cache_dir = string_opt("cache-dir", "DIR", "directory of the local block cache", &o.cache_dir,
                                        normalize_local_path);
      cache_dir.show = [&o] { return o.cache_dir.empty() ? "~/.s3layerfs/cache/<volume uuid>" : o.cache_dir; };
      s.options.push_back(std::move(cache_dir));
      OptionSpec cache_size = size_opt("cache-size", "size of the local block cache; 0 disables it, else at least 16M",
                                       &o.cache_size, 0, UINT64_MAX, false);
      cache_size.set = [&o](const std::string& v) -> Status {
        auto r = parse_size(v);
        if (!r.ok()) return r.status;
        if (*r != 0 && *r < kMinCacheSize)
          return Status::Error(EINVAL, "must be 0 (no cache) or at least " + format_size(kMinCacheSize) + ", got " + v);
        o.cache_size = *r;
        return Status::Ok();
      };
      s.options.push_back(std::move(cache_size));
      s.options.push_back(size_opt("buffer-size", "memory for written data not yet uploaded: 16M to 1T",
                                   &o.buffer_size, kMinBufferSize, kMaxBufferSize, false));
      s.options.push_back(uint_opt("max-uploads", "concurrent block uploads: 1 to 256", &o.max_uploads, 1, kMaxUploads));
      s.options.push_back(uint_opt("fuse-threads", "threads serving FUSE requests: 1 to 256", &o.fuse_threads, 1,
                                   kMaxFuseThreads));
      s.options.push_back(seconds_opt("attr-timeout", "kernel cache time of attributes: 0 to 86400", &o.attr_timeout));
      s.options.push_back(seconds_opt("entry-timeout", "kernel cache time of names: 0 to 86400", &o.entry_timeout));
      s.options.push_back(uint_opt("heartbeat",
                                   "seconds between session heartbeats, 1 to 3600; a mount silent for 5 times "
                                   "this is taken for dead and what it held is recovered",
                                   &o.heartbeat_s, 1, 3600));
      s.options.push_back(uint_opt("compact-threshold",
                                   "committed slices in one chunk that make the compactor rewrite it as one: 2 to 100000",
                                   &o.compact_threshold, 2, 100000));
      s.options.push_back(uint_opt("compact-interval", "seconds between compaction passes: 1 to 86400",
                                   &o.compact_interval_s, 1, 86400));
      s.options.push_back(flag_opt("allow-other", 0, "let other users access the mount", &o.allow_other));
      s.options.push_back(flag_opt("no-default-permissions", 0,
                                   "do not let the kernel check permission bits", &o.default_permissions, true));
      s.options.push_back(uint_opt("readahead", "blocks read ahead of a sequential reader: 0 to 64",
                                   &o.readahead_blocks, 0, kMaxReadahead));
      s.options.push_back(uint_opt("meta-conns",
                                   "metadata database connections, 2 to 64: one writer and the rest readers "
                                   "on SQLite, half writers on PostgreSQL",
                                   &o.meta_conns, kMinMetaConns, kMaxMetaConns));
      s.options.push_back(flag_opt("no-bgjob", 0,
                                   "run no background work here (deleting dead blocks, cleaning stale sessions, "
                                   "compaction): a gc-node does it",
                                   &o.no_bgjob));
      OptionSpec gc_node = string_opt("gc-node", "HOST:PORT",
                                      "the gc-node to name fragmented chunks to (with --no-bgjob); "
                                      "reconnects when it restarts",
                                      &o.gc_node, host_port(false));
      gc_node.show = [&o] { return o.gc_node.empty() ? "none" : o.gc_node; };
      s.options.push_back(std::move(gc_node));
      OptionSpec listen = string_opt("listen", "HOST:PORT",
                                     "answer `s3layerfs-daemon shell` on this address (no authentication: "
                                     "use a loopback or private address)",
                                     &o.listen, host_port(true));
      listen.show = [&o] { return o.listen.empty() ? "none" : o.listen; };
      s.options.push_back(std::move(listen));
      add_s3_options(s.options, o.s3, true);
      break;
    }
    case Command::gc_node: {
      GcNodeOptions& o = inv.gc_node;
      s.usage = "gc-node [<META-URL>] --config FILE [options]";
      s.summary = "run a volume's background work (GC, compaction, session cleaning) as its own process";
      s.description =
          "Runs the deleter, the session cleaner and the compactor of the volume in META-URL (or\n"
          "meta-url = ... in [gc-node] of the config file) until SIGTERM or SIGINT, and listens on\n"
          "--listen for mounts started with --no-bgjob --gc-node HOST:PORT and for `shell`. Only ids\n"
          "and keys cross the network, never file data. Several gc-nodes on one volume are safe.";
      s.positionals = {"meta-url"};
      s.options.push_back(positional("meta-url", kMetaUrlHelp, &o.meta_url, normalize_meta_url));
      s.options.push_back(string_opt("listen", "HOST:PORT",
                                     "address for mounts and shell (no authentication: use a loopback or "
                                     "private address; port 0 = any free port)",
                                     &o.listen, host_port(true)));
      s.options.push_back(uint_opt("heartbeat", "seconds between session heartbeats, 1 to 3600",
                                   &o.heartbeat_s, 1, 3600));
      s.options.push_back(uint_opt("compact-threshold",
                                   "committed slices in one chunk that make the compactor rewrite it as one: 2 to 100000",
                                   &o.compact_threshold, 2, 100000));
      s.options.push_back(uint_opt("compact-interval", "seconds between compaction passes: 1 to 86400",
                                   &o.compact_interval_s, 1, 86400));
      s.options.push_back(uint_opt("meta-conns", "metadata database connections, 2 to 64",
                                   &o.meta_conns, kMinMetaConns, kMaxMetaConns));
      add_s3_options(s.options, o.s3, true);
      break;
    }
    case Command::shell: {
      ShellOptions& o = inv.shell;
      s.usage = "shell <HOST:PORT> [--run \"COMMAND ARGS\"] [options]";
      s.summary = "inspect a running gc-node or mount (--listen) over the network";
      s.description =
          "Connects to a gc-node or to a mount started with --listen and sends commands: `help`\n"
          "lists them, `status` shows the volume, session, attached mounts and background counters.\n"
          "With --run, sends one command and exits (0 on success, 1 if the command failed, 3 if the\n"
          "address cannot be reached); otherwise reads one command per line from standard input.";
      s.positionals = {"address"};
      s.options.push_back(positional("address", "HOST:PORT of the gc-node or mount", &o.address, host_port(false)));
      OptionSpec run = string_opt("run", "COMMAND", "one command with its arguments, e.g. \"status\"", &o.run,
                                  plain_text);
      run.show = [] { return std::string("none: read standard input"); };
      s.options.push_back(std::move(run));
      s.options.push_back(uint_opt("timeout", "seconds to wait for each answer: 1 to 3600", &o.timeout_s, 1, 3600));
      break;
    }
    case Command::fsck: {
      FsckOptions& o = inv.fsck;
      s.usage = "fsck <META-URL> [options]";
      s.summary = "check the consistency of a volume";
      s.description =
          "Checks the metadata of the volume in META-URL and that every referenced block exists.\n"
          "Exits 0 if the volume is consistent, 1 if problems were found. With --repair, fixes what\n"
          "is safe to fix (never file data), checks again and exits 0 only if nothing remains.";
      s.positionals = {"meta-url"};
      s.options.push_back(positional("meta-url", kMetaUrlHelp, &o.meta_url, normalize_meta_url));
      s.options.push_back(flag_opt("check-data", 0, "also read every block and verify its checksum", &o.check_data));
      s.options.push_back(flag_opt("repair", 0,
                                   "fix what is safe: link counts, block refcounts, counters, entries to missing "
                                   "inodes, unreachable inodes to /lost+found",
                                   &o.repair));
      OptionSpec expiry;
      expiry.name = "session-expiry";
      expiry.value_name = "SECONDS";
      expiry.help = "a session silent for longer (or for longer than the expiry it registered) is dead: its "
                    "orphans and pending slices are reported";
      expiry.set = [&o](const std::string& v) -> Status {
        auto r = parse_uint(v, 1, kMaxSessionExpiry);
        if (!r.ok()) return r.status;
        o.session_expiry_s = *r;
        return Status::Ok();
      };
      expiry.show = [&o] { return std::to_string(o.session_expiry_s); };
      s.options.push_back(std::move(expiry));
      add_s3_options(s.options, o.s3, true);
      break;
    }
    case Command::gc: {
      GcOptions& o = inv.gc;
      s.usage = "gc <META-URL> [options]";
      s.summary = "find (and with --delete remove) leaked objects in the store";
      s.description =
          "Lists the volume's objects under <volume>/chunks/ and reports those no block, dead block or\n"
          "pending slice references and that are older than --min-age, with counts and bytes.\n"
          "--delete removes them. Exits 0 if no leaked object is left, 1 if leaked objects were\n"
          "found and not deleted.";
      s.positionals = {"meta-url"};
      s.options.push_back(positional("meta-url", kMetaUrlHelp, &o.meta_url, normalize_meta_url));
      s.options.push_back(flag_opt("delete", 0, "remove the leaked objects found", &o.remove));
      OptionSpec min_age;
      min_age.name = "min-age";
      min_age.value_name = "SECONDS";
      min_age.help = "objects younger than this are never judged: their upload may be about to commit";
      min_age.set = [&o](const std::string& v) -> Status {
        auto r = parse_uint(v, 0, kMaxGcMinAge);
        if (!r.ok()) return r.status;
        o.min_age_s = *r;
        return Status::Ok();
      };
      min_age.show = [&o] { return std::to_string(o.min_age_s); };
      s.options.push_back(std::move(min_age));
      s.options.push_back(uint_opt("threads", "concurrent store requests: 1 to 256", &o.threads, 1, kMaxGcThreads));
      s.options.push_back(flag_opt("compact", 0, "first rewrite every chunk of two or more slices as one (compaction)",
                                   &o.compact));
      add_s3_options(s.options, o.s3, true);
      break;
    }
    case Command::status: {
      StatusOptions& o = inv.status;
      s.usage = "status <META-URL>";
      s.summary = "show a volume: settings, usage, sessions, background work waiting";
      s.description =
          "Reads the metadata in META-URL (the object store is not contacted) and prints the volume's\n"
          "settings, usage, every session with the age of its last heartbeat (stale ones marked), and\n"
          "how many dead blocks and fragmented chunks wait for the background workers.";
      s.positionals = {"meta-url"};
      s.options.push_back(positional("meta-url", kMetaUrlHelp, &o.meta_url, normalize_meta_url));
      break;
    }
    case Command::upgrade: {
      UpgradeOptions& o = inv.upgrade;
      s.usage = "upgrade <META-URL>";
      s.summary = "upgrade the metadata schema of a volume to this version";
      s.description =
          "Brings the metadata schema in META-URL up to the version this binary uses, in one\n"
          "transaction. mount and fsck refuse an older schema until this has run. Stop every\n"
          "client of the volume first: older binaries refuse the upgraded schema.";
      s.positionals = {"meta-url"};
      s.options.push_back(positional("meta-url", kMetaUrlHelp, &o.meta_url, normalize_meta_url));
      break;
    }
    default:
      break;   // callers only ask for implemented commands
  }
  return s;
}

std::string command_summary(Command c) {
  Invocation scratch;
  return command_spec(c, scratch).summary;
}

}  // namespace s3l::config
