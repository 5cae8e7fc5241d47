// The meta service (actors/meta_service.hpp): it opens exactly the connections
// asked for and closes them at exit; read-only requests are answered while a
// write transaction waits for a lock (and queue behind it when there are no
// reader connections: the control case showing what the test would catch);
// on PostgreSQL writes of different inodes proceed while one waits; many
// concurrent clients all succeed. Runs on SQLite and, as meta_service_test_pg,
// on PostgreSQL (S3L_TEST_META_URL).
#define BOOST_TEST_MODULE meta_service
#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "actors/bridge.hpp"
#include "actors/meta_service.hpp"
#include "tests/unit/meta_fixture.hpp"

using namespace s3l;
using namespace s3l::meta;
using namespace s3l::meta::test;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr auto kHold = milliseconds(1500);   // how long a test blocks the writer

int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

bool is_sqlite(const std::string& url) { return url.rfind("sqlite3://", 0) == 0; }

// The service's connections are told apart from the fixture's on PostgreSQL by
// their application_name; on SQLite by the file descriptors of this process.
struct ServiceFixture : MetaFixture {
  std::string app = "s3l-svc-" + std::to_string(::getpid());
  std::string svc_url() const {
    if (is_sqlite(url)) return url;
    return url + (url.find('?') == std::string::npos ? "?" : "&") + "application_name=" + app;
  }
  MetaFactory factory() const {
    std::string u = svc_url();
    return [u] { return open_meta(u, false); };
  }

  // SQLite: descriptors open on the database file; PostgreSQL: server sessions
  // named `app` (counted from a connection of its own).
  int connections() {
    if (is_sqlite(url)) {
      std::string db = url.substr(std::string("sqlite3://").size());
      db = db.substr(0, db.find('?'));
      int n = 0;
      DIR* d = ::opendir("/proc/self/fd");
      BOOST_REQUIRE(d);
      while (struct dirent* e = ::readdir(d)) {
        char target[4096];
        std::string p = std::string("/proc/self/fd/") + e->d_name;
        ssize_t len = ::readlink(p.c_str(), target, sizeof target - 1);
        if (len > 0 && std::string(target, static_cast<size_t>(len)) == db) ++n;
      }
      ::closedir(d);
      return n;
    }
    auto c = open_sql_conn(url, false);
    BOOST_REQUIRE_MESSAGE(c.ok(), c.msg());
    Query q(**c, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + app + "'");
    BOOST_REQUIRE(q.next());
    return static_cast<int>(q.i64(0));
  }
  // Waits until connections() == n (PostgreSQL ends a backend asynchronously).
  int settle(int n) {
    int c = connections();
    for (int i = 0; i < 100 && c != n; ++i) {
      std::this_thread::sleep_for(milliseconds(50));
      c = connections();
    }
    return c;
  }

  // Holds what a write transaction creating an entry in `dir` needs, from a
  // connection outside the service: SQLite's write lock (BEGIN IMMEDIATE),
  // or on PostgreSQL the advisory lock SqlMeta takes on the parent.
  std::unique_ptr<SqlConn> block_writes_in(uint64_t dir) {
    auto c = open_sql_conn(url, false);
    BOOST_REQUIRE_MESSAGE(c.ok(), c.msg());
    if (is_sqlite(url)) (*c)->begin(true);
    else (*c)->exec("SELECT pg_advisory_lock(" + std::to_string(dir) + ")");
    return std::move(*c);
  }
  void unblock(std::unique_ptr<SqlConn>& c) {
    if (is_sqlite(url)) c->rollback();
    else c->exec("SELECT pg_advisory_unlock_all()");
    c.reset();
  }
};

// An actor system with a meta service; shut down (connections closed) at scope end.
struct Service {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor actor;
  Service(const MetaFactory& f, size_t readers, size_t writers) {
    sys = std::make_unique<caf::actor_system>(cfg);
    auto s = spawn_meta_service(*sys, f, readers, writers);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.msg());
    actor = s.value;
  }
  ~Service() {
    Bridge::release_this_thread();
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    actor = nullptr;
    sys.reset();   // waits for every actor: the connections are closed after this
  }
  Result<Attr> mknod(uint64_t parent, const std::string& name, uint32_t mode = S_IFREG | 0644) {
    Bridge b(*sys);
    auto r = b.call<Attr>(actor, kMetaWait, msg::mknod_atom::value, parent, name, mode, kUid, kGid,
                          uint64_t{0}, std::string(), kT0);
    Bridge::release_this_thread();
    return r;
  }
  Result<Attr> getattr(uint64_t ino) {
    Bridge b(*sys);
    auto r = b.call<Attr>(actor, kMetaWait, msg::getattr_atom::value, ino);
    Bridge::release_this_thread();
    return r;
  }
  Result<Attr> lookup(uint64_t parent, const std::string& name) {
    Bridge b(*sys);
    auto r = b.call<Attr>(actor, kMetaWait, msg::lookup_atom::value, parent, name);
    Bridge::release_this_thread();
    return r;
  }
  Result<std::vector<Entry>> readdir(uint64_t ino) {
    Bridge b(*sys);
    auto r = b.call<std::vector<Entry>>(actor, kMetaWait, msg::readdir_atom::value, ino);
    Bridge::release_this_thread();
    return r;
  }
};

// Starts mknod(parent, name) on a thread of its own; the future holds the result.
std::future<Result<Attr>> mknod_async(Service& s, uint64_t parent, const std::string& name) {
  return std::async(std::launch::async, [&s, parent, name] { return s.mknod(parent, name); });
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(opens_exactly_the_connections_asked_for_and_closes_them, ServiceFixture) {
  // SQLite defers closing a descriptor while another connection of the process
  // holds a lock on the file: close the fixture's own connection first.
  m.reset();
  const int base = connections();
  BOOST_TEST(base == 0);
  for (auto [readers, writers] : {std::pair<size_t, size_t>{1, 1}, {7, 1}, {4, 4}}) {
    const int n = static_cast<int>(readers + writers);
    {
      Service s(factory(), readers, writers);
      BOOST_TEST(settle(base + n) == base + n);
      auto a = s.getattr(kRootIno);
      BOOST_TEST_REQUIRE(a.ok(), a.msg());
    }
    BOOST_TEST(settle(base) == base, "connections left open after the service exited");
  }
}

BOOST_FIXTURE_TEST_CASE(a_failing_connection_is_named_and_the_others_are_closed, ServiceFixture) {
  MetaFactory ok = factory();
  int calls = 0;
  MetaFactory third_fails = [&]() -> Result<std::unique_ptr<Meta>> {
    if (++calls == 3) return Status::Error(ECONNREFUSED, "server said no");
    return ok();
  };
  m.reset();
  const int base = connections();
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto s = spawn_meta_service(sys, third_fails, 3, 1);
  BOOST_TEST_REQUIRE(!s.ok());
  BOOST_TEST(s.err() == ECONNREFUSED);
  BOOST_TEST(s.msg() == "connection 3 of 4: server said no");
  BOOST_TEST(settle(base) == base, "the two connections opened before the failure are still open");
  auto none = spawn_meta_service(sys, ok, 2, 0);
  BOOST_TEST(!none.ok());
  BOOST_TEST(none.err() == EINVAL);
}

// The property --meta-conns exists for: a write waiting for a lock (another
// client's transaction) does not hold up lookups and getattrs.
BOOST_FIXTURE_TEST_CASE(reads_do_not_queue_behind_a_waiting_write, ServiceFixture) {
  Service s(factory(), 2, 1);
  auto blocker = block_writes_in(kRootIno);
  const auto t0 = Clock::now();
  auto pending = mknod_async(s, kRootIno, "waits");
  std::this_thread::sleep_for(milliseconds(200));   // the mknod is now waiting in the writer
  BOOST_TEST((pending.wait_for(milliseconds(0)) == std::future_status::timeout),
             "the mknod did not wait for the lock: the test blocks nothing");
  for (int i = 0; i < 20; ++i) {
    const auto t = Clock::now();
    auto a = s.getattr(kRootIno);
    BOOST_TEST_REQUIRE(a.ok(), a.msg());
    auto l = s.lookup(kRootIno, "missing");
    BOOST_TEST(l.err() == ENOENT, l.msg());
    auto d = s.readdir(kRootIno);
    BOOST_TEST_REQUIRE(d.ok(), d.msg());
    BOOST_TEST(ms_since(t) < 300, "reads took " << ms_since(t) << " ms while a write waited");
  }
  BOOST_TEST((pending.wait_for(milliseconds(0)) == std::future_status::timeout));
  std::this_thread::sleep_until(t0 + kHold);
  unblock(blocker);
  auto r = pending.get();
  BOOST_TEST_REQUIRE(r.ok(), r.msg());
  BOOST_TEST(ms_since(t0) >= kHold.count());
  auto l = s.lookup(kRootIno, "waits");
  BOOST_TEST_REQUIRE(l.ok(), l.msg());
  BOOST_TEST(l->ino == r->ino);
}

// Control: with no reader connection the same getattr waits for the write.
// (If this ever passes quickly, the test above proves nothing.)
BOOST_FIXTURE_TEST_CASE(without_readers_reads_queue_behind_the_write, ServiceFixture) {
  Service s(factory(), 0, 1);
  auto blocker = block_writes_in(kRootIno);
  const auto t0 = Clock::now();
  auto pending = mknod_async(s, kRootIno, "waits");
  std::this_thread::sleep_for(milliseconds(200));
  auto released = std::async(std::launch::async, [&] {
    std::this_thread::sleep_until(t0 + kHold);
    unblock(blocker);
  });
  auto a = s.getattr(kRootIno);
  BOOST_TEST_REQUIRE(a.ok(), a.msg());
  BOOST_TEST(ms_since(t0) >= kHold.count() - 50, "getattr answered after " << ms_since(t0) << " ms");
  released.get();
  BOOST_TEST_REQUIRE(pending.get().ok());
}

// PostgreSQL runs writers of different inodes in parallel: with two writer
// connections, a create in another directory completes while one waits.
// SQLite has one writer, so there it waits (and must still succeed).
BOOST_FIXTURE_TEST_CASE(writes_elsewhere_proceed_while_one_waits_on_postgres, ServiceFixture) {
  const bool pg = !is_sqlite(url);
  auto split = split_meta_conns(4, !pg);
  Service s(factory(), split.readers, split.writers);
  auto d = s.mknod(kRootIno, "other", S_IFDIR | 0755);
  BOOST_TEST_REQUIRE(d.ok(), d.msg());
  auto blocker = block_writes_in(kRootIno);
  const auto t0 = Clock::now();
  auto waiting = mknod_async(s, kRootIno, "waits");      // writer 0: waits for the lock
  std::this_thread::sleep_for(milliseconds(200));
  auto other = mknod_async(s, d->ino, "free");           // writer 1 on PostgreSQL
  if (pg) {
    BOOST_TEST_REQUIRE((other.wait_for(kHold - milliseconds(400)) == std::future_status::ready),
                       "a create in another directory waited for an unrelated lock");
    auto r = other.get();
    BOOST_TEST_REQUIRE(r.ok(), r.msg());
    BOOST_TEST((waiting.wait_for(milliseconds(0)) == std::future_status::timeout));
  }
  std::this_thread::sleep_until(t0 + kHold);
  unblock(blocker);
  auto w = waiting.get();
  BOOST_TEST_REQUIRE(w.ok(), w.msg());
  if (!pg) {
    auto r = other.get();
    BOOST_TEST_REQUIRE(r.ok(), r.msg());
  }
  BOOST_TEST(s.lookup(d->ino, "free").ok());
  BOOST_TEST(s.lookup(kRootIno, "waits").ok());
}

// Many clients at once over 8 connections: every create and read succeeds and
// each directory ends up with exactly its files.
BOOST_FIXTURE_TEST_CASE(concurrent_clients_over_many_connections, ServiceFixture) {
  auto split = split_meta_conns(8, is_sqlite(url));
  Service s(factory(), split.readers, split.writers);
  constexpr int kThreads = 8, kFiles = 40, kDirs = 4;
  std::vector<uint64_t> dirs;
  for (int i = 0; i < kDirs; ++i) {
    auto d = s.mknod(kRootIno, "d" + std::to_string(i), S_IFDIR | 0755);
    BOOST_TEST_REQUIRE(d.ok(), d.msg());
    dirs.push_back(d->ino);
  }
  std::atomic<int> failures{0};
  std::string first_error;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      uint64_t dir = dirs[t % kDirs];
      for (int i = 0; i < kFiles; ++i) {
        std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto c = s.mknod(dir, name);
        auto l = c.ok() ? s.lookup(dir, name) : c;
        auto g = l.ok() ? s.getattr(l->ino) : l;
        if (!g.ok() || g->ino != c->ino) {
          std::lock_guard<std::mutex> lk(mu);
          if (failures++ == 0) first_error = name + ": " + g.msg();
        }
      }
    });
  for (auto& th : threads) th.join();
  BOOST_TEST(failures.load() == 0, first_error);
  size_t total = 0;
  for (uint64_t dir : dirs) {
    auto e = s.readdir(dir);
    BOOST_TEST_REQUIRE(e.ok(), e.msg());
    total += e->size();
  }
  BOOST_TEST(total == size_t{kThreads * kFiles});
}
