// SqlConn for SQLite: sqlite3://PATH[?sync=full|normal].
// WAL journal (readers never block the writer), busy_timeout so a second
// process waits for the lock instead of failing, synchronous=FULL by default
// so that a committed transaction survives power loss.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <sqlite3.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "meta/sql_conn.hpp"
#include "meta/sqlite_url.hpp"

namespace s3l::meta {
namespace {

const char kSchemaDdl[] =
#include "meta/sqlite_schema_sql.inc"
    ;

// SQLite result code -> errno; busy/locked means "another connection holds the
// lock longer than busy_timeout": worth rerunning the transaction.
DbError make_error(sqlite3* db, int rc, const std::string& what, const std::string& path) {
  int primary = rc & 0xff;
  int err = EIO;
  bool retry = false;
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: err = EAGAIN; retry = true; break;
    case SQLITE_FULL: err = ENOSPC; break;
    case SQLITE_READONLY: err = EROFS; break;
    case SQLITE_NOMEM: err = ENOMEM; break;
    case SQLITE_PERM:
    case SQLITE_AUTH: err = EACCES; break;
    default: err = EIO; break;
  }
  std::string msg = "sqlite3 " + path + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) +
                    " (" + sqlite3_errstr(rc) + ", code " + std::to_string(rc) + ")";
  if (!what.empty()) msg += " in: " + what;
  return DbError(err, retry, msg);
}

std::string short_sql(const std::string& sql) {
  std::string s;
  for (char c : sql) {
    if (c == '\n') c = ' ';
    if (c == ' ' && !s.empty() && s.back() == ' ') continue;
    s += c;
  }
  return s.size() > 160 ? s.substr(0, 160) + "..." : s;
}

class SqliteStmt final : public SqlStmt {
 public:
  SqliteStmt(sqlite3* db, sqlite3_stmt* st, std::string sql, const std::string* path)
      : db_(db), st_(st), sql_(std::move(sql)), path_(path) {
    // Map "$n" to SQLite's parameter index (repeated $n share one index).
    int count = sqlite3_bind_parameter_count(st_);
    for (int i = 1; i <= count; ++i) {
      const char* name = sqlite3_bind_parameter_name(st_, i);
      if (!name || name[0] != '$')
        throw DbError(EIO, false, "SQL parameter " + std::to_string(i) +
                                      " is not written $n in: " + short_sql(sql_));
      int n = std::atoi(name + 1);
      if (n <= 0) throw DbError(EIO, false, std::string("bad SQL parameter ") + name);
      if (static_cast<size_t>(n) >= index_.size()) index_.resize(n + 1, 0);
      index_[n] = i;
    }
  }
  ~SqliteStmt() override { sqlite3_finalize(st_); }

  void bind_int(int n, int64_t v) override { check_bind(sqlite3_bind_int64(st_, idx(n), v)); }
  void bind_text(int n, const std::string& v) override {
    check_bind(sqlite3_bind_text(st_, idx(n), v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  void bind_blob(int n, const std::string& v) override {
    // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
    static const char kEmpty = 0;
    check_bind(sqlite3_bind_blob(st_, idx(n), v.empty() ? &kEmpty : v.data(),
                                 static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  void bind_null(int n) override { check_bind(sqlite3_bind_null(st_, idx(n))); }

  bool step() override {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) {
      changes_ = sqlite3_changes64(db_);
      return false;
    }
    throw make_error(db_, rc, short_sql(sql_), *path_);
  }
  bool col_null(int i) override { return sqlite3_column_type(st_, i) == SQLITE_NULL; }
  int64_t col_int(int i) override { return sqlite3_column_int64(st_, i); }
  std::string col_text(int i) override {
    const unsigned char* p = sqlite3_column_text(st_, i);
    int n = sqlite3_column_bytes(st_, i);
    return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
  }
  std::string col_blob(int i) override {
    const void* p = sqlite3_column_blob(st_, i);
    int n = sqlite3_column_bytes(st_, i);
    return p ? std::string(static_cast<const char*>(p), n) : std::string();
  }
  int64_t changes() override { return changes_; }
  void reset() noexcept override {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }

 private:
  int idx(int n) {
    if (n <= 0 || static_cast<size_t>(n) >= index_.size() || index_[n] == 0)
      throw DbError(EIO, false, "no parameter $" + std::to_string(n) + " in: " + short_sql(sql_));
    return index_[n];
  }
  void check_bind(int rc) {
    if (rc != SQLITE_OK) throw make_error(db_, rc, short_sql(sql_), *path_);
  }

  sqlite3* db_;
  sqlite3_stmt* st_;
  std::string sql_;
  const std::string* path_;
  std::vector<int> index_;
  int64_t changes_ = 0;
};

class SqliteConn final : public SqlConn {
 public:
  SqliteConn(sqlite3* db, std::string path, bool sync_full)
      : db_(db), path_(std::move(path)), sync_full_(sync_full) {}
  ~SqliteConn() override {
    cache_.clear();   // statements must be finalized before the connection closes
    sqlite3_close(db_);
  }

  std::string engine() const override { return "sqlite3"; }
  std::string describe() const override { return "sqlite3://" + path_; }
  const char* schema_ddl() const override { return kSchemaDdl; }

  bool has_table(const std::string& name) override {
    Query q(*this, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1");
    q.text(1, name);
    return q.next();
  }

  void exec(const std::string& sql) override {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    sqlite3_free(err);   // the same text is in sqlite3_errmsg()
    if (rc != SQLITE_OK) throw make_error(db_, rc, short_sql(sql), path_);
  }

  SqlStmt& prepare(const std::string& sql) override {
    auto it = cache_.find(sql);
    if (it != cache_.end()) return *it->second;
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &st, nullptr);
    if (rc != SQLITE_OK) throw make_error(db_, rc, short_sql(sql), path_);
    auto stmt = std::make_unique<SqliteStmt>(db_, st, sql, &path_);
    SqlStmt& ref = *stmt;
    cache_.emplace(sql, std::move(stmt));
    return ref;
  }

  void clear_statements() noexcept override { cache_.clear(); }

  // With synchronous=NORMAL a commit is appended to the WAL but not fsynced.
  // Every commit so far is in that one file, so fsyncing it makes them all
  // durable at once; after a checkpoint reset the pages are in the database
  // file, which the checkpoint synced already.
  void sync() override {
    if (sync_full_) return;
    std::string wal = path_ + "-wal";
    int fd = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return;
      throw DbError(EIO, false, "open " + wal + " for fsync: " + std::strerror(errno));
    }
    int rc = ::fsync(fd);
    int e = errno;
    ::close(fd);
    if (rc != 0) throw DbError(EIO, false, "fsync " + wal + ": " + std::strerror(e));
  }

  void begin(bool write) override {
    Query(*this, write ? "BEGIN IMMEDIATE" : "BEGIN").run();
  }
  void commit() override { Query(*this, "COMMIT").run(); }
  void rollback() noexcept override {
    if (sqlite3_get_autocommit(db_)) return;   // nothing open (or SQLite already rolled back)
    for (auto& [sql, st] : cache_) st->reset();   // no statement may stay active across ROLLBACK
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  sqlite3* db_;
  std::string path_;
  bool sync_full_;
  std::unordered_map<std::string, std::unique_ptr<SqlStmt>> cache_;
};

std::string pragma_value(SqlConn& c, const std::string& sql) {
  Query q(c, sql);
  return q.next() ? q.str(0) : std::string();
}

}  // namespace

Result<std::unique_ptr<SqlConn>> open_sqlite_conn(const SqliteUrl& u, bool create) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!create && !fs::exists(u.path, ec))
    return Status::Error(ENOENT, "metadata database " + u.path +
                                     " does not exist (format the volume first)");
  if (create) {
    fs::path dir = fs::path(u.path).parent_path();
    if (!dir.empty() && !fs::is_directory(dir, ec))
      return Status::Error(ENOENT, "cannot create metadata database " + u.path + ": directory " +
                                       dir.string() + " does not exist");
  }
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(u.path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    DbError e = make_error(db, rc, "open", u.path);
    sqlite3_close(db);
    return Status::Error(e.err, "cannot open metadata database: " + std::string(e.what()));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, u.busy_timeout_ms);
  auto conn = std::make_unique<SqliteConn>(db, u.path, u.sync_full);
  try {
    std::string mode = pragma_value(*conn, "PRAGMA journal_mode = WAL");
    if (mode != "wal")
      spdlog::warn("sqlite3 {}: WAL journal not available (journal_mode={}); readers will block writers",
                   u.path, mode);
    conn->exec(u.sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    conn->exec("PRAGMA foreign_keys = OFF");
    conn->exec("PRAGMA cache_size = -32768");   // 32 MiB page cache: the hot tables stay in memory
  } catch (const DbError& e) {
    return Status::Error(e.err, std::string("cannot set up metadata database: ") + e.what());
  }
  spdlog::debug("opened {} (sync={})", conn->describe(), u.sync_full ? "full" : "normal");
  return std::unique_ptr<SqlConn>(std::move(conn));
}

}  // namespace s3l::meta
