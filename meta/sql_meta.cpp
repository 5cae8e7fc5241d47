// SqlMeta: opening, volume settings, and the helpers every concern shares.
#include "meta/sql_meta.hpp"

#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <random>

#include "util/clock.hpp"

namespace s3l::meta {

namespace {
// Every table of the schema, for format --force. Kept in sync with meta/sql/*_schema.sql.
const char* const kTables[] = {"schema_version", "settings", "counters", "inodes",  "entries",
                               "symlinks",       "chunks",   "slices",   "blocks",  "slice_blocks",
                               "sessions",       "orphans",  "dead_blocks", "xattrs", "locks", "leases"};

bool is_power_of_two(uint64_t v) { return v && !(v & (v - 1)); }

Status validate(const VolumeSettings& s) {
  if (s.format_version != kFormatVersion)
    return Status::Error(EINVAL, "format version " + std::to_string(s.format_version) +
                                     " is not the one this binary writes (" +
                                     std::to_string(kFormatVersion) + ")");
  if (s.name.empty()) return Status::Error(EINVAL, "volume name is empty");
  if (s.uuid.empty()) return Status::Error(EINVAL, "volume uuid is empty");
  if (!is_power_of_two(s.block_size) || s.block_size < 4096 || s.block_size > (1ull << 30))
    return Status::Error(EINVAL, "block size " + std::to_string(s.block_size) +
                                     " must be a power of two between 4 KiB and 1 GiB");
  if (s.chunk_size < s.block_size || s.chunk_size % s.block_size != 0 || s.chunk_size > (1ull << 40))
    return Status::Error(EINVAL, "chunk size " + std::to_string(s.chunk_size) +
                                     " must be a multiple of the block size " +
                                     std::to_string(s.block_size) + " and at most 1 TiB");
  return Status::Ok();
}

bool parse_u64(const std::string& v, uint64_t& out) {
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::stoull(v);
  return true;
}
}  // namespace

Result<std::unique_ptr<Meta>> open_meta(const std::string& url, bool create) {
  auto c = open_sql_conn(url, create);
  if (!c.ok()) return c.status;
  return std::unique_ptr<Meta>(new SqlMeta(std::move(*c)));
}

SqlMeta::SqlMeta(std::unique_ptr<SqlConn> conn) : conn_(std::move(conn)) {}

bool SqlMeta::Inode::is_dir() const { return (attr.mode & S_IFMT) == S_IFDIR; }

Status check_name(const std::string& name) {
  if (name.empty()) return Status::Error(EINVAL, "empty file name");
  if (name.find('/') != std::string::npos || name.find('\0') != std::string::npos)
    return Status::Error(EINVAL, "file name contains '/' or NUL");
  if (name.size() > kMaxNameLen)
    return Status::Error(ENAMETOOLONG, "file name of " + std::to_string(name.size()) +
                                           " bytes is longer than " + std::to_string(kMaxNameLen));
  return Status::Ok();
}

void retry_pause(const char* what, int attempt, const DbError& e) {
  // Full jitter over an exponentially growing window: 2, 4, ... 100 ms.
  thread_local std::minstd_rand rng{std::random_device{}()};
  const int window_ms = std::min(100, 1 << std::min(attempt, 7));
  const int pause_us = std::uniform_int_distribution<int>(0, window_ms * 1000)(rng);
  spdlog::debug("{}: attempt {} failed ({}); retrying in {} us", what, attempt, e.what(), pause_us);
  std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
}

Status gave_up(const char* what, int attempts, const DbError& e) {
  std::string msg = std::string(what) + ": gave up after " + std::to_string(attempts) +
                    " attempts, the last one failed with: " + e.what();
  spdlog::error("{}", msg);
  return Status::Error(EIO, msg);
}

void SqlMeta::after_rollback() {
  for (IdBatch* b : {&inode_ids_, &slice_ids_}) {
    if (b->reserved_in_tx) *b = IdBatch{};
  }
}

// ---- volume ---------------------------------------------------------------

Status SqlMeta::format(const VolumeSettings& s_in, uint32_t root_uid, uint32_t root_gid, bool force) {
  VolumeSettings s = s_in;
  if (s.created_ns == 0) s.created_ns = now_ns();
  if (Status v = validate(s); !v.ok()) return v;
  Status st = run("format", Tx::kWrite, [&]() -> Status {
    if (conn_->has_table("schema_version")) {
      bool formatted = Query(*conn_, "SELECT 1 FROM schema_version").next();
      if (formatted && !force) {
        std::string old;
        if (conn_->has_table("settings")) {
          Query q(*conn_, "SELECT value FROM settings WHERE key = 'name'");
          if (q.next()) old = " (volume '" + q.str(0) + "')";
        }
        return Status::Error(EEXIST, conn_->describe() + " is already formatted" + old +
                                         "; use --force to erase it");
      }
    }
    conn_->clear_statements();   // DDL follows: no prepared statement may survive it
    for (const char* t : kTables) conn_->exec(std::string("DROP TABLE IF EXISTS ") + t);
    conn_->exec(conn_->schema_ddl());
    Query(*conn_, "INSERT INTO schema_version (id, version) VALUES (1, $1)").bind(1, kSchemaVersion).run();
    const std::pair<const char*, std::string> kv[] = {
        {"format_version", std::to_string(s.format_version)},
        {"name", s.name},
        {"uuid", s.uuid},
        {"block_size", std::to_string(s.block_size)},
        {"chunk_size", std::to_string(s.chunk_size)},
        {"storage_url", s.storage_url},
        {"created", std::to_string(s.created_ns)},
    };
    for (const auto& [k, v] : kv)
      Query(*conn_, "INSERT INTO settings (key, value) VALUES ($1, $2)").text(1, k).text(2, v).run();
    const std::pair<const char*, std::string> optional_kv[] = {
        {"s3_endpoint", s.s3_endpoint},
        {"s3_region", s.s3_region},
        {"s3_virtual_hosted", s.s3_virtual_hosted ? "1" : "0"},
        {"s3_verify_tls", s.s3_verify_tls ? "1" : "0"},
        {"s3_ca_file", s.s3_ca_file},
        {"s3_access_key", s.s3_access_key},
        {"s3_secret_key", s.s3_secret_key},
    };
    for (const auto& [k, v] : optional_kv) {
      if (v.empty()) continue;   // absent = the default (and no empty secret rows)
      Query(*conn_, "INSERT INTO settings (key, value) VALUES ($1, $2)").text(1, k).text(2, v).run();
    }
    const std::pair<const char*, int64_t> counters[] = {
        {"next_inode", static_cast<int64_t>(kRootIno) + 1}, {"next_slice", 1}, {"next_session", 1},
        {"used_bytes", 0}, {"inodes", 1}};
    for (const auto& [k, v] : counters)
      Query(*conn_, "INSERT INTO counters (name, value) VALUES ($1, $2)").text(1, k).bind(2, v).run();
    // Root: 0755 like mkfs; the owner given (usually the formatting user) can chmod it.
    Query(*conn_,
          "INSERT INTO inodes (" S3L_INODE_COLS ") VALUES ($1, $2, $3, $4, 2, 4096, 0, $5, $5, $5, $1)")
        .bind(1, kRootIno)
        .bind(2, static_cast<uint32_t>(S_IFDIR | 0755))
        .bind(3, root_uid)
        .bind(4, root_gid)
        .bind(5, s.created_ns)
        .run();
    return Status::Ok();
  });
  // Whatever happened, the cached state may describe another volume now.
  inode_ids_ = slice_ids_ = IdBatch{};
  settings_.reset();
  if (st.ok()) settings_ = s;
  return st;
}

Result<VolumeSettings> SqlMeta::load_settings() {
  settings_.reset();
  return run("load settings", Tx::kRead, [&] { return read_settings(); });
}

Result<VolumeSettings> SqlMeta::read_settings() {
  const std::string no_volume =
      conn_->describe() + " holds no formatted S3LayerFS volume (run format first)";
  if (!conn_->has_table("schema_version")) return Status::Error(ENODATA, no_volume);
  int64_t version = 0;
  {
    Query q(*conn_, "SELECT version FROM schema_version WHERE id = 1");
    if (!q.next()) return Status::Error(ENODATA, no_volume);
    version = q.i64(0);
  }
  if (version != kSchemaVersion)
    return Status::Error(EPROTO, conn_->describe() + " has metadata schema version " +
                                     std::to_string(version) + "; this binary understands version " +
                                     std::to_string(kSchemaVersion) +
                                     (version > kSchemaVersion
                                          ? " (newer: use a newer s3layerfs-daemon)"
                                          : " (older: run `s3layerfs-daemon upgrade " + conn_->describe() +
                                                "` once, with every client of the volume stopped)"));
  std::map<std::string, std::string> kv;
  {
    Query q(*conn_, "SELECT key, value FROM settings");
    while (q.next()) kv[q.str(0)] = q.str(1);
  }
  auto missing = [&](const char* k) {
    return Status::Error(EIO, conn_->describe() + ": volume setting '" + k +
                                  "' is missing or malformed (damaged metadata)");
  };
  VolumeSettings s;
  uint64_t v = 0;
  const char* num_keys[] = {"format_version", "block_size", "chunk_size", "created"};
  for (const char* k : num_keys)
    if (!kv.count(k) || !parse_u64(kv[k], v)) return missing(k);
  for (const char* k : {"name", "uuid", "storage_url"})
    if (!kv.count(k)) return missing(k);
  parse_u64(kv["format_version"], v);
  if (v > kFormatVersion)
    return Status::Error(EPROTO, "volume format version " + std::to_string(v) +
                                     " is newer than this binary understands (" +
                                     std::to_string(kFormatVersion) + ")");
  s.format_version = static_cast<uint32_t>(v);
  s.name = kv["name"];
  s.uuid = kv["uuid"];
  s.storage_url = kv["storage_url"];
  parse_u64(kv["block_size"], s.block_size);
  parse_u64(kv["chunk_size"], s.chunk_size);
  parse_u64(kv["created"], v);
  s.created_ns = static_cast<int64_t>(v);
  // S3 options: optional keys (absent in volumes formatted before them).
  for (const char* k : {"s3_virtual_hosted", "s3_verify_tls"})
    if (kv.count(k) && kv[k] != "0" && kv[k] != "1") return missing(k);
  s.s3_endpoint = kv["s3_endpoint"];
  s.s3_region = kv["s3_region"];
  s.s3_virtual_hosted = kv["s3_virtual_hosted"] == "1";
  s.s3_verify_tls = kv["s3_verify_tls"] != "0";
  s.s3_ca_file = kv["s3_ca_file"];
  s.s3_access_key = kv["s3_access_key"];
  s.s3_secret_key = kv["s3_secret_key"];
  if (Status ok = validate(s); !ok.ok())
    return Status::Error(EIO, conn_->describe() + ": stored volume settings are invalid: " + ok.msg);
  settings_ = s;
  return s;
}

const VolumeSettings& SqlMeta::settings() {
  if (!settings_) {
    auto r = read_settings();
    if (!r.ok()) throw DbError(r.err(), false, r.msg());
  }
  return *settings_;
}

// ---- shared helpers ----------------------------------------------------------

SqlMeta::Inode SqlMeta::read_inode(Query& q, int c) {
  Inode n;
  n.attr.ino = q.u64(c);
  n.attr.mode = q.u32(c + 1);
  n.attr.uid = q.u32(c + 2);
  n.attr.gid = q.u32(c + 3);
  n.attr.nlink = q.u32(c + 4);
  n.attr.size = q.u64(c + 5);
  n.attr.rdev = q.u64(c + 6);
  n.attr.atime_ns = q.i64(c + 7);
  n.attr.mtime_ns = q.i64(c + 8);
  n.attr.ctime_ns = q.i64(c + 9);
  n.parent = q.u64(c + 10);
  return n;
}

std::optional<SqlMeta::Inode> SqlMeta::load_inode(uint64_t ino) {
  Query q(*conn_, "SELECT " S3L_INODE_COLS " FROM inodes WHERE ino = $1");
  q.bind(1, ino);
  if (!q.next()) return std::nullopt;
  return read_inode(q, 0);
}

Result<SqlMeta::Inode> SqlMeta::load_dir(uint64_t ino, const char* role) {
  auto n = load_inode(ino);
  if (!n) return Status::Error(ENOENT, std::string(role) + " inode " + std::to_string(ino) + " does not exist");
  if (!n->is_dir())
    return Status::Error(ENOTDIR, std::string(role) + " inode " + std::to_string(ino) + " is not a directory");
  return *n;
}

Result<SqlMeta::Inode> SqlMeta::load_dir_entry(uint64_t ino, const std::string& name, const char* role,
                                               std::optional<uint64_t>* entry, std::optional<Inode>* target) {
  // With `target`, the entry's inode comes in the same statement (one round
  // trip less for unlink and rmdir).
  Query q(*conn_, target ? "SELECT " S3L_INODE_COLS_D ", e.ino, " S3L_INODE_COLS_I " FROM inodes d"
                           " LEFT JOIN entries e ON e.parent = d.ino AND e.name = $2"
                           " LEFT JOIN inodes i ON i.ino = e.ino WHERE d.ino = $1"
                         : "SELECT " S3L_INODE_COLS ", (SELECT e.ino FROM entries e WHERE e.parent = $1 AND e.name = $2)"
                           " FROM inodes WHERE ino = $1");
  q.bind(1, ino).blob(2, name);
  if (!q.next())
    return Status::Error(ENOENT, std::string(role) + " inode " + std::to_string(ino) + " does not exist");
  Inode n = read_inode(q, 0);
  if (!n.is_dir())
    return Status::Error(ENOTDIR, std::string(role) + " inode " + std::to_string(ino) + " is not a directory");
  entry->reset();
  if (!q.is_null(11)) *entry = q.u64(11);
  if (target) {
    target->reset();
    if (!q.is_null(12)) *target = read_inode(q, 12);
  }
  return n;
}

std::optional<uint64_t> SqlMeta::find_entry(uint64_t parent, const std::string& name) {
  Query q(*conn_, "SELECT ino FROM entries WHERE parent = $1 AND name = $2");
  q.bind(1, parent).blob(2, name);
  if (!q.next()) return std::nullopt;
  return q.u64(0);
}

uint64_t SqlMeta::alloc_id(IdBatch& b, const char* counter, uint64_t batch) {
  if (b.next == b.end) {
    // Idempotent: a rerun after a lost answer only skips a range of ids.
    Query q(*conn_, "UPDATE counters SET value = value + $2 WHERE name = $1 RETURNING value");
    q.text(1, counter).bind(2, batch).idempotent();
    if (!q.next()) throw DbError(EIO, false, std::string("counter '") + counter + "' is missing");
    b.end = q.u64(0);
    b.next = b.end - batch;
    b.reserved_in_tx = true;
  }
  return b.next++;
}

std::string SqlMeta::counter_row(const char* name) {
  // A statistic may be split over rows `name`, `name#1`, ... (readers sum
  // them): with several clients, concurrent transactions then rarely update
  // the same row, which on PostgreSQL would make one of them fail and rerun.
  const int shards = conn_->counter_shards();
  thread_local std::minstd_rand rng{std::random_device{}()};
  const int k = shards > 1 ? std::uniform_int_distribution<int>(0, shards - 1)(rng) : 0;
  return k == 0 ? std::string(name) : std::string(name) + "#" + std::to_string(k);
}

void SqlMeta::add_counter(const char* name, int64_t delta) {
  if (delta == 0) return;
  const std::string row = counter_row(name);
  if (row == name) {
    Query(*conn_, "UPDATE counters SET value = value + $2 WHERE name = $1").text(1, row).bind(2, delta).later();
    return;
  }
  Query(*conn_, "INSERT INTO counters (name, value) VALUES ($1, $2) "
                "ON CONFLICT (name) DO UPDATE SET value = counters.value + $2")
      .text(1, row)
      .bind(2, delta)
      .later();
}

void SqlMeta::touch_dir(uint64_t ino, int64_t nlink_delta, int64_t now) {
  Query(*conn_, "UPDATE inodes SET nlink = nlink + $2, mtime = $3, ctime = $3 WHERE ino = $1")
      .bind(1, ino)
      .bind(2, nlink_delta)
      .bind(3, now)
      .later();
}

void SqlMeta::set_ctime_nlink(uint64_t ino, int64_t nlink_delta, int64_t now) {
  Query(*conn_, "UPDATE inodes SET nlink = nlink + $2, ctime = $3 WHERE ino = $1")
      .bind(1, ino)
      .bind(2, nlink_delta)
      .bind(3, now)
      .later();
}

}  // namespace s3l::meta
