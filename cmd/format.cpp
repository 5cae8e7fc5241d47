// s3layerfs-daemon format: write versioned volume settings into the database
// and a marker object into the store. Refuses a formatted volume without --force.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <regex>

#include "cmd/commands.hpp"
#include "cmd/common.hpp"
#include "store/block_key.hpp"
#include "util/clock.hpp"

namespace s3l::cmd {

namespace {

std::string new_uuid() {
  std::ifstream in("/proc/sys/kernel/random/uuid");
  std::string u;
  std::getline(in, u);
  return u;
}

std::string settings_json(const meta::VolumeSettings& s) {
  return "{\"format_version\": " + std::to_string(s.format_version) + ", \"name\": \"" + s.name +
         "\", \"uuid\": \"" + s.uuid + "\", \"block_size\": " + std::to_string(s.block_size) +
         ", \"chunk_size\": " + std::to_string(s.chunk_size) + ", \"created_ns\": " +
         std::to_string(s.created_ns) + "}\n";
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

}  // namespace

int run_format(const config::FormatOptions& o) {
  // Volume names become object key prefixes: keep them short and plain.
  static const std::regex name_re("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$");
  if (!std::regex_match(o.name, name_re))
    return fail("format", "volume name '" + o.name +
                              "' must be 1-63 characters of letters, digits, '.', '_' or '-'",
                kExitUsage);
  std::string url = absolute_meta_url(o.meta_url);
  std::string db_file = sqlite_file(url);
  struct stat st;
  bool db_existed = !db_file.empty() && ::stat(db_file.c_str(), &st) == 0;

  auto m = meta::open_meta(url, true);
  if (!m.ok()) return fail("format", m.msg());
  auto existing = m.value->load_settings();
  if (existing.ok() && !o.force)
    return fail("format", "volume '" + existing->name + "' (uuid " + existing->uuid +
                              ") is already formatted in " + o.meta_url +
                              "; use --force to overwrite it");
  if (!existing.ok() && existing.err() != ENODATA) {
    if (!db_existed) remove_created_db(db_file);
    return fail("format", existing.msg());
  }

  meta::VolumeSettings s;
  s.name = o.name;
  s.uuid = new_uuid();
  s.block_size = o.block_size;
  s.chunk_size = meta::kDefaultChunkSize;
  s.storage_url = o.storage;
  s.created_ns = now_ns();

  // The store must take a write before the database says the volume exists.
  auto store = store::open_store(o.storage, true);
  Status probe = store.status;
  if (probe.ok()) {
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
  if (!probe.ok()) {
    m.value.reset();
    if (!db_existed) remove_created_db(db_file);
    return fail("format", "object store " + o.storage + ": " + probe.msg);
  }

  Status f = m.value->format(s, ::getuid(), ::getgid(), o.force);
  if (!f.ok()) return fail("format", f.msg);
  std::string marker = settings_json(s);
  Status mk = store.value->put(store::settings_key(s.name), marker.data(), marker.size());
  if (!mk.ok()) return fail("format", "writing the volume marker object: " + mk.msg);
  std::cout << "formatted volume '" << s.name << "' (uuid " << s.uuid << ", block size "
            << s.block_size << ", chunk size " << s.chunk_size << ") in " << o.meta_url
            << ", data in " << store.value->describe() << std::endl;
  return kExitOk;
}

}  // namespace s3l::cmd
