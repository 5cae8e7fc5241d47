// SqlConn for PostgreSQL (libpqxx 6.4): postgres://user:pass@host:port/db?libpq-params.
//
// Transactions: begin(write=true) is SERIALIZABLE, so every set of concurrent
// SqlMeta transactions from any number of processes behaves like some serial
// order, which is what SqlMeta's read-check-write logic was written for (SQLite
// serialises writers). begin(write=false) is a REPEATABLE READ READ ONLY
// snapshot: consistent, never aborted by conflicts. Serialization failures and
// deadlocks come back as DbError{retryable=true}; SqlMeta reruns the whole
// transaction. See docs/postgres.md.
//
// Lost connections: the next begin() (or statement outside a transaction)
// reconnects, waiting up to kReconnectWindow for the server to come back. A
// transaction that failed before COMMIT was sent is reported retryable (the
// server rolled it back), and so is a failed autocommit SELECT; one that may
// have written is not.
//
// A connection lost during COMMIT leaves the outcome unknown to the client:
// the server may have committed and then lost the answer. Reporting a
// failure then would be wrong both ways (the caller may delete data a
// committed row points to; a rerun may apply the change twice), so every
// write transaction reads its id (txid_current_if_assigned) just before
// COMMIT, and after such a loss a new connection asks the server how that
// transaction ended (txid_status): committed is success, aborted is rerun,
// only an unanswerable question is EIO "outcome unknown".
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "meta/pg_url.hpp"
#include "meta/sql_conn.hpp"

namespace s3l::meta {
namespace {

const char kSchemaDdl[] =
#include "meta/postgres_schema_sql.inc"
    ;

using Clock = std::chrono::steady_clock;
// How long a lost connection is retried before operations fail with EIO.
constexpr auto kReconnectWindow = std::chrono::seconds(15);

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  std::string out;
  for (char c : s) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string short_sql(const std::string& sql) {
  std::string s = one_line(sql);
  return s.size() > 160 ? s.substr(0, 160) + "..." : s;
}

bool starts_with_select(const std::string& sql) {
  size_t i = sql.find_first_not_of(" \t\n(");
  if (i == std::string::npos || sql.size() - i < 6) return false;
  std::string w = sql.substr(i, 6);
  std::transform(w.begin(), w.end(), w.begin(), [](unsigned char c) { return std::toupper(c); });
  return w == "SELECT";
}

// Server notices (e.g. "table does not exist, skipping") go to the debug log,
// not to stderr.
class NoticeToLog final : public pqxx::errorhandler {
 public:
  explicit NoticeToLog(pqxx::connection_base& c) : pqxx::errorhandler(c) {}
  bool operator()(const char msg[]) noexcept override {
    try {
      spdlog::debug("postgres notice: {}", one_line(msg));
    } catch (...) {
    }
    return false;   // handled: no other handler (libpqxx's default prints to stderr)
  }
};

class PgConn;

class PgStmt final : public SqlStmt {
 public:
  PgStmt(PgConn& c, std::string sql, std::string name) : conn_(c), sql_(std::move(sql)), name_(std::move(name)) {}

  void bind_int(int n, int64_t v) override { slot(n) = std::to_string(v); }
  void bind_text(int n, const std::string& v) override;
  void bind_blob(int n, const std::string& v) override {
    // BYTEA in its text form (\x + hex): every byte value survives, and all
    // parameters stay text so PostgreSQL infers their types from the SQL.
    static const char* hex = "0123456789abcdef";
    std::string s;
    s.reserve(2 + 2 * v.size());
    s += "\\x";
    for (unsigned char c : v) {
      s += hex[c >> 4];
      s += hex[c & 15];
    }
    slot(n) = std::move(s);
  }
  void bind_null(int n) override { slot(n).reset(); }

  bool step() override;
  bool col_null(int i) override { return field(i).is_null(); }
  int64_t col_int(int i) override {
    pqxx::field f = field(i);
    if (f.is_null()) return 0;
    const char* b = f.c_str();
    const char* e = b + f.size();
    int64_t v = 0;
    auto r = std::from_chars(b, e, v);
    if (r.ec != std::errc() || r.ptr != e)
      throw DbError(EIO, false, "postgres: column " + std::to_string(i) + " value '" + std::string(b, e) +
                                    "' is not a 64-bit integer in: " + short_sql(sql_));
    return v;
  }
  std::string col_text(int i) override {
    pqxx::field f = field(i);
    return f.is_null() ? std::string() : std::string(f.c_str(), f.size());
  }
  std::string col_blob(int i) override;
  int64_t changes() override { return changes_; }
  void reset() noexcept override {
    ran_ = false;
    row_ = 0;
    result_ = pqxx::result();
    for (auto& p : params_) p.reset();
  }

  const std::string& sql() const { return sql_; }
  const std::string& name() const { return name_; }
  const std::vector<std::optional<std::string>>& params() const { return params_; }
  uint64_t prepared_gen = 0;   // connection generation it was prepared on

 private:
  std::optional<std::string>& slot(int n) {
    if (n <= 0 || n > 1000) throw DbError(EIO, false, "bad parameter number $" + std::to_string(n) + " in: " + short_sql(sql_));
    if (static_cast<size_t>(n) > params_.size()) params_.resize(n);
    return params_[n - 1];
  }
  pqxx::field field(int i) {
    if (!ran_ || row_ >= result_.size())
      throw DbError(EIO, false, "postgres: no current row in: " + short_sql(sql_));
    if (i < 0 || static_cast<size_t>(i) >= result_.columns())
      throw DbError(EIO, false, "postgres: no column " + std::to_string(i) + " in: " + short_sql(sql_));
    return result_[static_cast<pqxx::result::size_type>(row_)][static_cast<pqxx::row::size_type>(i)];
  }

  PgConn& conn_;
  std::string sql_, name_;
  std::vector<std::optional<std::string>> params_;
  pqxx::result result_;
  size_t row_ = 0;
  bool ran_ = false;
  int64_t changes_ = 0;
};

class PgConn final : public SqlConn {
 public:
  explicit PgConn(PgUrl u) : u_(std::move(u)) {}
  ~PgConn() override {
    cache_.clear();
    drop_connection();
  }

  // First connection: no waiting, a clear error right away.
  Status connect_first() {
    try {
      connect();
      return Status::Ok();
    } catch (const std::exception& e) {
      return connect_status(e.what());
    }
  }

  std::string engine() const override { return "postgres"; }
  std::string describe() const override { return u_.safe; }
  const char* schema_ddl() const override { return kSchemaDdl; }

  bool has_table(const std::string& name) override {
    Query q(*this, "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = $1");
    q.text(1, name);
    return q.next();
  }

  void exec(const std::string& sql) override {
    if (!tx_) ensure_connected();
    check_usable_in_tx();
    try {
      if (tx_) {
        tx_->exec(sql);
      } else {
        pqxx::nontransaction n(*c_);
        n.exec(sql);
      }
    } catch (...) {
      fail(sql, !tx_ && !starts_with_select(sql));
    }
  }

  SqlStmt& prepare(const std::string& sql) override {
    auto it = cache_.find(sql);
    if (it != cache_.end()) return *it->second;
    auto st = std::make_unique<PgStmt>(*this, sql, "s3l_" + std::to_string(++stmt_counter_));
    SqlStmt& ref = *st;
    cache_.emplace(sql, std::move(st));
    return ref;
  }

  void clear_statements() noexcept override {
    // The server-side statements are dropped when no transaction is open.
    for (auto& [sql, st] : cache_)
      if (st->prepared_gen == gen_) stale_.push_back(st->name());
    cache_.clear();
  }

  void begin(bool write) override {
    if (tx_) throw DbError(EIO, false, "postgres: begin() inside an open transaction (internal error)");
    ensure_connected();
    deallocate_stale();
    write_ = write;
    try {
      if (write)
        tx_ = std::make_unique<pqxx::transaction<pqxx::serializable, pqxx::read_write>>(*c_);
      else
        tx_ = std::make_unique<pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>>(*c_);
    } catch (...) {
      tx_.reset();
      fail("BEGIN", false);
    }
  }

  void commit() override {
    if (!tx_) throw DbError(EIO, false, "postgres: commit() without a transaction (internal error)");
    check_usable_in_tx();
    // Nothing is committed yet: a failure here is an ordinary (retryable) one.
    const std::optional<int64_t> xid = write_ ? current_xid() : std::nullopt;
    const int backend = c_->backendpid();
    try {
      tx_->commit();
      tx_.reset();
    } catch (const pqxx::in_doubt_error& e) {
      tx_.reset();
      broken_ = true;   // the session, and with it its advisory locks, is gone
      locked_ = false;
      resolve_in_doubt(xid, backend, scrub(e.what()));   // returns only if it committed
      return;
    } catch (...) {
      tx_.reset();
      if (!c_ || !c_->is_open()) broken_ = true;
      release_locks();
      fail("COMMIT", true);
    }
    release_locks();
  }

  void rollback() noexcept override {
    if (tx_) {
      try {
        if (!broken_) tx_->abort();
      } catch (...) {
        broken_ = true;   // the server rolls back on disconnect; reconnect next time
      }
      tx_.reset();
    }
    release_locks();
  }

  // Session-level advisory locks, taken BEFORE the transaction starts: the
  // transaction's snapshot is then taken after the previous holder committed,
  // so transactions on the same directory or file queue instead of failing
  // with serialization errors (pg_advisory_xact_lock would be taken after the
  // snapshot and not help). Keys come sorted: no deadlock between clients.
  // The wait is unbounded unless the URL sets lock_timeout (SQLSTATE 55P03).
  void lock_keys(const std::vector<int64_t>& keys) override {
    if (tx_) throw DbError(EIO, false, "postgres: lock_keys() inside a transaction (internal error)");
    // Reconnect first: connect() forgets locked_, so a reconnect inside the
    // first lock statement would leave that lock held by a session that
    // believes it holds none (every other connection then waits on it forever).
    ensure_connected();
    for (int64_t k : keys) {
      locked_ = true;   // before the call: if it fails half way, unlock anyway
      Query(*this, "SELECT pg_advisory_lock($1)").bind(1, k).run();
    }
  }

  // Conflicts are detected at once (no lock wait inside an attempt). Writers
  // of one directory or file queue on lock_keys(); what still conflicts is
  // chance (SSI page-granular predicate locks, the same statfs counter row),
  // and 60 attempts with SqlMeta's jittered backoff (capped at 100 ms, about
  // 3 s in total) make giving up with EIO a sign of real trouble.
  int max_attempts() const override { return 60; }
  // Every create, unlink and extending write updates a statfs counter: spread
  // them so that two concurrent transactions rarely touch the same row (1 in
  // 128; with 32 rows, 3% of the transactions of two busy clients conflicted).
  int counter_shards() const override { return 128; }

  pqxx::result run(PgStmt& s) {
    if (!tx_) ensure_connected();
    check_usable_in_tx();
    std::vector<const char*> ptrs;
    ptrs.reserve(s.params().size());
    for (const auto& p : s.params()) ptrs.push_back(p ? p->c_str() : nullptr);
    try {
      if (s.prepared_gen != gen_) {
        c_->prepare(s.name(), s.sql());
        s.prepared_gen = gen_;
      }
      if (tx_) return tx_->exec_prepared(s.name(), pqxx::prepare::make_dynamic_params(ptrs));
      pqxx::nontransaction n(*c_);
      return n.exec_prepared(s.name(), pqxx::prepare::make_dynamic_params(ptrs));
    } catch (...) {
      fail(s.sql(), !tx_ && !starts_with_select(s.sql()));
    }
  }

  std::string scrub(const std::string& msg) const { return scrub_secrets(one_line(msg), u_.secrets); }

 private:
  void connect() {
    drop_connection();
    c_ = std::make_unique<pqxx::connection>(u_.conninfo);
    notices_ = std::make_unique<NoticeToLog>(*c_);
    broken_ = false;
    locked_ = false;   // a new session holds no advisory locks
    ++gen_;   // every statement must be prepared again on this connection
    stale_.clear();
  }

  void drop_connection() noexcept {
    tx_.reset();
    notices_.reset();
    if (c_) {
      try {
        c_->disconnect();
      } catch (...) {
      }
    }
    c_.reset();
  }

  // Called outside transactions only: reconnect if the connection is gone,
  // waiting up to kReconnectWindow for the server (it may be restarting).
  void ensure_connected() {
    if (c_ && !broken_ && c_->is_open()) return;
    const auto now = Clock::now();
    if (!down_since_) down_since_ = now;
    auto nap = std::chrono::milliseconds(50);
    std::string last;
    for (;;) {
      try {
        connect();
        spdlog::info("{}: reconnected to PostgreSQL", u_.safe);
        down_since_.reset();
        return;
      } catch (const std::exception& e) {
        last = e.what();
        drop_connection();
      }
      // An outage older than the window fails at once (one attempt per operation).
      if (Clock::now() - *down_since_ >= kReconnectWindow) {
        auto secs = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - *down_since_).count();
        Status st = connect_status(last);
        throw DbError(st.err, false, st.msg + " (connection lost " + std::to_string(secs) + " s ago)");
      }
      std::this_thread::sleep_for(nap);
      nap = std::min(nap * 2, std::chrono::milliseconds(1000));
    }
  }

  void release_locks() noexcept {
    if (!locked_) return;
    locked_ = false;
    // A lost session's locks went with it; never reconnect just to unlock.
    if (broken_ || !c_ || !c_->is_open()) return;
    try {
      Query(*this, "SELECT pg_advisory_unlock_all()").run();
    } catch (...) {
      // Unknown state: drop the session so that the server frees the locks.
      broken_ = true;
    }
  }

  // The id of the open write transaction, or nullopt if it wrote nothing
  // (no id assigned: its COMMIT changes nothing either way).
  std::optional<int64_t> current_xid() {
    try {
      pqxx::result r = tx_->exec("SELECT txid_current_if_assigned()");
      if (r.empty() || r[0][0].is_null()) return std::nullopt;
      return r[0][0].as<int64_t>();
    } catch (...) {
      fail("SELECT txid_current_if_assigned()", false);
    }
  }

  // The connection broke during COMMIT of transaction `xid` (run by backend
  // `backend`). Asks the server, on a new connection, how it ended: returns if
  // it committed; throws a retryable DbError if it was rolled back (or wrote
  // nothing), and EIO "outcome unknown" if that cannot be found out within
  // the reconnect window.
  void resolve_in_doubt(std::optional<int64_t> xid, int backend, const std::string& why) {
    const std::string who = "postgres " + u_.safe + ": ";
    if (!xid)
      throw DbError(EIO, true, who + "connection lost during COMMIT of a transaction that wrote nothing (" + why + ")");
    const std::string tx = "transaction " + std::to_string(*xid);
    spdlog::warn("{}connection lost during COMMIT of {}; asking the server whether it committed", who, tx);
    const auto deadline = Clock::now() + 2 * kReconnectWindow;
    bool ended_old_session = false;
    std::string status;
    for (;;) {
      try {
        Query q(*this, "SELECT txid_status($1)");   // reconnects, waiting up to the window
        q.bind(1, *xid);
        status = q.next() && !q.is_null(0) ? q.str(0) : "no longer known";
      } catch (const DbError& e) {
        if (e.retryable && Clock::now() < deadline) {   // lost again: ask again
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
        throw DbError(EIO, false, who + "connection lost during COMMIT of " + tx +
                                      ": the outcome is unknown (the server could not be asked: " + e.what() + ")");
      }
      if (status != "in progress") break;
      // Our old session still has it open: the network failed, not the
      // server. Ending that session rolls it back unless COMMIT is already
      // under way there, which then finishes; either way the status settles.
      if (!ended_old_session && backend > 0) {
        ended_old_session = true;
        try {
          Query(*this, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND "
                       "backend_xid::text = $2")
              .bind(1, backend)
              .text(2, std::to_string(static_cast<uint64_t>(*xid) & 0xffffffffu))
              .run();
        } catch (const DbError& e) {
          spdlog::warn("{}could not end the old session {} of {}: {}", who, backend, tx, e.what());
        }
      }
      if (Clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (status == "committed") {
      spdlog::warn("{}{} did commit (the answer to COMMIT was lost)", who, tx);
      return;
    }
    if (status == "aborted")
      throw DbError(EIO, true, who + "connection lost during COMMIT of " + tx + "; the server rolled it back (" +
                                   why + ")");
    throw DbError(EIO, false, who + "connection lost during COMMIT of " + tx + ": the outcome is unknown (txid_status: " +
                                  status + "; " + why + ")");
  }

  void check_usable_in_tx() {
    if (tx_ && broken_)
      throw DbError(EIO, true, "postgres " + u_.safe + ": connection lost during the transaction");
  }

  void deallocate_stale() noexcept {
    for (const std::string& name : stale_) {
      try {
        c_->unprepare(name);
      } catch (...) {
      }
    }
    stale_.clear();
  }

  Status connect_status(const std::string& what) const {
    std::string m = scrub(what);
    int err = EIO;
    if (m.find("password authentication failed") != std::string::npos ||
        m.find("no pg_hba.conf entry") != std::string::npos || m.find("permission denied") != std::string::npos)
      err = EACCES;
    else if (m.find("does not exist") != std::string::npos)
      err = ENOENT;   // database or role; the server's message says which
    else if (m.find("invalid") != std::string::npos || m.find("unknown") != std::string::npos)
      err = EINVAL;   // e.g. a bad libpq parameter in the URL
    return Status::Error(err, "cannot connect to PostgreSQL " + u_.safe + ": " + m);
  }

  // Turns the exception in flight into a DbError. `may_have_written`: a lost
  // connection is only retryable when nothing can have been committed.
  [[noreturn]] void fail(const std::string& sql, bool may_have_written) {
    const std::string where = " in: " + short_sql(sql);
    const std::string who = "postgres " + u_.safe + ": ";
    bool lost = !c_ || !c_->is_open();
    try {
      throw;
    } catch (const DbError&) {
      throw;
    } catch (const pqxx::in_doubt_error& e) {
      broken_ = true;
      throw DbError(EIO, false, who + "connection lost during COMMIT: the outcome of the transaction is unknown (" +
                                    scrub(e.what()) + ")");
    } catch (const pqxx::serialization_failure& e) {
      throw DbError(EIO, true, who + "serialization failure (SQLSTATE 40001): " + scrub(e.what()) + where);
    } catch (const pqxx::deadlock_detected& e) {
      throw DbError(EIO, true, who + "deadlock detected (SQLSTATE 40P01): " + scrub(e.what()) + where);
    } catch (const pqxx::statement_completion_unknown& e) {
      broken_ = true;
      throw DbError(EIO, false, who + "statement outcome unknown: " + scrub(e.what()) + where);
    } catch (const pqxx::broken_connection& e) {
      broken_ = true;
      spdlog::warn("{}connection lost ({}); reconnecting on the next operation", who, scrub(e.what()));
      throw DbError(EIO, !may_have_written,
                    who + "connection lost (the server closed it, restarted or is unreachable): " + scrub(e.what()) +
                        where);
    } catch (const pqxx::sql_error& e) {
      const std::string state = e.sqlstate();
      std::string msg = who + scrub(e.what()) + (state.empty() ? "" : " (SQLSTATE " + state + ")") + where;
      // Admin/crash shutdown and connection errors: the session is gone.
      if (lost || state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0) {
        broken_ = true;
        spdlog::warn("{}connection lost ({}); reconnecting on the next operation", who, scrub(e.what()));
        throw DbError(EIO, !may_have_written, msg);
      }
      // 23505: a concurrent transaction inserted the same key first (e.g. the
      // same name); the rerun sees its row and answers EEXIST properly.
      if (state == "40001" || state == "40P01" || state == "23505") throw DbError(EIO, true, msg);
      int err = EIO;
      if (state == "53100") err = ENOSPC;
      else if (state == "53200") err = ENOMEM;
      else if (state == "25006") err = EROFS;   // read-only server (standby)
      else if (state == "42501") err = EACCES;
      else if (state == "22021" || state == "22P05") err = EILSEQ;   // text not valid in the DB encoding
      else if (state == "55P03") msg += " (lock_timeout expired: another client holds a lock on this directory or file)";
      throw DbError(err, false, msg);
    } catch (const pqxx::transaction_rollback& e) {
      throw DbError(EIO, true, who + "transaction rolled back by the server: " + scrub(e.what()) + where);
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& e) {
      if (lost) broken_ = true;
      throw DbError(EIO, lost && !may_have_written, who + scrub(e.what()) + where);
    }
  }

  PgUrl u_;
  std::unique_ptr<pqxx::connection> c_;
  std::unique_ptr<NoticeToLog> notices_;
  std::unique_ptr<pqxx::dbtransaction> tx_;
  bool broken_ = false;
  bool locked_ = false;   // advisory locks of lock_keys() may be held
  bool write_ = false;    // the open transaction is a write transaction
  uint64_t gen_ = 0;
  std::optional<Clock::time_point> down_since_;
  std::unordered_map<std::string, std::unique_ptr<PgStmt>> cache_;
  std::vector<std::string> stale_;
  uint64_t stmt_counter_ = 0;
};

void PgStmt::bind_text(int n, const std::string& v) {
  if (v.find('\0') != std::string::npos)
    throw DbError(EINVAL, false, "postgres: text parameter $" + std::to_string(n) + " contains a NUL byte in: " +
                                     short_sql(sql_));
  slot(n) = v;
}

bool PgStmt::step() {
  if (!ran_) {
    result_ = conn_.run(*this);
    ran_ = true;
    row_ = 0;
    changes_ = static_cast<int64_t>(result_.affected_rows());
  } else if (row_ < result_.size()) {
    ++row_;
  }
  return row_ < result_.size();
}

std::string PgStmt::col_blob(int i) {
  pqxx::field f = field(i);
  if (f.is_null()) return std::string();
  const char* p = f.c_str();
  size_t n = f.size();
  if (n >= 2 && p[0] == '\\' && p[1] == 'x' && n % 2 == 0) {   // bytea_output = hex (the default)
    std::string out;
    out.reserve((n - 2) / 2);
    auto val = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    for (size_t k = 2; k < n; k += 2) {
      int hi = val(p[k]), lo = val(p[k + 1]);
      if (hi < 0 || lo < 0) throw DbError(EIO, false, "postgres: malformed bytea value in: " + short_sql(sql_));
      out += static_cast<char>(hi * 16 + lo);
    }
    return out;
  }
  return pqxx::binarystring(f).str();   // bytea_output = escape
}

}  // namespace

Result<std::unique_ptr<SqlConn>> open_pg_conn(const PgUrl& u, bool /*create: the database must exist*/) {
  auto conn = std::make_unique<PgConn>(u);
  if (Status st = conn->connect_first(); !st.ok()) return st;
  spdlog::debug("opened {}", conn->describe());
  return std::unique_ptr<SqlConn>(std::move(conn));
}

}  // namespace s3l::meta
