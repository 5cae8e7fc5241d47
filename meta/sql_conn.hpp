// A minimal SQL connection abstraction under the metadata engine. SqlMeta
// (meta/sql_meta.hpp) is written once against it; each database engine
// (SQLite now, PostgreSQL next) implements SqlConn/SqlStmt.
//
// SQL text is shared by all engines, so it follows these rules:
//   * parameters are written $1, $2, ... (PostgreSQL style; SQLite accepts them
//     as named parameters and the SQLite connection maps them by number);
//   * only ON CONFLICT, RETURNING, UPDATE ... FROM, CASE, bitwise & and LIMIT
//     beyond SQL-92 (all available in SQLite >= 3.35 and PostgreSQL >= 15);
//   * names and symlink targets are bound as blobs (POSIX names are bytes).
//   * a parameter whose type the context does not give (a SELECT list item)
//     is written CAST($n AS BIGINT), so PostgreSQL can type it.
//
// Errors: implementations throw DbError. It never leaves the meta layer:
// SqlMeta catches it at every method boundary and turns it into a Status.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace s3l::meta {

struct DbError : std::runtime_error {
  int err;          // errno reported to the caller (EIO, ENOSPC, EROFS, ENOMEM, ...)
  bool retryable;   // lock timeout / serialization failure: rerun the whole transaction
  DbError(int e, bool retry, const std::string& msg)
      : std::runtime_error(msg), err(e), retryable(retry) {}
};

// One prepared statement. Owned and cached by its SqlConn.
class SqlStmt {
 public:
  virtual ~SqlStmt() = default;
  // n is the parameter number as written in the SQL ($n, 1-based).
  virtual void bind_int(int n, int64_t v) = 0;
  virtual void bind_text(int n, const std::string& v) = 0;
  virtual void bind_blob(int n, const std::string& v) = 0;
  virtual void bind_null(int n) = 0;
  // Executes on the first call, then advances; true while a row is available.
  virtual bool step() = 0;
  // Columns of the current row, 0-based.
  virtual bool col_null(int i) = 0;
  virtual int64_t col_int(int i) = 0;
  virtual std::string col_text(int i) = 0;
  virtual std::string col_blob(int i) = 0;
  // Rows changed by the last completed INSERT/UPDATE/DELETE.
  virtual int64_t changes() = 0;
  // Marks an autocommit write as safe to rerun after a lost connection left
  // its outcome unknown (it checks for its own earlier effect): the engine
  // then reports such a loss as retryable. Engines without connections that
  // can be lost ignore it.
  virtual void set_idempotent() {}
  // Ends the execution and clears bindings; must not throw. An unreset
  // statement may hold a snapshot open (SQLite), so Query always resets.
  virtual void reset() noexcept = 0;
};

class SqlConn {
 public:
  virtual ~SqlConn() = default;
  virtual std::string engine() const = 0;    // "sqlite3", "postgres"
  virtual std::string describe() const = 0;  // safe to print, e.g. "sqlite3:///var/lib/s3l/meta.db"
  // The engine's schema DDL (version kSchemaVersion), for format().
  virtual const char* schema_ddl() const = 0;
  virtual bool has_table(const std::string& name) = 0;
  // Runs one or more statements without parameters (DDL, pragmas).
  virtual void exec(const std::string& sql) = 0;
  // A cached prepared statement for this exact SQL text.
  virtual SqlStmt& prepare(const std::string& sql) = 0;
  // Drops every cached statement (after DDL changed the schema).
  virtual void clear_statements() noexcept = 0;
  // write=true takes the write lock up front (SQLite BEGIN IMMEDIATE) so two
  // writers never deadlock upgrading; PostgreSQL may use SERIALIZABLE and
  // report serialization failures as DbError{retryable=true}.
  virtual void begin(bool write) = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;   // no-op when no transaction is open
  // Makes every transaction committed so far durable on disk (fsync). Engines
  // whose commits are durable already need not override it.
  virtual void sync() {}
  // How many times SqlMeta runs a transaction that keeps failing with a
  // retryable DbError before it reports EIO. SQLite already waited
  // busy_timeout inside each attempt; PostgreSQL retries conflicts at once.
  virtual int max_attempts() const { return 4; }
  // Runs data-modifying WITH queries (PostgreSQL; SQLite cannot): SqlMeta
  // then creates an inode and its entry in one statement instead of a
  // transaction of several (sql_mknod_cte.cpp).
  virtual bool writable_ctes() const { return false; }
  // Rows each statfs statistic (counters used_bytes, inodes) is spread over.
  // SQLite has one writer at a time: 1. PostgreSQL: several, so that
  // concurrent transactions seldom conflict on the same counter row.
  virtual int counter_shards() const { return 1; }
  // Serialises the write transactions that will update the same hot rows (a
  // directory's entries and attributes, a file's size) across every client:
  // SqlMeta passes those inode numbers, sorted and distinct, right before
  // begin(true); commit() and rollback() release them. Optimistic retries
  // alone starve a client that competes with a busy one (docs/postgres.md).
  // Engines whose writers are serialised anyway (SQLite) ignore it.
  virtual void lock_keys(const std::vector<int64_t>& keys) { (void)keys; }
  // Runs the bound statement `s` as part of the open write transaction
  // without waiting for its answer: for statements whose rows and row count
  // the caller does not need. An engine may send it together with the next
  // statement or the COMMIT (PostgreSQL: one round trip for all of them), so
  // its errors surface there and fail the transaction as a whole. Outside a
  // transaction, and by default, it runs at once.
  virtual void run_later(SqlStmt& s) {
    while (s.step()) {
    }
  }
};

// Opens a connection for a metadata URL (sqlite3://PATH[?sync=full|normal]).
// `create` allows creating a new database file; a missing one is ENOENT otherwise.
Result<std::unique_ptr<SqlConn>> open_sql_conn(const std::string& url, bool create);

// RAII use of a cached statement: bind, step, read, and always reset.
class Query {
 public:
  Query(SqlConn& c, const std::string& sql) : c_(&c), s_(&c.prepare(sql)) {}
  ~Query() { s_->reset(); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(int n, int64_t v) { s_->bind_int(n, v); return *this; }
  Query& bind(int n, uint64_t v) { s_->bind_int(n, to_i64(v)); return *this; }
  Query& bind(int n, uint32_t v) { s_->bind_int(n, v); return *this; }
  Query& bind(int n, int v) { s_->bind_int(n, v); return *this; }
  Query& bind(int n, bool v) { s_->bind_int(n, v ? 1 : 0); return *this; }
  Query& text(int n, const std::string& v) { s_->bind_text(n, v); return *this; }
  Query& blob(int n, const std::string& v) { s_->bind_blob(n, v); return *this; }
  Query& null(int n) { s_->bind_null(n); return *this; }
  Query& idempotent() { s_->set_idempotent(); return *this; }

  bool next() { return s_->step(); }
  // Runs a statement that returns no rows (or ignores them); returns changes().
  int64_t run() {
    while (s_->step()) {
    }
    return s_->changes();
  }
  // Runs a statement whose result nobody reads, possibly batched with the
  // next one (SqlConn::run_later): its errors show up there.
  void later() { c_->run_later(*s_); }
  bool is_null(int i) { return s_->col_null(i); }
  int64_t i64(int i) { return s_->col_int(i); }
  uint64_t u64(int i) { return static_cast<uint64_t>(s_->col_int(i)); }
  uint32_t u32(int i) { return static_cast<uint32_t>(s_->col_int(i)); }
  std::string str(int i) { return s_->col_text(i); }
  std::string bytes(int i) { return s_->col_blob(i); }

 private:
  static int64_t to_i64(uint64_t v) {
    // Every id, size and offset is kept below 2^63 (SQL has no unsigned 64-bit).
    if (v > static_cast<uint64_t>(INT64_MAX))
      throw DbError(EOVERFLOW, false, "value " + std::to_string(v) + " does not fit a signed 64-bit column");
    return static_cast<int64_t>(v);
  }
  SqlConn* c_;
  SqlStmt* s_;
};

}  // namespace s3l::meta
