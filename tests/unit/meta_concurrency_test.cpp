// Two Meta objects (two connections, like two mounts) racing on the same rows.
// On SQLite writers are serialised by the file lock; on PostgreSQL (the
// meta_concurrency_test_pg variant) they really run at the same time and
// conflicts are resolved by SERIALIZABLE transactions that SqlMeta reruns.
// Every check holds on both engines.
#define BOOST_TEST_MODULE meta_concurrency
#include "meta_fixture.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

using namespace s3l;
using namespace s3l::meta;
using namespace s3l::meta::test;

namespace {

// Runs a(i) and b(i) for i in [0, n) on two threads, starting each round at
// the same moment (a two-party barrier), so the two calls of a round overlap.
void lockstep(int n, const std::function<void(int)>& a, const std::function<void(int)>& b) {
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  long round = 0;
  auto barrier = [&] {
    std::unique_lock<std::mutex> lk(mu);
    long r = round;
    if (++arrived == 2) {
      arrived = 0;
      ++round;
      cv.notify_all();
    } else {
      cv.wait(lk, [&] { return round != r; });
    }
  };
  std::thread tb([&] {
    for (int i = 0; i < n; ++i) {
      barrier();
      b(i);
    }
  });
  for (int i = 0; i < n; ++i) {
    barrier();
    a(i);
  }
  tb.join();
}

std::string nm(const char* prefix, int i) { return prefix + std::to_string(i); }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(concurrency, MetaFixture)

BOOST_AUTO_TEST_CASE(same_500_names_exactly_one_winner_each) {
  constexpr int kNames = 500;
  Attr d = mkdir(kRootIno, "race");
  auto m2 = open_or_fail(url, false);
  std::vector<Result<Attr>> ra(kNames), rb(kNames);
  // Free running (no barrier): both walk the same names in the same order.
  std::thread tb([&] {
    for (int i = 0; i < kNames; ++i) rb[i] = m2->mknod(d.ino, nm("n", i), S_IFREG | 0644, kUid, kGid, 0, "", kT0);
  });
  for (int i = 0; i < kNames; ++i) ra[i] = m->mknod(d.ino, nm("n", i), S_IFREG | 0644, kUid, kGid, 0, "", kT0);
  tb.join();

  int wins_a = 0;
  for (int i = 0; i < kNames; ++i) {
    BOOST_TEST_CONTEXT("name n" << i << ": a=" << ra[i].msg() << " b=" << rb[i].msg()) {
      BOOST_TEST(ra[i].ok() != rb[i].ok());   // exactly one winner
      const Result<Attr>& loser = ra[i].ok() ? rb[i] : ra[i];
      BOOST_TEST(loser.err() == EEXIST);
      wins_a += ra[i].ok();
    }
  }
  BOOST_TEST_MESSAGE("first connection won " << wins_a << " of " << kNames);
  auto list = m->readdir(d.ino);
  BOOST_REQUIRE_MESSAGE(list.ok(), list.msg());
  BOOST_TEST(list->size() == static_cast<size_t>(kNames));
  std::set<std::string> names;
  std::set<uint64_t> inos;
  for (const Entry& e : *list) {
    names.insert(e.name);
    inos.insert(e.attr.ino);
  }
  BOOST_TEST(names.size() == static_cast<size_t>(kNames));
  BOOST_TEST(inos.size() == static_cast<size_t>(kNames));
  // Each entry is the inode its winner reported.
  for (int i = 0; i < kNames; ++i) {
    auto l = m2->lookup(d.ino, nm("n", i));
    BOOST_REQUIRE(l.ok());
    BOOST_TEST(l->ino == (ra[i].ok() ? ra[i]->ino : rb[i]->ino));
  }
  BOOST_TEST(m->statfs()->inodes == static_cast<uint64_t>(kNames + 2));
  BOOST_TEST(attr(d.ino).nlink == 2u);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(two_busy_clients_in_one_directory_never_give_up) {
  // Both create (and remove) files in one directory as fast as they can: on
  // PostgreSQL every such transaction updates the directory's row. Each
  // operation must succeed, however long the other client keeps the row busy.
  constexpr int kFiles = 800;
  Attr d = mkdir(kRootIno, "busy");
  auto m2 = open_or_fail(url, false);
  std::atomic<int> failures{0};
  auto work = [&](Meta& meta, const char* prefix) {
    for (int i = 0; i < kFiles; ++i) {
      auto r = meta.mknod(d.ino, nm(prefix, i), S_IFREG | 0644, kUid, kGid, 0, "", kT0);
      if (!r.ok()) {
        if (failures++ < 5) BOOST_ERROR("mknod: " << r.msg());
        continue;
      }
      if (i % 4 == 3) {
        auto u = meta.unlink(d.ino, nm(prefix, i), session, kT0);
        if (!u.ok() && failures++ < 5) BOOST_ERROR("unlink: " << u.msg());
      }
    }
  };
  std::thread tb([&] { work(*m2, "b"); });
  work(*m, "a");
  tb.join();
  BOOST_TEST(failures == 0);
  BOOST_TEST(m->readdir(d.ino)->size() == static_cast<size_t>(2 * kFiles * 3 / 4));
}

BOOST_AUTO_TEST_CASE(ids_stay_unique_across_connections) {
  constexpr int kFiles = 300;
  Attr da = mkdir(kRootIno, "a"), db = mkdir(kRootIno, "b");
  auto m2 = open_or_fail(url, false);
  std::vector<uint64_t> ia(kFiles), ib(kFiles), sa(kFiles), sb(kFiles);
  std::atomic<int> failures{0};
  auto work = [&](Meta& meta, uint64_t dir, std::vector<uint64_t>& inos, std::vector<uint64_t>& slices, int i) {
    auto r = meta.mknod(dir, nm("f", i), S_IFREG | 0644, kUid, kGid, 0, "", kT0);
    if (!r.ok()) {
      ++failures;
      BOOST_ERROR("mknod: " << r.msg());
      return;
    }
    inos[i] = r->ino;
    auto s = meta.begin_slice(r->ino, 0, session);
    if (!s.ok()) {
      ++failures;
      BOOST_ERROR("begin_slice: " << s.msg());
      return;
    }
    slices[i] = *s;
  };
  lockstep(
      kFiles, [&](int i) { work(*m, da.ino, ia, sa, i); }, [&](int i) { work(*m2, db.ino, ib, sb, i); });
  BOOST_REQUIRE(failures == 0);
  std::set<uint64_t> inos(ia.begin(), ia.end()), slices(sa.begin(), sa.end());
  inos.insert(ib.begin(), ib.end());
  slices.insert(sb.begin(), sb.end());
  BOOST_TEST(inos.size() == static_cast<size_t>(2 * kFiles));
  BOOST_TEST(slices.size() == static_cast<size_t>(2 * kFiles));
  BOOST_TEST(m->statfs()->inodes == static_cast<uint64_t>(2 * kFiles + 3));
}

BOOST_AUTO_TEST_CASE(concurrent_commits_to_one_inode_lose_no_size_update) {
  // Interleaved records: a writes the even ones, b the odd ones, each commit
  // raising the size to the end of its record. The final size must be the end
  // of the last record and every slice must be there.
  constexpr int kRecords = 150;      // per connection
  constexpr uint64_t kRec = 16 << 10;
  Attr f = mk(kRootIno, "shared");
  auto m2 = open_or_fail(url, false);
  std::atomic<int> failures{0};
  auto put = [&](Meta& meta, uint64_t record) {
    uint64_t off = record * kRec, chunk = off / kChunk;
    auto id = meta.begin_slice(f.ino, chunk, session);
    if (!id.ok()) {
      ++failures;
      BOOST_ERROR("begin_slice: " << id.msg());
      return;
    }
    Slice s = make_slice(*id, f.ino, chunk, off % kChunk, kRec);
    auto a = meta.commit_slice(s, off + kRec, kT0);
    if (!a.ok()) {
      ++failures;
      BOOST_ERROR("commit_slice: " << a.msg());
    } else if (a->size < off + kRec) {
      ++failures;
      BOOST_ERROR("commit_slice returned size " << a->size << " < " << off + kRec);
    }
  };
  lockstep(
      kRecords, [&](int i) { put(*m, 2 * i); }, [&](int i) { put(*m2, 2 * i + 1); });
  BOOST_REQUIRE(failures == 0);
  const uint64_t want = 2 * kRecords * kRec;
  BOOST_TEST(attr(f.ino).size == want);
  BOOST_TEST(m2->getattr(f.ino)->size == want);
  size_t slices = 0;
  for (uint64_t c = 0; c * kChunk < want; ++c) {
    auto cs = m->chunk_slices(f.ino, c);
    BOOST_REQUIRE_MESSAGE(cs.ok(), cs.msg());
    slices += cs->size();
  }
  BOOST_TEST(slices == static_cast<size_t>(2 * kRecords));
  BOOST_TEST(m->statfs()->used_bytes == want);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(crossing_directory_renames_never_make_a_loop) {
  // /x/A/D and /y/B/C. Moving A under C and B under D at the same time: each
  // is valid alone, together they would form the loop A -> D -> B -> C -> A
  // that no path from the root reaches. One of them must fail with EINVAL.
  // Under snapshot isolation without serializability both would commit.
  constexpr int kRounds = 40;
  auto m2 = open_or_fail(url, false);
  struct Round {
    uint64_t x, y, a, b, c, d;
  };
  std::vector<Round> rounds;
  for (int i = 0; i < kRounds; ++i) {
    Round r;
    r.x = mkdir(kRootIno, nm("x", i)).ino;
    r.y = mkdir(kRootIno, nm("y", i)).ino;
    r.a = mkdir(r.x, "A").ino;
    r.d = mkdir(r.a, "D").ino;
    r.b = mkdir(r.y, "B").ino;
    r.c = mkdir(r.b, "C").ino;
    rounds.push_back(r);
  }
  std::vector<Result<RenameResult>> ra(kRounds), rb(kRounds);
  lockstep(
      kRounds, [&](int i) { ra[i] = m->rename(rounds[i].x, "A", rounds[i].c, "A", 0, session, kT0); },
      [&](int i) { rb[i] = m2->rename(rounds[i].y, "B", rounds[i].d, "B", 0, session, kT0); });
  for (int i = 0; i < kRounds; ++i) {
    BOOST_TEST_CONTEXT("round " << i << ": a=" << ra[i].msg() << " b=" << rb[i].msg()) {
      BOOST_TEST(ra[i].ok() != rb[i].ok());
      const auto& loser = ra[i].ok() ? rb[i] : ra[i];
      BOOST_TEST(loser.err() == EINVAL);
    }
  }
  expect_consistent();
  // Every directory is still reachable from the root.
  for (const Round& r : rounds)
    for (uint64_t ino : {r.a, r.b, r.c, r.d}) BOOST_TEST(m->path_of(ino).rfind("/", 0) == 0, m->path_of(ino));
}

BOOST_AUTO_TEST_CASE(unlinking_two_links_at_once_orphans_the_inode_once) {
  constexpr int kRounds = 60;
  auto m2 = open_or_fail(url, false);
  std::vector<uint64_t> inos;
  for (int i = 0; i < kRounds; ++i) {
    Attr f = mk(kRootIno, nm("p", i));
    auto l = m->link(f.ino, kRootIno, nm("q", i), kT0);
    BOOST_REQUIRE_MESSAGE(l.ok(), l.msg());
    inos.push_back(f.ino);
  }
  std::vector<Result<UnlinkResult>> ra(kRounds), rb(kRounds);
  lockstep(
      kRounds, [&](int i) { ra[i] = m->unlink(kRootIno, nm("p", i), session, kT0); },
      [&](int i) { rb[i] = m2->unlink(kRootIno, nm("q", i), session, kT0); });
  for (int i = 0; i < kRounds; ++i) {
    BOOST_TEST_CONTEXT("round " << i << ": a=" << ra[i].msg() << " b=" << rb[i].msg()) {
      BOOST_REQUIRE(ra[i].ok());
      BOOST_REQUIRE(rb[i].ok());
      // One of them saw the last link go: nlink 1 then 0, never 1 and 1.
      BOOST_TEST(std::min(ra[i]->nlink, rb[i]->nlink) == 0u);
      BOOST_TEST(std::max(ra[i]->nlink, rb[i]->nlink) == 1u);
      BOOST_TEST(attr(inos[i]).nlink == 0u);
    }
  }
  expect_consistent();   // each inode is an orphan, none is unreachable
  for (uint64_t ino : inos) BOOST_REQUIRE(m->purge(ino).ok());
  BOOST_TEST(m->statfs()->inodes == 1u);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(create_in_a_directory_being_removed_never_outlives_it) {
  // One client creates a file in d_i while the other removes d_i (empty until
  // then). Exactly one wins: the create (rmdir: ENOTEMPTY) or the rmdir
  // (create: ENOENT); never an entry left in a directory that is gone. On
  // PostgreSQL the create is one READ COMMITTED statement racing a
  // SERIALIZABLE rmdir (meta/sql_mknod_cte.cpp).
  constexpr int kRounds = 60;
  auto m2 = open_or_fail(url, false);
  Attr p = mkdir(kRootIno, "p");
  std::vector<uint64_t> dirs;
  for (int i = 0; i < kRounds; ++i) dirs.push_back(mkdir(p.ino, nm("d", i)).ino);
  std::vector<Result<Attr>> created(kRounds);
  std::vector<Status> removed(kRounds);
  lockstep(
      kRounds,
      [&](int i) {
        // A head start of 0-1.5 ms for the rmdir (a few round trips long):
        // without it the one-round-trip create would win every round.
        std::this_thread::sleep_for(std::chrono::microseconds(i % 6 * 300));
        created[i] = m->mknod(dirs[i], "f", S_IFREG | 0644, kUid, kGid, 0, "", kT0);
      },
      [&](int i) { removed[i] = m2->rmdir(p.ino, nm("d", i), kT0); });
  int creates_won = 0;
  for (int i = 0; i < kRounds; ++i) {
    BOOST_TEST_CONTEXT("round " << i << ": create=" << created[i].msg() << " rmdir=" << removed[i].msg) {
      BOOST_TEST(created[i].ok() != removed[i].ok());
      if (created[i].ok()) {
        ++creates_won;
        BOOST_TEST(removed[i].err == ENOTEMPTY);
        BOOST_TEST(m->lookup(dirs[i], "f")->ino == created[i]->ino);
      } else {
        BOOST_TEST(created[i].err() == ENOENT);
        BOOST_TEST(m->getattr(dirs[i]).err() == ENOENT);
      }
    }
  }
  BOOST_TEST_MESSAGE("creates won " << creates_won << " of " << kRounds);
  BOOST_TEST(attr(p.ino).nlink == static_cast<uint32_t>(2 + creates_won));
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(concurrent_mkdirs_and_rmdirs_lose_no_parent_link_count) {
  // Two clients change one directory's nlink at the same time: one adds
  // subdirectories, the other removes others. Every change must land.
  constexpr int kRounds = 80;
  auto m2 = open_or_fail(url, false);
  Attr p = mkdir(kRootIno, "p");
  for (int i = 0; i < kRounds; ++i) mkdir(p.ino, nm("old", i));
  std::vector<Result<Attr>> made(kRounds);
  std::vector<Status> removed(kRounds);
  lockstep(
      kRounds, [&](int i) { made[i] = m->mknod(p.ino, nm("new", i), S_IFDIR | 0755, kUid, kGid, 0, "", kT0); },
      [&](int i) { removed[i] = m2->rmdir(p.ino, nm("old", i), kT0); });
  for (int i = 0; i < kRounds; ++i) {
    BOOST_TEST(made[i].ok(), made[i].msg());
    BOOST_TEST(removed[i].ok(), removed[i].msg);
  }
  BOOST_TEST(attr(p.ino).nlink == static_cast<uint32_t>(2 + kRounds));
  BOOST_TEST(m->statfs()->inodes == static_cast<uint64_t>(2 + kRounds));   // root, p, the new ones
  expect_consistent();
}

BOOST_AUTO_TEST_SUITE_END()
