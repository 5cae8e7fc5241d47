// s3layerfs-daemon format: write versioned volume settings into the database
// and a marker object into the store. Refuses a formatted volume without
// --force, and a store (bucket or directory) that holds another volume.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>

#include "cmd/commands.hpp"
#include "cmd/common.hpp"
#include "store/block_key.hpp"
#include "store/s3_store.hpp"
#include "util/clock.hpp"

namespace s3l::cmd {

namespace {

std::string new_uuid() {
  std::ifstream in("/proc/sys/kernel/random/uuid");
  std::string u;
  std::getline(in, u);
  return u;
}

// The marker object. Never holds a secret: the store may be readable by
// more people than the metadata.
std::string settings_json(const meta::VolumeSettings& s) {
  return "{\"format_version\": " + std::to_string(s.format_version) + ", \"name\": \"" + s.name +
         "\", \"uuid\": \"" + s.uuid + "\", \"block_size\": " + std::to_string(s.block_size) +
         ", \"chunk_size\": " + std::to_string(s.chunk_size) + ", \"created_ns\": " +
         std::to_string(s.created_ns) + ", \"key_layout\": " + std::to_string(store::kKeyLayoutVersion) + "}\n";
}

// The "uuid" of a marker written by settings_json; "" if there is none.
std::string marker_uuid(const std::string& json) {
  static const std::regex re("\"uuid\"\\s*:\\s*\"([^\"]*)\"");
  std::smatch m;
  return std::regex_search(json, m, re) ? m[1].str() : "";
}

// The SQLite file a sqlite3:// URL names, or "" for other engines.
std::string sqlite_file(const std::string& url) {
  const std::string scheme = "sqlite3://";
  if (url.rfind(scheme, 0) != 0) return "";
  std::string p = url.substr(scheme.size());
  return p.substr(0, p.find('?'));
}

// Removes a database file this run created, so a failed format leaves nothing.
void remove_created_db(const std::string& file) {
  if (file.empty()) return;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((file + suffix).c_str());
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The store must not hold another volume: two volumes in one bucket are fine
// for the key layout, but a second database formatting the same name would
// overwrite the first one's blocks. `replaced_uuid` is the volume this
// database held (erased by --force): its marker is no obstacle.
// Returns "" if the store is free for `name`, else why not.
Result<std::string> other_volume_in_store(store::ObjectStore& st, const std::string& name, bool force,
                                          const std::string& replaced_uuid, std::string& note) {
  auto dirs = st.list_top_dirs();
  if (!dirs.ok()) return Status::Error(dirs.err(), "looking for other volumes: " + dirs.msg());
  for (const auto& d : *dirs) {
    auto marker = st.get(store::settings_key(d));
    if (!marker.ok()) {
      if (marker.err() == ENOENT) continue;   // not a volume's prefix
      return Status::Error(marker.err(), "reading the marker of volume '" + d + "': " + marker.msg());
    }
    std::string uuid = marker_uuid(*marker);
    if (!replaced_uuid.empty() && uuid == replaced_uuid) {
      if (d != name)
        note = "the objects of the replaced volume '" + d + "' are still in the store under '" + d +
               "/' (delete them by hand)";
      continue;
    }
    std::string who = "volume '" + d + "' (uuid " + (uuid.empty() ? "unknown" : uuid) + ")";
    if (d == name) {
      if (force) continue;   // the user asked to overwrite this name
      return "the store already holds " + who +
             ", perhaps of another metadata database; use --force to overwrite its objects";
    }
    return "the store already holds " + who + "; give each volume its own bucket or directory";
  }
  return std::string();
}

}  // namespace

int run_format(const config::FormatOptions& o) {
  // Volume names become object key prefixes: keep them short and plain.
  static const std::regex name_re("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$");
  if (!std::regex_match(o.name, name_re))
    return fail("format", "volume name '" + o.name +
                              "' must be 1-63 characters of letters, digits, '.', '_' or '-'",
                kExitUsage);
  const bool s3 = is_s3_url(o.storage);
  if (Status f = check_s3_flags_apply(o.storage, o.s3); !f.ok()) return fail("format", f.msg, kExitUsage);
  if (o.store_secret_in_meta && !s3)
    return fail("format", "--store-secret-in-meta only applies to S3 storage, not to " + o.storage, kExitUsage);

  meta::VolumeSettings s;
  s.name = o.name;
  s.uuid = new_uuid();
  s.block_size = o.block_size;
  s.chunk_size = meta::kDefaultChunkSize;
  s.storage_url = o.storage;
  s.created_ns = now_ns();
  if (s3) {
    // Stored so that mount needs nothing but credentials; the effective
    // region is written out so a later default cannot change it.
    store::StoreOptions defaults;
    s.s3_endpoint = o.s3.endpoint.value_or("");
    s.s3_region = o.s3.region.value_or(defaults.region);
    s.s3_virtual_hosted = o.s3.virtual_hosted.value_or(false);
    s.s3_verify_tls = o.s3.verify_tls.value_or(true);
    s.s3_ca_file = o.s3.ca_file.value_or("");
    auto loc = store::parse_s3_url(o.storage, store_options(s, o.s3));
    if (!loc.ok()) return fail("format", loc.msg(), kExitUsage);
    if (o.store_secret_in_meta) {
      s.s3_access_key = o.s3.access_key.value_or(env("AWS_ACCESS_KEY_ID"));
      s.s3_secret_key = o.s3.secret_key.value_or(env("AWS_SECRET_ACCESS_KEY"));
      if (s.s3_access_key.empty() || s.s3_secret_key.empty())
        return fail("format", "--store-secret-in-meta: no credentials to store (give --access-key and "
                              "--secret-key, the config file keys, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
                    kExitUsage);
    }
  }

  std::string url = absolute_meta_url(o.meta_url);
  std::string db_file = sqlite_file(url);
  struct stat st;
  bool db_existed = !db_file.empty() && ::stat(db_file.c_str(), &st) == 0;
  // Every failure from here on leaves a database this run created removed.
  std::unique_ptr<meta::Meta> meta;
  auto failed = [&](const std::string& msg) {
    meta.reset();
    if (!db_existed) remove_created_db(db_file);
    return fail("format", msg);
  };

  auto m = meta::open_meta(url, true);
  if (!m.ok()) return failed(m.msg());
  meta = std::move(m.value);
  auto existing = meta->load_settings();
  if (existing.ok() && !o.force)
    return fail("format", "volume '" + existing->name + "' (uuid " + existing->uuid +
                              ") is already formatted in " + o.meta_url +
                              "; use --force to overwrite it");
  if (!existing.ok() && existing.err() != ENODATA) return failed(existing.msg());
  const std::string replaced_uuid = existing.ok() ? existing->uuid : "";

  // The store must take a write before the database says the volume exists.
  // Credentials: the flags, else the environment (store_options leaves them
  // empty and the store reads AWS_*).
  auto store = store::open_store(o.storage, true, store_options(s, o.s3));
  if (!store.ok()) return failed(store_error(o.storage, store.status));
  std::string note;
  auto other = other_volume_in_store(**store, o.name, o.force, replaced_uuid, note);
  if (!other.ok()) return failed(store_error(o.storage, other.status));
  if (!other->empty()) return failed(store.value->describe() + ": " + *other);
  Status probe;
  {
    const std::string key = o.name + "/probe-" + s.uuid;
    probe = store.value->put(key, "probe", 5);
    if (probe.ok()) {
      auto got = store.value->get(key);
      if (!got.ok()) probe = got.status;
      else if (*got != "probe") probe = Status::Error(EIO, "probe object read back wrong");
      Status rm = store.value->remove(key);
      if (probe.ok()) probe = rm;
    }
  }
  if (!probe.ok()) return failed(store_error(o.storage, probe));

  Status f = meta->format(s, ::getuid(), ::getgid(), o.force);
  if (!f.ok()) return failed(f.msg);
  std::string marker = settings_json(s);
  Status mk = store.value->put(store::settings_key(s.name), marker.data(), marker.size());
  if (!mk.ok()) return failed(store_error(o.storage, Status::Error(mk.err, "writing the volume marker object: " + mk.msg)));
  std::cout << "formatted volume '" << s.name << "' (uuid " << s.uuid << ", block size "
            << s.block_size << ", chunk size " << s.chunk_size << ") in " << o.meta_url
            << ", data in " << store.value->describe() << std::endl;
  if (o.store_secret_in_meta)
    std::cout << "the S3 access and secret key are stored in the volume settings: protect " << o.meta_url
              << " like the secret itself" << std::endl;
  if (!note.empty()) std::cout << "note: " << note << std::endl;
  return kExitOk;
}

}  // namespace s3l::cmd
