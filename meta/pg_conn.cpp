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
// server rolled it back), and so is a failed autocommit SELECT or idempotent
// write (SqlStmt::set_idempotent); another autocommit write that may have
// written is not.
//
// A connection lost during COMMIT leaves the outcome unknown to the client:
// the server may have committed and then lost the answer. Reporting a
// failure then would be wrong both ways (the caller may delete data a
// committed row points to; a rerun may apply the change twice), so every
// write transaction learns its id (txid_current, in the BEGIN round trip),
// and after such a loss a new connection asks the server how that
// transaction ended (txid_status): committed is success, aborted is rerun,
// only an unanswerable question is EIO "outcome unknown".
//
// Round trips: each one wakes a server process and this thread, and costs
// more than most statements do on the server (a create was ~15 of them).
// Statements go as Bind/Execute of statements prepared once per connection,
// in libpq's pipeline mode (meta/pg_pipeline.hpp), so that many share one
// round trip. begin() sends nothing: the transaction's opening (the advisory
// locks in a short transaction of their own, BEGIN, txid_current()) waits and goes in
// front of its first statement; statements whose answer is not needed
// (SqlConn::run_later) wait too and go in front of the next statement or of
// COMMIT, which carries pg_advisory_unlock_all() behind it. A write then
// costs its reads + COMMIT; one without reads costs opening + COMMIT (its id
// must be known before COMMIT goes, see below). pqxx opens and owns the
// connection and runs schema DDL; its transaction classes are not used (they
// send BEGIN and COMMIT on their own), and its silent reconnect is off: a new
// session in the middle of a transaction would run the rest of it outside any
// transaction; this class reconnects only between transactions.
#include <libpq-fe.h>
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
#include <unordered_set>
#include <vector>

#include "meta/pg_pipeline.hpp"
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

// pqxx opens the connection; the statements go through libpq's pipeline
// mode on the same PGconn (meta/pg_pipeline.hpp). pqxx 6.4 hands the handle
// only to its connection policy, so this one passes it out of the
// constructor (connections are made and used on one thread).
thread_local pg_conn* t_new_handle = nullptr;

class HandleCapture final : public pqxx::connect_direct {
 public:
  explicit HandleCapture(const std::string& opts) : pqxx::connect_direct(opts) {}
  handle do_startconnect(handle h) override {
    h = pqxx::connect_direct::do_startconnect(h);
    t_new_handle = h;
    return h;
  }
};
using PqxxConnection = pqxx::basic_connection_base<HandleCapture>;

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
  void set_idempotent() override { idempotent_ = true; }
  bool idempotent() const { return idempotent_; }

  bool step() override;
  bool col_null(int i) override {
    check(i);
    return result_.is_null(row_, i);
  }
  int64_t col_int(int i) override {
    check(i);
    if (result_.is_null(row_, i)) return 0;
    const char* b = result_.value(row_, i);
    const char* e = b + result_.length(row_, i);
    int64_t v = 0;
    auto r = std::from_chars(b, e, v);
    if (r.ec != std::errc() || r.ptr != e)
      throw DbError(EIO, false, "postgres: column " + std::to_string(i) + " value '" + std::string(b, e) +
                                    "' is not a 64-bit integer in: " + short_sql(sql_));
    return v;
  }
  std::string col_text(int i) override {
    check(i);
    return result_.is_null(row_, i) ? std::string() : std::string(result_.value(row_, i), result_.length(row_, i));
  }
  std::string col_blob(int i) override;
  int64_t changes() override { return changes_; }
  void reset() noexcept override {
    ran_ = false;
    row_ = 0;
    result_ = PgResult();
    for (auto& p : params_) p.reset();
  }

  const std::string& sql() const { return sql_; }
  const std::string& name() const { return name_; }
  const std::vector<std::optional<std::string>>& params() const { return params_; }

 private:
  std::optional<std::string>& slot(int n) {
    if (n <= 0 || n > 1000) throw DbError(EIO, false, "bad parameter number $" + std::to_string(n) + " in: " + short_sql(sql_));
    if (static_cast<size_t>(n) > params_.size()) params_.resize(n);
    return params_[n - 1];
  }
  void check(int i) const {
    if (!ran_ || row_ >= result_.rows())
      throw DbError(EIO, false, "postgres: no current row in: " + short_sql(sql_));
    if (i < 0 || i >= result_.columns())
      throw DbError(EIO, false, "postgres: no column " + std::to_string(i) + " in: " + short_sql(sql_));
  }

  PgConn& conn_;
  std::string sql_, name_;
  std::vector<std::optional<std::string>> params_;
  PgResult result_;
  size_t row_ = 0;
  bool ran_ = false;
  bool idempotent_ = false;   // a property of the SQL text: kept across reset()
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
    if (!in_tx_) ensure_connected();
    check_usable_in_tx();
    try {
      if (has_queued()) send_queued();   // rare (schema DDL): its own round trip
      send(sql);
    } catch (...) {
      fail(sql, !in_tx_ && !starts_with_select(sql));
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
      if (prepared_.erase(st->name())) stale_.push_back(st->name());
    cache_.clear();
  }

  void begin(bool write) override {
    if (in_tx_) throw DbError(EIO, false, "postgres: begin() inside an open transaction (internal error)");
    // Reconnect first: connect() forgets locked_, so a reconnect inside the
    // lock statement would leave that lock held by a session that believes
    // it holds none (every other connection then waits on it forever).
    ensure_connected();
    deallocate_stale();
    write_ = write;
    xid_.reset();
    pending_.clear();
    opening_ = true;
    opening_keys_.swap(lock_req_);
    lock_req_.clear();
    in_tx_ = true;   // from here on a failure may leave a transaction block to roll back
  }

  void commit() override {
    if (!in_tx_) throw DbError(EIO, false, "postgres: commit() without a transaction (internal error)");
    check_usable_in_tx();
    if (opening_) {
      if (pending_.empty()) {   // nothing ran: nothing was sent, nothing to end
        opening_ = false;
        opening_keys_.clear();
        in_tx_ = false;
        return;
      }
      // Queued writes only: the transaction id must be known before COMMIT
      // goes (a COMMIT lost with the connection is resolved by that id).
      try {
        send_queued();
      } catch (...) {
        fail("the opening of a transaction", false);
      }
    }
    // COMMIT and the unlock share a segment: if COMMIT fails, the unlock is
    // skipped with it and the error path below unlocks.
    Batch b(raw_);
    add_pending(b);
    add(b, "s3l_commit", "COMMIT", {});
    if (locked_) add(b, "s3l_unlock_all", "SELECT pg_advisory_unlock_all()", {});
    const int backend = PQbackendPID(raw_);
    try {
      send(b);
    } catch (...) {
      in_tx_ = false;
      if (lost_connection()) {
        broken_ = true;   // the session, and with it its advisory locks, is gone
        locked_ = false;
        resolve_in_doubt(xid_, backend, scrub(what_failed()));   // returns only if it committed
        return;
      }
      // An answer from the server: a queued statement or COMMIT itself failed
      // (serialization failure, unique key...) and the transaction is rolled
      // back, or, in theory, the unlock after a good COMMIT failed. Leave any
      // aborted transaction block, unlock, and ask rather than guess.
      end_on_server(true);
      if (xid_ && !broken_ && status_of(*xid_) == "committed") {
        spdlog::warn("postgres {}: transaction {} committed; what failed after it: {}", u_.safe, *xid_,
                     scrub(what_failed()));
        return;
      }
      fail("COMMIT", true);
    }
    in_tx_ = false;
    locked_ = false;
  }

  void rollback() noexcept override {
    lock_req_.clear();
    pending_.clear();
    const bool sent = !opening_;   // else no transaction (and no lock) exists on the server
    opening_ = false;
    opening_keys_.clear();
    end_on_server(in_tx_ && sent);
    in_tx_ = false;
  }

  // Session-level advisory locks, taken BEFORE the transaction starts: the
  // transaction's snapshot is then taken after the previous holder committed,
  // so transactions on the same directory or file queue instead of failing
  // with serialization errors (pg_advisory_xact_lock would be taken after the
  // snapshot and not help). Keys come sorted: no deadlock between clients.
  // The wait is unbounded unless the URL sets lock_timeout (SQLSTATE 55P03).
  // They go with the opening of the transaction that follows.
  void lock_keys(const std::vector<int64_t>& keys) override {
    if (in_tx_) throw DbError(EIO, false, "postgres: lock_keys() inside a transaction (internal error)");
    lock_req_ = keys;
  }

  void run_later(SqlStmt& st) override {
    auto& s = static_cast<PgStmt&>(st);
    if (!in_tx_ || !write_) {   // nothing to share a round trip with
      SqlConn::run_later(st);
      return;
    }
    check_usable_in_tx();
    pending_.push_back(Queued{s.name(), s.sql(), s.params()});
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
  bool writable_ctes() const override { return true; }

  PgResult run(PgStmt& s) {
    if (!in_tx_) ensure_connected();
    check_usable_in_tx();
    try {
      // The opening and queued statements first, this one last, in one
      // round trip.
      Batch b(raw_);
      add_opening(b);
      add_pending(b);
      size_t at = add(b, s.name(), s.sql(), s.params());
      send(b);
      return b.p.result(at);
    } catch (...) {
      fail(s.sql(), !in_tx_ && !starts_with_select(s.sql()) && !s.idempotent());
    }
  }

  std::string scrub(const std::string& msg) const { return scrub_secrets(one_line(msg), u_.secrets); }

 private:
  void connect() {
    drop_connection();
    t_new_handle = nullptr;
    c_ = std::make_unique<PqxxConnection>(u_.conninfo);
    raw_ = t_new_handle;
    t_new_handle = nullptr;
    if (!raw_) throw std::runtime_error("libpqxx made a connection without a libpq handle");
    // Never reconnect behind our back (see the top of this file).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    c_->inhibit_reactivation(true);
#pragma GCC diagnostic pop
    notices_ = std::make_unique<NoticeToLog>(*c_);
    // Statements outside BEGIN (lookups, the one-statement mknod of
    // meta/sql_mknod_cte.cpp) are written for READ COMMITTED: a statement that
    // waited for a lock sees what the holder committed. A server or role
    // default of SERIALIZABLE would make them fail and rerun instead.
    send("SET default_transaction_isolation TO 'read committed'");
    broken_ = false;
    locked_ = false;   // a new session holds no advisory locks
    prepared_.clear();   // every statement must be prepared again on this connection
    stale_.clear();
  }

  void drop_connection() noexcept {
    in_tx_ = false;
    pending_.clear();
    notices_.reset();
    if (c_) {
      try {
        c_->disconnect();
      } catch (...) {
      }
    }
    c_.reset();
    raw_ = nullptr;
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

  // One simple-query message (schema DDL): the statements run in order, the
  // result is that of the last one; the first error skips the rest.
  void send(const std::string& sql) {
    pqxx::nontransaction n(*c_);
    n.exec(sql);
  }

  bool has_queued() const { return opening_ || !pending_.empty(); }

  // One round trip under construction, with the statements it prepares on
  // the way and where the transaction id will be.
  struct Batch {
    explicit Batch(pg_conn* c) : p(c) {}
    PgPipeline p;
    std::vector<std::pair<size_t, std::string>> prepares;   // answer index, name
    std::unordered_set<std::string> preparing;
    std::optional<size_t> xid_at;
  };

  // Adds the execution of a prepared statement (preparing it first if this
  // connection has not yet).
  size_t add(Batch& b, const std::string& name, const std::string& sql,
             const std::vector<std::optional<std::string>>& params) {
    if (!prepared_.count(name) && b.preparing.insert(name).second) b.prepares.emplace_back(b.p.prepare(name, sql), name);
    return b.p.run_prepared(name, params);
  }

  // The transaction's opening, if it has not gone yet. The advisory locks
  // are taken in a short transaction of their own that commits before the
  // real BEGIN, so that the real one's snapshot is taken after they are held
  // (a lock taken inside it would come after its snapshot). All in one
  // segment: a Sync would flush and wake the server once more.
  void add_opening(Batch& b) {
    if (!opening_) return;
    opening_ = false;
    if (!opening_keys_.empty()) {
      locked_ = true;   // before sending: if it fails half way, unlock anyway
      // Names of their own: "s3l_commit" is the COMMIT that ends a caller's
      // transaction (tests/support/pg_proxy.cpp recognises it on the wire).
      add(b, "s3l_lock_begin", "BEGIN", {});
      for (int64_t k : opening_keys_) add(b, "s3l_lock", "SELECT pg_advisory_lock($1::bigint)", {std::to_string(k)});
      add(b, "s3l_lock_end", "COMMIT", {});
      opening_keys_.clear();
    }
    if (write_) {
      add(b, "s3l_begin_w", "BEGIN ISOLATION LEVEL SERIALIZABLE", {});
      b.xid_at = add(b, "s3l_txid", "SELECT txid_current()", {});
    } else {
      add(b, "s3l_begin_r", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", {});
    }
  }

  void add_pending(Batch& b) {
    for (const Queued& q : pending_) add(b, q.name, q.sql, q.params);
    pending_.clear();
  }

  // Sends the batch; learns which statements are now prepared and the
  // transaction id, even when a later statement failed.
  void send(Batch& b) {
    auto learn = [&] {
      for (const auto& [at, name] : b.prepares)
        if (b.p.ok(at)) prepared_.insert(name);
    };
    try {
      b.p.send();
    } catch (...) {
      learn();
      throw;
    }
    learn();
    if (b.xid_at) {
      const PgResult& r = b.p.result(*b.xid_at);
      int64_t xid = 0;
      const char* v = r.rows() == 1 && !r.is_null(0, 0) ? r.value(0, 0) : "";
      auto [end, ec] = std::from_chars(v, v + std::strlen(v), xid);
      if (ec != std::errc() || end == v) throw DbError(EIO, false, "postgres: BEGIN gave no transaction id");
      xid_ = xid;
    }
  }

  // Sends the opening and queued statements now, in one round trip (before
  // schema DDL, or before a COMMIT that must know the transaction id).
  void send_queued() {
    Batch b(raw_);
    add_opening(b);
    add_pending(b);
    if (!b.p.empty()) send(b);
  }

  // Ends what this session holds on the server: the transaction block if
  // `tx` and one is open (ROLLBACK) and the advisory locks, in one round
  // trip. A lost session's locks went with it; never reconnect just to unlock.
  void end_on_server(bool tx) noexcept {
    const bool unlock = locked_;
    locked_ = false;
    if ((!tx && !unlock) || broken_ || !raw_ || PQstatus(raw_) != CONNECTION_OK) return;
    // A failed COMMIT has ended its transaction already: no ROLLBACK (the
    // server would warn that there is no transaction in progress).
    const bool open = tx && PQtransactionStatus(raw_) != PQTRANS_IDLE;
    if (!open && !unlock) return;
    try {
      PgPipeline p(raw_);
      if (open) {
        p.run("ROLLBACK");
        p.sync();
      }
      if (unlock) p.run("SELECT pg_advisory_unlock_all()");
      p.send();
    } catch (...) {
      // Unknown state: drop the session so that the server frees the locks.
      broken_ = true;
    }
  }

  // txid_status of a finished transaction on this connection, "" if unknown.
  std::string status_of(int64_t xid) noexcept {
    try {
      PgPipeline p(raw_);
      size_t at = p.run("SELECT txid_status(" + std::to_string(xid) + ")");
      p.send();
      const PgResult& r = p.result(at);
      return r.rows() == 0 || r.is_null(0, 0) ? std::string() : std::string(r.value(0, 0));
    } catch (...) {
      broken_ = true;
      return std::string();
    }
  }

  // For the exception in flight: did the connection go (rather than the
  // server answering with an error)?
  bool lost_connection() {
    if (!c_ || !c_->is_open()) return true;
    try {
      throw;
    } catch (const pqxx::broken_connection&) {
      return true;
    } catch (const pqxx::statement_completion_unknown&) {
      return true;
    } catch (const pqxx::sql_error& e) {
      const std::string state = e.sqlstate();
      return state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0;
    } catch (...) {
      return false;
    }
  }

  static std::string what_failed() {
    try {
      throw;
    } catch (const std::exception& e) {
      return e.what();
    } catch (...) {
      return "unknown error";
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
    if (in_tx_ && broken_)
      throw DbError(EIO, true, "postgres " + u_.safe + ": connection lost during the transaction");
  }

  void deallocate_stale() noexcept {
    if (stale_.empty()) return;
    try {
      PgPipeline p(raw_);
      for (const std::string& name : stale_) {
        p.run("DEALLOCATE " + name);
        p.sync();   // one unknown name must not keep the others
      }
      p.send();
    } catch (...) {
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
  std::unique_ptr<PqxxConnection> c_;
  pg_conn* raw_ = nullptr;   // c_'s libpq handle
  std::unique_ptr<NoticeToLog> notices_;
  bool in_tx_ = false;    // a transaction block is (or may be) open on the server
  bool broken_ = false;
  bool locked_ = false;   // advisory locks of lock_keys() may be held
  bool write_ = false;    // the open transaction is a write transaction
  std::optional<int64_t> xid_;       // its id (write transactions)
  std::vector<int64_t> lock_req_;    // lock_keys() for the next begin()
  bool opening_ = false;              // begin()'s opening has not been sent yet
  std::vector<int64_t> opening_keys_;  // the advisory locks it takes
  struct Queued {
    std::string name, sql;
    std::vector<std::optional<std::string>> params;
  };
  std::vector<Queued> pending_;        // run_later() statements not sent yet
  std::unordered_set<std::string> prepared_;   // statement names prepared on this connection
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
    changes_ = result_.affected_rows();
  } else if (row_ < result_.rows()) {
    ++row_;
  }
  return row_ < result_.rows();
}

std::string PgStmt::col_blob(int i) {
  check(i);
  if (result_.is_null(row_, i)) return std::string();
  const char* p = result_.value(row_, i);
  size_t n = result_.length(row_, i);
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
  size_t len = 0;   // bytea_output = escape
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(p), &len);
  if (!raw) throw DbError(EIO, false, "postgres: malformed bytea value in: " + short_sql(sql_));
  std::string out(reinterpret_cast<const char*>(raw), len);
  PQfreemem(raw);
  return out;
}

}  // namespace

Result<std::unique_ptr<SqlConn>> open_pg_conn(const PgUrl& u, bool /*create: the database must exist*/) {
  auto conn = std::make_unique<PgConn>(u);
  if (Status st = conn->connect_first(); !st.ok()) return st;
  spdlog::debug("opened {}", conn->describe());
  return std::unique_ptr<SqlConn>(std::move(conn));
}

}  // namespace s3l::meta
