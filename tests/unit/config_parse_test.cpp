// Command-line parsing of s3layerfs-daemon: every option of every command,
// positionals, help/version and the usage errors (no config file here; see
// config_file_test.cpp).
#define BOOST_TEST_MODULE config_parse
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "config/cli.hpp"

using namespace s3l::config;

namespace {

s3l::Result<Invocation> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "s3layerfs-daemon");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

// Parses, requires failure with EINVAL, returns the message.
std::string error_of(std::vector<std::string> args) {
  auto r = parse(args);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "expected a parse error");
  BOOST_TEST(r.err() == EINVAL);
  BOOST_TEST(r.msg().find('\n') == std::string::npos);   // one line
  return r.msg();
}

bool contains(const std::string& hay, const std::string& needle) {
  bool ok = hay.find(needle) != std::string::npos;
  if (!ok) BOOST_TEST_MESSAGE("'" << needle << "' not in: " << hay);
  return ok;
}

const std::string kMeta = "sqlite3:///var/lib/s3l/meta.db";

}  // namespace

BOOST_AUTO_TEST_CASE(mount_defaults) {
  auto r = parse({"mount", kMeta, "/mnt/s3l"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST((r->command == Command::mount));
  BOOST_TEST(!r->help);
  const MountOptions& m = r->mount;
  BOOST_TEST(m.meta_url == kMeta);
  BOOST_TEST(m.mountpoint == "/mnt/s3l");
  BOOST_TEST(!m.foreground);
  BOOST_TEST(m.cache_dir.empty());
  BOOST_TEST(m.cache_size == 10ull << 30);
  BOOST_TEST(m.buffer_size == 300ull << 20);
  BOOST_TEST(m.max_uploads == 20u);
  BOOST_TEST(m.fuse_threads == 16u);
  BOOST_TEST(m.attr_timeout == 1.0);
  BOOST_TEST(m.entry_timeout == 1.0);
  BOOST_TEST(!m.allow_other);
  BOOST_TEST(m.default_permissions);
  BOOST_TEST(m.readahead_blocks == 2u);
  BOOST_TEST(m.common.log_level == "warn");
  BOOST_TEST(r->common.log_level == "warn");
}

BOOST_AUTO_TEST_CASE(mount_every_option) {
  auto r = parse({"mount", "--foreground", "--cache-dir", "/var/cache/s3l/", "--cache-size", "20G", "--buffer-size",
                  "1G", "--max-uploads", "64", "--fuse-threads", "8", "--attr-timeout", "0.5", "--entry-timeout",
                  "0", "--allow-other", "--no-default-permissions", "--readahead", "0", "--log-level", "debug",
                  kMeta, "/mnt/s3l/"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  const MountOptions& m = r->mount;
  BOOST_TEST(m.meta_url == kMeta);
  BOOST_TEST(m.mountpoint == "/mnt/s3l");   // trailing slash removed
  BOOST_TEST(m.foreground);
  BOOST_TEST(m.cache_dir == "/var/cache/s3l");
  BOOST_TEST(m.cache_size == 20ull << 30);
  BOOST_TEST(m.buffer_size == 1ull << 30);
  BOOST_TEST(m.max_uploads == 64u);
  BOOST_TEST(m.fuse_threads == 8u);
  BOOST_TEST(m.attr_timeout == 0.5);
  BOOST_TEST(m.entry_timeout == 0.0);
  BOOST_TEST(m.allow_other);
  BOOST_TEST(!m.default_permissions);
  BOOST_TEST(m.readahead_blocks == 0u);
  BOOST_TEST(m.common.log_level == "debug");
  BOOST_TEST(r->common.log_level == "debug");
}

BOOST_AUTO_TEST_CASE(options_before_between_and_after_positionals) {
  auto r = parse({"mount", "-f", kMeta, "--buffer-size=64M", "/mnt/a", "--max-uploads=3"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->mount.foreground);
  BOOST_TEST(r->mount.buffer_size == 64ull << 20);
  BOOST_TEST(r->mount.max_uploads == 3u);
  BOOST_TEST(r->mount.mountpoint == "/mnt/a");
  // Common options may also come before the command.
  r = parse({"--log-level", "info", "fsck", kMeta});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->fsck.common.log_level == "info");
  // The last of a repeated option wins.
  r = parse({"mount", kMeta, "/mnt/a", "--max-uploads", "3", "--max-uploads", "5"});
  BOOST_TEST(r->mount.max_uploads == 5u);
  // After "--" everything is positional.
  r = parse({"mount", "--", kMeta, "-odd-dir"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->mount.mountpoint.size() > 8);
  BOOST_TEST(r->mount.mountpoint.substr(r->mount.mountpoint.size() - 9) == "/-odd-dir");
}

BOOST_AUTO_TEST_CASE(flags_take_explicit_booleans) {
  auto r = parse({"mount", kMeta, "/m", "--foreground=false", "--allow-other=yes", "--no-default-permissions=0"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(!r->mount.foreground);
  BOOST_TEST(r->mount.allow_other);
  BOOST_TEST(r->mount.default_permissions);
  BOOST_TEST(contains(error_of({"mount", kMeta, "/m", "--foreground=maybe"}), "--foreground: bad boolean 'maybe'"));
}

BOOST_AUTO_TEST_CASE(relative_paths_become_absolute) {
  // A daemonized mount runs from "/", so relative paths must be resolved at parse time.
  auto r = parse({"mount", "sqlite3://rel/meta.db", "mnt", "--cache-dir", "cache"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->mount.meta_url.rfind("sqlite3:///", 0) == 0);
  BOOST_TEST(r->mount.mountpoint.front() == '/');
  BOOST_TEST(r->mount.cache_dir.front() == '/');
}

BOOST_AUTO_TEST_CASE(format_every_option) {
  auto r = parse({"format", kMeta, "vol1", "--storage", "file:///var/lib/s3l/objects", "--block-size", "1M",
                  "--force", "--log-level", "error"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST((r->command == Command::format));
  const FormatOptions& f = r->format;
  BOOST_TEST(f.meta_url == kMeta);
  BOOST_TEST(f.name == "vol1");
  BOOST_TEST(f.storage == "file:///var/lib/s3l/objects");
  BOOST_TEST(f.block_size == 1ull << 20);
  BOOST_TEST(f.force);
  BOOST_TEST(f.common.log_level == "error");

  r = parse({"format", kMeta, "vol1", "--storage=file:///o"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->format.block_size == 4ull << 20);
  BOOST_TEST(!r->format.force);
}

BOOST_AUTO_TEST_CASE(fsck_every_option) {
  auto r = parse({"fsck", kMeta});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST((r->command == Command::fsck));
  BOOST_TEST(r->fsck.meta_url == kMeta);
  BOOST_TEST(!r->fsck.check_data);
  r = parse({"fsck", "--check-data", kMeta});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->fsck.check_data);
  BOOST_TEST(!r->fsck.repair);
  BOOST_TEST(r->fsck.session_expiry_s == 60u);
  r = parse({"fsck", kMeta, "--repair", "--session-expiry", "300"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->fsck.repair);
  BOOST_TEST(r->fsck.session_expiry_s == 300u);
  BOOST_TEST(contains(error_of({"fsck", kMeta, "--session-expiry", "0"}), "--session-expiry"));
  BOOST_TEST(contains(error_of({"fsck", kMeta, "--session-expiry", "1.5"}), "--session-expiry"));
  BOOST_TEST(contains(error_of({"fsck", kMeta, "--session-expiry", "604801"}), "--session-expiry"));
}

BOOST_AUTO_TEST_CASE(value_bounds) {
  const std::vector<std::string> m = {"mount", kMeta, "/m"};
  auto with = [&](std::vector<std::string> extra) {
    auto a = m;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  BOOST_TEST(parse(with({"--buffer-size", "16M"})).ok());
  BOOST_TEST(contains(error_of(with({"--buffer-size", "15M"})), "mount: --buffer-size: must be between 16M and 1T, got 15M"));
  BOOST_TEST(contains(error_of(with({"--buffer-size", "2T"})), "got 2T"));
  BOOST_TEST(contains(error_of(with({"--buffer-size", "lots"})), "--buffer-size: bad size 'lots'"));
  BOOST_TEST(parse(with({"--cache-size", "0"})).ok());
  BOOST_TEST(contains(error_of(with({"--cache-size", "1M"})), "--cache-size: must be 0 (no cache) or at least 16M"));
  BOOST_TEST(parse(with({"--max-uploads", "256"})).ok());
  BOOST_TEST(contains(error_of(with({"--max-uploads", "0"})), "--max-uploads: must be in [1, 256], got 0"));
  BOOST_TEST(contains(error_of(with({"--max-uploads", "257"})), "got 257"));
  BOOST_TEST(contains(error_of(with({"--max-uploads", "ten"})), "--max-uploads: bad number 'ten'"));
  BOOST_TEST(contains(error_of(with({"--fuse-threads", "0"})), "--fuse-threads: must be in [1, 256]"));
  BOOST_TEST(contains(error_of(with({"--fuse-threads", "1000"})), "--fuse-threads: must be in [1, 256]"));
  BOOST_TEST(contains(error_of(with({"--attr-timeout", "-1"})), "--attr-timeout: must be between 0 and 86400"));
  BOOST_TEST(contains(error_of(with({"--entry-timeout", "nan"})), "--entry-timeout: bad number of seconds 'nan'"));
  BOOST_TEST(contains(error_of(with({"--readahead", "65"})), "--readahead: must be in [0, 64]"));
  BOOST_TEST(contains(error_of(with({"--log-level", "loud"})), "--log-level: bad log level 'loud'"));
  BOOST_TEST(contains(error_of(with({"--cache-dir="})), "--cache-dir: empty value"));

  const std::vector<std::string> f = {"format", kMeta, "v", "--storage", "file:///o", "--block-size"};
  for (const char* good : {"64K", "128K", "4M", "64M", "65536"}) {
    auto a = f;
    a.push_back(good);
    BOOST_TEST(parse(a).ok());
  }
  for (const char* bad : {"32K", "128M", "3M", "100000", "0"}) {
    auto a = f;
    a.push_back(bad);
    BOOST_TEST(contains(error_of(a), "format: --block-size: must be"));
  }
  BOOST_TEST(contains(error_of({"format", kMeta, "v", "--storage", "file://rel"}), "--storage: storage URL 'file://rel'"));
  BOOST_TEST(contains(error_of({"format", kMeta, "v@l", "--storage", "file:///o"}), "format: NAME: bad volume name 'v@l'"));
  BOOST_TEST(contains(error_of({"mount", "mysql://x", "/m"}), "mount: META-URL: unsupported metadata URL scheme"));
  BOOST_TEST(contains(error_of({"mount", "", "/m"}), "mount: META-URL: empty value"));
}

BOOST_AUTO_TEST_CASE(unknown_and_malformed_options) {
  BOOST_TEST(error_of({"mount", kMeta, "/m", "--x"}) == "unknown option --x for mount");
  BOOST_TEST(error_of({"mount", kMeta, "/m", "--x=3"}) == "unknown option --x for mount");
  BOOST_TEST(error_of({"mount", kMeta, "/m", "-x"}) == "unknown option -x for mount");
  BOOST_TEST(error_of({"mount", kMeta, "/m", "-fx"}) == "unknown option -fx for mount");
  BOOST_TEST(error_of({"fsck", kMeta, "--force"}) == "unknown option --force for fsck");           // format's option
  BOOST_TEST(error_of({"format", kMeta, "v", "--storage", "file:///o", "-f"}) == "unknown option -f for format");
  BOOST_TEST(error_of({"mount", kMeta, "/m", "--meta-url", "x"}) == "unknown option --meta-url for mount");
  BOOST_TEST(error_of({"mount", kMeta, "/m", "--version"}) == "unknown option --version for mount");
  BOOST_TEST(contains(error_of({"--bogus", "mount"}), "unknown option --bogus"));
  // A value option without its value.
  BOOST_TEST(error_of({"mount", kMeta, "/m", "--buffer-size"}) == "option --buffer-size needs a value (SIZE)");
  BOOST_TEST(error_of({"mount", kMeta, "/m", "--cache-dir", "--foreground"}) == "option --cache-dir needs a value (DIR)");
  BOOST_TEST(error_of({"--config"}) == "option --config needs a value (FILE)");
  // Negative numbers are values (then rejected by their range), not options.
  BOOST_TEST(contains(error_of({"mount", kMeta, "/m", "--readahead", "-1"}), "--readahead: must be in [0, 64], got -1"));
}

BOOST_AUTO_TEST_CASE(positionals) {
  BOOST_TEST(error_of({"mount"}) == "mount: missing META-URL argument (or meta-url = ... in [mount] of the config file)");
  BOOST_TEST(contains(error_of({"mount", kMeta}), "mount: missing MOUNTPOINT argument"));
  BOOST_TEST(contains(error_of({"format", kMeta, "--storage", "file:///o"}), "format: missing NAME argument"));
  BOOST_TEST(contains(error_of({"format", kMeta, "v"}), "format: missing --storage"));
  BOOST_TEST(contains(error_of({"fsck"}), "fsck: missing META-URL argument"));
  BOOST_TEST(contains(error_of({"mount", kMeta, "/m", "/extra"}), "unexpected argument '/extra' for mount"));
  BOOST_TEST(contains(error_of({"fsck", kMeta, kMeta}), "unexpected argument '" + kMeta + "' for fsck"));
  BOOST_TEST(contains(error_of({"fsck", kMeta, "--", "--check-data"}), "unexpected argument '--check-data' for fsck"));
}

BOOST_AUTO_TEST_CASE(commands) {
  BOOST_TEST(contains(error_of({}), "missing command"));
  BOOST_TEST(contains(error_of({"--log-level", "info"}), "missing command"));
  BOOST_TEST(error_of({"frob"}) == "unknown command 'frob' (expected format, mount, fsck, gc, status, shell, gc-node or upgrade)");
  BOOST_TEST(contains(error_of({"MOUNT"}), "unknown command 'MOUNT'"));
  BOOST_TEST(contains(error_of({"--log-level", "fsck"}), "--log-level: bad log level 'fsck'"));
  auto r = parse({"status", kMeta});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST((r->command == Command::status));
  BOOST_TEST(r->status.meta_url == kMeta);
  BOOST_TEST(contains(error_of({"status", kMeta, "extra"}), "unexpected argument 'extra' for status"));
}

BOOST_AUTO_TEST_CASE(gc_node_shell_and_mount_network_options) {
  auto r = parse({"gc-node", kMeta});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->gc_node.listen == "127.0.0.1:7420");
  BOOST_TEST(r->gc_node.compact_threshold == 24u);
  BOOST_TEST(contains(error_of({"gc-node", kMeta, "--listen", "localhost:70000"}), "bad address 'localhost:70000': port"));
  BOOST_TEST(contains(error_of({"gc-node", kMeta, "--listen", ":80"}), "expected HOST:PORT"));

  r = parse({"shell", "127.0.0.1:7420", "--run", "compact 5 0"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->shell.address == "127.0.0.1:7420");
  BOOST_TEST(r->shell.run == "compact 5 0");
  BOOST_TEST(r->shell.timeout_s == 10u);
  BOOST_TEST(contains(error_of({"shell"}), "shell: missing ADDRESS argument"));
  BOOST_TEST(contains(error_of({"shell", "127.0.0.1:0"}), "bad address '127.0.0.1:0'"));   // 0 only to listen

  r = parse({"mount", kMeta, "/m"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(!r->mount.no_bgjob);
  BOOST_TEST(r->mount.gc_node.empty());
  BOOST_TEST(r->mount.listen.empty());
  r = parse({"mount", kMeta, "/m", "--no-bgjob", "--gc-node", "gc.example:7420", "--listen", "127.0.0.1:0"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->mount.no_bgjob);
  BOOST_TEST(r->mount.gc_node == "gc.example:7420");
  BOOST_TEST(r->mount.listen == "127.0.0.1:0");
  BOOST_TEST(contains(error_of({"mount", kMeta, "/m", "--gc-node", "gc.example"}), "--gc-node: bad address"));
}

BOOST_AUTO_TEST_CASE(gc_options) {
  auto r = parse({"gc", kMeta});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(command_implemented(Command::gc));
  BOOST_TEST(r->gc.meta_url == kMeta);
  BOOST_TEST(!r->gc.remove);
  BOOST_TEST(r->gc.min_age_s == 3600u);
  BOOST_TEST(r->gc.threads == 8u);
  BOOST_TEST(!r->gc.compact);
  r = parse({"gc", "--delete", "--min-age", "0", "--threads", "3", kMeta, "--compact", "--region", "eu-1"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->gc.remove);
  BOOST_TEST(r->gc.min_age_s == 0u);
  BOOST_TEST(r->gc.threads == 3u);
  BOOST_TEST(r->gc.compact);
  BOOST_TEST((r->gc.s3.region && *r->gc.s3.region == "eu-1"));
  BOOST_TEST(contains(error_of({"gc", kMeta, "--min-age", "-1"}), "gc: --min-age"));
  BOOST_TEST(contains(error_of({"gc", kMeta, "--min-age", "1.5"}), "gc: --min-age"));
  BOOST_TEST(contains(error_of({"gc", kMeta, "--threads", "0"}), "gc: --threads"));
  BOOST_TEST(contains(error_of({"gc", kMeta, "--threads", "257"}), "gc: --threads"));
  BOOST_TEST(contains(error_of({"gc"}), "gc: missing META-URL argument"));
  BOOST_TEST(contains(error_of({"gc", kMeta, "--check-data"}), "unknown option --check-data for gc"));
}

BOOST_AUTO_TEST_CASE(help_and_version) {
  auto r = parse({"--help"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->help);
  BOOST_TEST((r->command == Command::none));
  r = parse({"-h"});
  BOOST_TEST(r->help);
  r = parse({"--version"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->version);
  BOOST_TEST(!r->help);
  BOOST_TEST(contains(error_of({"--version", "mount"}), "--version takes no command"));
  // --help after a command wins over missing or bad arguments.
  r = parse({"mount", "--help"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->help);
  BOOST_TEST((r->command == Command::mount));
  r = parse({"format", "--bogus", "-h", "--block-size", "3M"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST((r->help && r->command == Command::format));
  r = parse({"gc", "--help"});
  BOOST_TEST((r->help && r->command == Command::gc));
  // ...but not over an unknown command.
  BOOST_TEST(contains(error_of({"frob", "--help"}), "unknown command 'frob'"));
  // After "--", "--help" is a positional.
  BOOST_TEST(contains(error_of({"fsck", kMeta, "--", "--help"}), "unexpected argument '--help'"));
}

BOOST_AUTO_TEST_CASE(help_text_lists_every_option_with_its_default) {
  const std::string top = help_text(Command::none);
  for (const char* s : {"format", "mount", "fsck", "gc", "status", "shell", "gc-node", "--config FILE",
                        "--log-level LEVEL", "(default: warn)", "--help", "--version", "Exit codes"})
    BOOST_TEST(contains(top, s));

  const std::string mount = help_text(Command::mount);
  for (const char* s : {"mount <META-URL> <MOUNTPOINT>", "-f, --foreground", "(default: false)",
                        "--cache-dir DIR", "~/.s3layerfs/cache/<volume uuid>", "--cache-size SIZE", "(default: 10G)",
                        "--buffer-size SIZE", "(default: 300M)", "--max-uploads N", "(default: 20)",
                        "--fuse-threads N", "(default: 16)", "--attr-timeout SECONDS", "(default: 1)",
                        "--entry-timeout SECONDS", "--allow-other", "--no-default-permissions", "--readahead N",
                        "(default: 2)", "--config FILE", "--log-level LEVEL", "(default: warn)"})
    BOOST_TEST(contains(mount, s));

  const std::string format = help_text(Command::format);
  for (const char* s : {"format <META-URL> <NAME> --storage URL", "--storage URL", "(required)", "--block-size SIZE",
                        "(default: 4M)", "--force", "NAME"})
    BOOST_TEST(contains(format, s));

  const std::string fsck = help_text(Command::fsck);
  for (const char* s : {"fsck <META-URL>", "--check-data", "(default: false)", "--repair", "--session-expiry SECONDS",
                        "(default: 60)"})
    BOOST_TEST(contains(fsck, s));

  const std::string gc = help_text(Command::gc);
  for (const char* s : {"gc <META-URL>", "--delete", "--min-age SECONDS", "(default: 3600)", "--threads N",
                        "(default: 8)", "--compact", "(compaction)", "--endpoint URL"})
    BOOST_TEST(contains(gc, s));
  BOOST_TEST(contains(help_text(Command::status), "status <META-URL>"));
}
