// The PostgreSQL engine against a real server this test starts: error
// classification (what is retried), lost connections and server restarts,
// and that the password never shows up in anything printable.
#define BOOST_TEST_MODULE pg_conn
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "meta/meta.hpp"
#include "meta/sql_conn.hpp"
#include "tests/support/pg_server.hpp"

using namespace s3l;
using namespace s3l::meta;
using namespace std::chrono_literals;

namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000'000;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

VolumeSettings settings() {
  VolumeSettings s;
  s.name = "pgvol";
  s.uuid = "5d3f1a8e-0c4b-4f0e-9b1e-2a7c6d5e4f30";
  s.block_size = 64 << 10;
  s.chunk_size = 256 << 10;
  s.storage_url = "file:///tmp/s3l-pg-test-store";
  s.created_ns = kT0;
  return s;
}

// One server for the whole module: starting one takes about a second.
struct Server {
  test::PgServer pg;
  Server() { BOOST_TEST_MESSAGE("PostgreSQL at " << pg.url() << " (" << pg.dir() << ")"); }
};
Server* g_server = nullptr;
struct ServerFixture {
  ServerFixture() { g_server = new Server; }
  ~ServerFixture() {
    delete g_server;
    g_server = nullptr;
  }
};
BOOST_TEST_GLOBAL_FIXTURE(ServerFixture);
test::PgServer& pg() { return g_server->pg; }

std::unique_ptr<SqlConn> conn() {
  auto c = open_sql_conn(pg().url(), false);
  BOOST_REQUIRE_MESSAGE(c.ok(), c.msg());
  return std::move(*c);
}

std::unique_ptr<Meta> formatted_meta() {
  auto m = open_meta(pg().url(), true);
  BOOST_REQUIRE_MESSAGE(m.ok(), m.msg());
  Status st = (*m)->format(settings(), 0, 0, true);
  BOOST_REQUIRE_MESSAGE(st.ok(), st.msg);
  return std::move(*m);
}

// Ends every session of our engine (application_name s3layerfs) from outside,
// like a server-side timeout or a proxy dropping connections.
void terminate_our_backends() {
  std::string n = pg().psql(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 's3layerfs'");
  if (!n.empty() && n.back() == '\n') n.pop_back();
  BOOST_TEST_MESSAGE("terminated " << n << " backend(s)");
}

// Runs `f`, expecting a DbError; returns it.
template <class F>
DbError expect_db_error(F&& f) {
  try {
    f();
  } catch (const DbError& e) {
    return e;
  }
  BOOST_FAIL("expected a DbError");
  return DbError(0, false, "");
}

void make_table(SqlConn& c) {
  c.exec("DROP TABLE IF EXISTS t; CREATE TABLE t (k BIGINT PRIMARY KEY, v BIGINT NOT NULL); "
         "INSERT INTO t VALUES (1, 0), (2, 0)");
}

}  // namespace

BOOST_AUTO_TEST_CASE(engine_and_safe_description) {
  const std::string with_pw = "postgres://postgres:NotShown123@127.0.0.1:" + std::to_string(pg().port()) + "/s3l";
  auto c = open_sql_conn(with_pw, false);   // trust authentication: the password is never asked for
  BOOST_REQUIRE_MESSAGE(c.ok(), c.msg());
  BOOST_TEST((*c)->engine() == "postgres");
  BOOST_TEST((*c)->describe() == "postgres://postgres@127.0.0.1:" + std::to_string(pg().port()) + "/s3l");
  // An SQL error message names the database but never the password.
  DbError e = expect_db_error([&] { (*c)->exec("SELECT * FROM no_such_table"); });
  BOOST_TEST(!e.retryable);
  BOOST_TEST(e.err == EIO);
  BOOST_TEST(contains(e.what(), "no_such_table"));
  BOOST_TEST(contains(e.what(), "42P01"));
  BOOST_TEST(!contains(e.what(), "NotShown123"));
}

BOOST_AUTO_TEST_CASE(missing_database_is_enoent_with_the_server_message) {
  auto m = open_meta(pg().url_for("nope") + "?password=NotShown456", false);
  BOOST_REQUIRE(!m.ok());
  BOOST_TEST(m.err() == ENOENT);
  BOOST_TEST(contains(m.msg(), "\"nope\" does not exist"), m.msg());
  BOOST_TEST(!contains(m.msg(), "NotShown456"));
}

BOOST_AUTO_TEST_CASE(unformatted_database_says_so) {
  pg().create_database("empty");
  auto m = open_meta(pg().url_for("empty"), false);
  BOOST_REQUIRE_MESSAGE(m.ok(), m.msg());
  auto s = (*m)->load_settings();
  BOOST_TEST(s.err() == ENODATA);
  BOOST_TEST(contains(s.msg(), "holds no formatted"));
}

BOOST_AUTO_TEST_CASE(serialization_failure_is_retryable) {
  auto a = conn(), b = conn();
  make_table(*a);
  a->begin(true);
  b->begin(true);
  BOOST_TEST(Query(*a, "SELECT v FROM t WHERE k = 1").next());
  BOOST_TEST(Query(*b, "SELECT v FROM t WHERE k = 1").next());
  BOOST_TEST(Query(*a, "UPDATE t SET v = v + 1 WHERE k = $1").bind(1, 1).run() == 1);
  a->commit();
  // b's snapshot predates a's update of the same row.
  DbError e = expect_db_error([&] { Query(*b, "UPDATE t SET v = v + 1 WHERE k = $1").bind(1, 1).run(); });
  BOOST_TEST(e.retryable);
  BOOST_TEST(contains(e.what(), "40001"), e.what());
  b->rollback();
  // The connection is fine afterwards.
  b->begin(false);
  Query q(*b, "SELECT v FROM t WHERE k = 1");
  BOOST_REQUIRE(q.next());
  BOOST_TEST(q.i64(0) == 1);
}

BOOST_AUTO_TEST_CASE(write_skew_is_a_serialization_failure) {
  // Each reads the row the other one writes: no common row is written, only
  // SERIALIZABLE notices. One of the two must fail, retryably.
  auto a = conn(), b = conn();
  make_table(*a);
  a->begin(true);
  b->begin(true);
  Query(*a, "SELECT v FROM t WHERE k = 2").run();
  Query(*b, "SELECT v FROM t WHERE k = 1").run();
  Query(*a, "UPDATE t SET v = 10 WHERE k = 1").run();
  Query(*b, "UPDATE t SET v = 20 WHERE k = 2").run();
  a->commit();
  DbError e = expect_db_error([&] { b->commit(); });
  BOOST_TEST(e.retryable);
  BOOST_TEST(contains(e.what(), "40001"), e.what());
  b->rollback();
}

BOOST_AUTO_TEST_CASE(deadlock_is_retryable) {
  auto a = conn(), b = conn();
  make_table(*a);
  a->begin(true);
  b->begin(true);
  Query(*a, "UPDATE t SET v = 1 WHERE k = 1").run();
  Query(*b, "UPDATE t SET v = 1 WHERE k = 2").run();
  // a now waits for b's row; b then waits for a's row: a deadlock, detected
  // after deadlock_timeout (1 s), kills one of them.
  auto fa = std::async(std::launch::async, [&]() -> std::string {
    try {
      Query(*a, "UPDATE t SET v = 2 WHERE k = 2").run();
      return "";
    } catch (const DbError& e) {
      return std::string(e.retryable ? "retryable: " : "final: ") + e.what();
    }
  });
  std::this_thread::sleep_for(200ms);
  std::string eb;
  try {
    Query(*b, "UPDATE t SET v = 2 WHERE k = 1").run();
  } catch (const DbError& e) {
    eb = std::string(e.retryable ? "retryable: " : "final: ") + e.what();
  }
  if (!eb.empty()) b->rollback();   // let a go on
  std::string ea = fa.get();
  if (!ea.empty()) a->rollback();
  // Exactly one was chosen as the victim, with 40P01 (or 40001), retryable.
  BOOST_TEST((ea.empty() != eb.empty()), "a: " << ea << " | b: " << eb);
  const std::string& victim = ea.empty() ? eb : ea;
  BOOST_TEST(victim.rfind("retryable: ", 0) == 0, victim);
  BOOST_TEST((contains(victim, "40P01") || contains(victim, "40001")), victim);
  a->rollback();
  b->rollback();
}

BOOST_AUTO_TEST_CASE(locked_keys_make_writers_queue_instead_of_conflicting) {
  // Without the lock, b's update of the row a changed after b's snapshot is
  // a 40001 (serialization_failure_is_retryable). With lock_keys, b waits
  // before its BEGIN, so its snapshot includes a's commit and it just
  // succeeds. (The locks and BEGIN go with the transaction's first
  // statement, in one round trip: that statement waits.)
  auto a = conn(), b = conn();
  make_table(*a);
  a->lock_keys({7, 42});
  a->begin(true);
  Query(*a, "UPDATE t SET v = v + 1 WHERE k = 1").run();
  std::atomic<bool> b_ran{false};
  auto fb = std::async(std::launch::async, [&]() -> std::string {
    try {
      b->lock_keys({42});
      b->begin(true);
      Query(*b, "UPDATE t SET v = v + 1 WHERE k = 1").run();
      b_ran = true;
      b->commit();
      return "";
    } catch (const DbError& e) {
      b->rollback();
      return e.what();
    }
  });
  std::this_thread::sleep_for(300ms);
  BOOST_TEST(!b_ran.load());   // still waiting for a
  a->commit();                 // releases the locks
  BOOST_TEST(fb.get() == "");
  BOOST_TEST(b_ran.load());
  Query q(*a, "SELECT v FROM t WHERE k = 1");
  BOOST_REQUIRE(q.next());
  BOOST_TEST(q.i64(0) == 2);   // both increments
  // A rollback releases them too.
  a->lock_keys({42});
  a->begin(true);
  Query(*a, "SELECT v FROM t WHERE k = 1").run();   // the locks are taken with it
  a->rollback();
  b->lock_keys({42});   // would block forever if a still held it
  b->begin(true);
  Query(*b, "UPDATE t SET v = v + 1 WHERE k = 1").run();
  b->commit();
  // A transaction that ran nothing sends nothing and holds nothing.
  a->lock_keys({42});
  a->begin(true);
  a->commit();
  b->lock_keys({42});
  b->begin(true);
  Query(*b, "UPDATE t SET v = v + 1 WHERE k = 1").run();
  b->commit();
  Query q2(*a, "SELECT v FROM t WHERE k = 1");
  BOOST_REQUIRE(q2.next());
  BOOST_TEST(q2.i64(0) == 4);
}

BOOST_AUTO_TEST_CASE(failed_commit_releases_the_locks_and_keeps_nothing) {
  // The unlock travels in COMMIT's segment; a statement queued in front of
  // COMMIT that fails (here a duplicate key, as when another client took a
  // name meanwhile) skips COMMIT and the unlock with it. The error path must
  // still roll back and unlock: a leaked lock would stall every later writer
  // of that key from every client.
  auto a = conn(), b = conn();
  make_table(*a);
  a->lock_keys({42});
  a->begin(true);
  BOOST_TEST(Query(*a, "UPDATE t SET v = v + 1 WHERE k = $1").bind(1, 2).run() == 1);
  Query(*a, "INSERT INTO t (k, v) VALUES ($1, 0)").bind(1, 1).later();   // k = 1 exists
  DbError e = expect_db_error([&] { a->commit(); });
  BOOST_TEST(contains(e.what(), "23505"), e.what());
  a->rollback();   // what SqlMeta::run does after any failure
  // (One statement object per SQL text and connection: scope each Query.)
  auto lock_is_free = [&] {
    Query q(*b, "SELECT pg_try_advisory_lock(42)");
    BOOST_REQUIRE(q.next());
    bool got = q.str(0) == "t";
    b->exec("SELECT pg_advisory_unlock_all()");
    return got;
  };
  BOOST_TEST(lock_is_free());   // a no longer holds it
  {
    Query v(*b, "SELECT v FROM t WHERE k = 2");
    BOOST_REQUIRE(v.next());
    BOOST_TEST(v.i64(0) == 0);   // the UPDATE before the failure was rolled back
  }
  // a is usable, and its next transaction takes and releases the lock again.
  a->lock_keys({42});
  a->begin(true);
  BOOST_TEST(Query(*a, "UPDATE t SET v = v + 1 WHERE k = $1").bind(1, 2).run() == 1);
  a->commit();
  BOOST_TEST(lock_is_free());
}

BOOST_AUTO_TEST_CASE(connection_lost_inside_a_transaction_is_retryable_and_reconnects) {
  auto c = conn();
  make_table(*c);
  c->begin(true);
  Query(*c, "UPDATE t SET v = 99 WHERE k = 1").run();
  terminate_our_backends();
  DbError e = expect_db_error([&] { Query(*c, "UPDATE t SET v = 100 WHERE k = 2").run(); });
  BOOST_TEST(e.retryable, e.what());
  BOOST_TEST(contains(e.what(), "connection lost"), e.what());
  BOOST_TEST_MESSAGE("lost in a transaction: " << e.what());
  c->rollback();
  // Next transaction: a new connection; the lost transaction left nothing.
  c->begin(false);
  Query q(*c, "SELECT v FROM t WHERE k = 1");
  BOOST_REQUIRE(q.next());
  BOOST_TEST(q.i64(0) == 0);
  q.run();
  c->commit();
}

BOOST_AUTO_TEST_CASE(lost_connection_outside_transactions) {
  auto c = conn();
  make_table(*c);
  terminate_our_backends();
  // A read is safe to rerun; a write in autocommit mode may have happened.
  DbError r = expect_db_error([&] { Query(*c, "SELECT v FROM t WHERE k = 1").run(); });
  BOOST_TEST(r.retryable, r.what());
  BOOST_TEST(Query(*c, "SELECT v FROM t WHERE k = 1").next());   // reconnected
  terminate_our_backends();
  DbError w = expect_db_error([&] { Query(*c, "UPDATE t SET v = 5 WHERE k = 1").run(); });
  BOOST_TEST(!w.retryable, w.what());
}

BOOST_AUTO_TEST_CASE(meta_survives_terminated_backends) {
  auto m = formatted_meta();
  auto a = m->mknod(kRootIno, "before", S_IFREG | 0644, 0, 0, 0, "", kT0);
  BOOST_REQUIRE_MESSAGE(a.ok(), a.msg());
  terminate_our_backends();
  auto g = m->getattr(a->ino);   // autocommit read: reconnect and rerun
  BOOST_REQUIRE_MESSAGE(g.ok(), g.msg());
  terminate_our_backends();
  auto b = m->mknod(kRootIno, "after", S_IFREG | 0644, 0, 0, 0, "", kT0);   // write transaction
  BOOST_REQUIRE_MESSAGE(b.ok(), b.msg());
  auto list = m->readdir(kRootIno);
  BOOST_REQUIRE(list.ok());
  BOOST_TEST(list->size() == 2u);
}

BOOST_AUTO_TEST_CASE(server_restart_during_operations) {
  auto m = formatted_meta();
  auto a = m->mknod(kRootIno, "kept", S_IFREG | 0644, 0, 0, 0, "", kT0);
  BOOST_REQUIRE(a.ok());
  pg().stop();
  // The server comes back after 2 s; the operation issued meanwhile waits
  // for it (reconnect window) instead of failing.
  auto restarter = std::async(std::launch::async, [] {
    std::this_thread::sleep_for(2s);
    pg().start();
  });
  auto t0 = std::chrono::steady_clock::now();
  auto b = m->mknod(kRootIno, "during", S_IFREG | 0644, 0, 0, 0, "", kT0);
  restarter.get();
  BOOST_TEST_MESSAGE("mknod across the restart took "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
                            .count()
                     << " ms");
  BOOST_REQUIRE_MESSAGE(b.ok(), b.msg());
  BOOST_TEST(m->lookup(kRootIno, "kept").ok());
  BOOST_TEST(m->lookup(kRootIno, "during")->ino == b->ino);
}

BOOST_AUTO_TEST_CASE(server_crash_keeps_committed_data) {
  auto m = formatted_meta();
  std::vector<uint64_t> inos;
  for (int i = 0; i < 20; ++i) {
    auto r = m->mknod(kRootIno, "f" + std::to_string(i), S_IFREG | 0644, 0, 0, 0, "", kT0);
    BOOST_REQUIRE(r.ok());
    inos.push_back(r->ino);
  }
  pg().kill_hard();   // SIGKILL: crash recovery on the next start
  pg().start();
  for (int i = 0; i < 20; ++i) {
    auto l = m->lookup(kRootIno, "f" + std::to_string(i));
    BOOST_REQUIRE_MESSAGE(l.ok(), l.msg());
    BOOST_TEST(l->ino == inos[i]);
  }
  auto r = m->mknod(kRootIno, "g", S_IFREG | 0644, 0, 0, 0, "", kT0);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  auto problems = m->check_consistency();
  BOOST_REQUIRE(problems.ok());
  BOOST_TEST(problems->empty());
}

BOOST_AUTO_TEST_CASE(server_gone_for_good_fails_with_a_clear_eio) {
  auto m = formatted_meta();
  pg().stop();
  auto t0 = std::chrono::steady_clock::now();
  auto r = m->mknod(kRootIno, "never", S_IFREG | 0644, 0, 0, 0, "", kT0);
  auto waited_s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0).count();
  BOOST_TEST(r.err() == EIO);
  BOOST_TEST(contains(r.msg(), "cannot connect to PostgreSQL"), r.msg());
  BOOST_TEST_MESSAGE("server gone: " << r.msg());
  BOOST_TEST(waited_s >= 10);   // it waited for the server (the window is 15 s) ...
  BOOST_TEST(waited_s < 60);    // ... but not forever
  // Once the outage is older than the window, each operation fails at once.
  auto t1 = std::chrono::steady_clock::now();
  auto g = m->getattr(kRootIno);
  BOOST_TEST(g.err() == EIO);
  BOOST_TEST(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t1).count() < 5);
  pg().start();
  auto ok = m->getattr(kRootIno);
  BOOST_TEST(ok.ok(), ok.msg());
}

BOOST_AUTO_TEST_CASE(text_that_postgres_cannot_store_is_a_clear_error) {
  auto m = open_meta(pg().url(), true);
  BOOST_REQUIRE(m.ok());
  VolumeSettings s = settings();
  s.name = std::string("bad\xff\xfe", 5);   // not UTF-8: the database encoding refuses it
  Status st = (*m)->format(s, 0, 0, true);
  BOOST_TEST(st.err == EILSEQ, st.msg);
  BOOST_TEST_MESSAGE("invalid UTF-8: " << st.msg);
  s.name = std::string("nul\0inside", 10);
  st = (*m)->format(s, 0, 0, true);
  BOOST_TEST(st.err == EINVAL, st.msg);
  BOOST_TEST(contains(st.msg, "NUL"), st.msg);
}
