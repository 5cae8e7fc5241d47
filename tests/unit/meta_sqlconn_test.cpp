// SqlConn::run_later on every engine: statements queued without waiting for
// their answer (PostgreSQL sends them with the next statement or COMMIT) keep
// their order, belong to their transaction, and their failure fails it.
#define BOOST_TEST_MODULE meta_sqlconn
#include "meta_fixture.hpp"

#include <chrono>
#include <future>
#include <thread>

using namespace s3l;
using namespace s3l::meta;
using namespace s3l::meta::test;
using namespace std::chrono_literals;

namespace {

struct ConnFixture {
  std::string dir, url;
  std::unique_ptr<SqlConn> c;

  ConnFixture() {
    const char* env = std::getenv("S3L_TEST_META_URL");
    if (env && *env) {
      url = env;
    } else {
      dir = make_temp_dir();
      url = "sqlite3://" + dir + "/meta.db?sync=normal";
    }
    c = open_conn();
    c->exec("DROP TABLE IF EXISTS later_t");
    c->exec("CREATE TABLE later_t (k BIGINT PRIMARY KEY, v BIGINT NOT NULL)");
  }
  ~ConnFixture() {
    c.reset();
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
  std::unique_ptr<SqlConn> open_conn() {
    auto r = open_sql_conn(url, true);
    BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
    return std::move(*r);
  }
  void insert_later(SqlConn& conn, int64_t k, int64_t v) {
    Query(conn, "INSERT INTO later_t (k, v) VALUES ($1, $2)").bind(1, k).bind(2, v).later();
  }
  int64_t value(SqlConn& conn, int64_t k) {
    Query q(conn, "SELECT v FROM later_t WHERE k = $1");
    q.bind(1, k);
    return q.next() ? q.i64(0) : -1;
  }
  int64_t rows(SqlConn& conn) {
    Query q(conn, "SELECT COUNT(*) FROM later_t");
    BOOST_REQUIRE(q.next());
    return q.i64(0);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(run_later, ConnFixture)

BOOST_AUTO_TEST_CASE(queued_statements_run_in_order_before_the_next_read_and_commit) {
  c->lock_keys({5});
  c->begin(true);
  insert_later(*c, 1, 10);
  Query(*c, "UPDATE later_t SET v = v + 1 WHERE k = $1").bind(1, 1).later();
  BOOST_TEST(value(*c, 1) == 11);   // the read comes after both, in order
  insert_later(*c, 2, 20);
  Query(*c, "UPDATE later_t SET v = v * 3 WHERE k = $1").bind(1, 2).later();
  c->commit();   // the last two go with COMMIT
  auto other = open_conn();
  BOOST_TEST(value(*other, 1) == 11);
  BOOST_TEST(value(*other, 2) == 60);
}

BOOST_AUTO_TEST_CASE(rollback_drops_queued_statements) {
  c->begin(true);
  insert_later(*c, 1, 10);
  c->rollback();
  BOOST_TEST(rows(*c) == 0);
  // Outside a transaction a queued statement runs at once.
  insert_later(*c, 3, 30);
  auto other = open_conn();
  BOOST_TEST(value(*other, 3) == 30);
}

BOOST_AUTO_TEST_CASE(a_failing_queued_statement_fails_the_whole_transaction) {
  insert_later(*c, 1, 10);   // autocommit
  bool failed = false;
  c->lock_keys({7});
  c->begin(true);
  try {
    insert_later(*c, 2, 20);
    insert_later(*c, 1, 11);   // duplicate key: fails here (SQLite) or at COMMIT
    insert_later(*c, 4, 40);
    c->commit();
  } catch (const DbError& e) {
    failed = true;
    c->rollback();
  }
  BOOST_TEST(failed);
  auto other = open_conn();
  BOOST_TEST(rows(*other) == 1);   // none of the transaction's rows
  BOOST_TEST(value(*other, 1) == 10);
  // The connection is usable, and the failed transaction's locks are gone:
  // another connection gets the same key at once (PostgreSQL would wait
  // forever for a leaked advisory lock: give up after 20 s instead).
  if (other->engine() == "postgres") other->exec("SET lock_timeout = '20s'");
  other->lock_keys({7});
  other->begin(true);
  insert_later(*other, 5, 50);
  other->commit();
  c->begin(true);
  insert_later(*c, 6, 60);
  c->commit();
  BOOST_TEST(rows(*c) == 3);
}

BOOST_AUTO_TEST_CASE(a_lost_update_is_impossible_with_queued_writes) {
  // Two connections increment one row 50 times each with queued UPDATEs under
  // the same key: every increment lands (retried on conflicts like SqlMeta).
  insert_later(*c, 1, 0);
  auto inc = [&](SqlConn& conn) -> std::string {   // no Boost.Test calls off the main thread
    for (int i = 0; i < 50; ++i) {
      for (int attempt = 1;; ++attempt) {
        try {
          conn.lock_keys({9});
          conn.begin(true);
          if (value(conn, 1) < 0) return "row missing";
          Query(conn, "UPDATE later_t SET v = v + 1 WHERE k = $1").bind(1, 1).later();
          conn.commit();
          break;
        } catch (const DbError& e) {
          conn.rollback();
          if (!e.retryable || attempt >= 60) return e.what();
          std::this_thread::sleep_for(1ms);
        }
      }
    }
    return "";
  };
  auto other = open_conn();
  auto t = std::async(std::launch::async, [&] { return inc(*other); });
  BOOST_TEST(inc(*c) == "");
  BOOST_TEST(t.get() == "");
  BOOST_TEST(value(*c, 1) == 100);
}

BOOST_AUTO_TEST_SUITE_END()
