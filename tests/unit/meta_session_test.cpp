// Sessions and garbage in the metadata engine.
#define BOOST_TEST_MODULE meta_session
#include "meta_fixture.hpp"

using namespace s3l;
using namespace s3l::meta;
using namespace s3l::meta::test;

BOOST_FIXTURE_TEST_SUITE(sessions, MetaFixture)

BOOST_AUTO_TEST_CASE(register_list_heartbeat) {
  auto second = m->register_session(SessionInfo{0, "other", 7, "/mnt/b", "0.1", kT0 + 1, 0});
  BOOST_REQUIRE_MESSAGE(second.ok(), second.msg());
  BOOST_TEST(*second != session);
  BOOST_REQUIRE(m->heartbeat(*second, kT0 + 100).ok());
  auto l = m->list_sessions();
  BOOST_REQUIRE(l.ok());
  BOOST_REQUIRE_EQUAL(l->size(), 2u);
  const SessionInfo& s = l->back();
  BOOST_TEST(s.id == *second);
  BOOST_TEST(s.host == "other");
  BOOST_TEST(s.pid == 7);
  BOOST_TEST(s.mountpoint == "/mnt/b");
  BOOST_TEST(s.version == "0.1");
  BOOST_TEST(s.started_ns == kT0 + 1);
  BOOST_TEST(s.heartbeat_ns == kT0 + 100);
  BOOST_REQUIRE(m->close_session(*second).ok());
  BOOST_TEST(m->heartbeat(*second, kT0).err == ENOENT);
  BOOST_TEST(m->list_sessions()->size() == 1u);
  BOOST_TEST(m->close_session(*second).ok());   // closing twice is harmless
  // ids are never reused
  auto third = m->register_session(SessionInfo{0, "h", 1, "/m", "v", 0, 0});
  BOOST_REQUIRE(third.ok());
  BOOST_TEST(*third > *second);
}

BOOST_AUTO_TEST_CASE(close_purges_orphans_and_pending_slices) {
  auto other = m->register_session(SessionInfo{0, "other", 7, "/mnt/b", "0.1", kT0, kT0});
  BOOST_REQUIRE(other.ok());
  Attr f = mk(kRootIno, "f");
  Attr g = mk(kRootIno, "g");
  Attr keep = mk(kRootIno, "keep");
  write(f.ino, 0, 0, 100000);   // 2 blocks
  write(g.ino, 0, 0, 10);
  auto pending = m->begin_slice(keep.ino, 0, session);
  auto pending_other = m->begin_slice(keep.ino, 0, *other);
  BOOST_REQUIRE(pending.ok() && pending_other.ok());
  BOOST_REQUIRE(m->unlink(kRootIno, "f", session, kT0).ok());
  BOOST_REQUIRE(m->unlink(kRootIno, "g", *other, kT0).ok());   // orphan of the other session
  expect_consistent();

  BOOST_REQUIRE(m->close_session(session).ok());
  BOOST_TEST(m->getattr(f.ino).err() == ENOENT);
  BOOST_TEST(attr(g.ino).nlink == 0u);   // still held by the other session
  auto d = m->dead_blocks(100);
  BOOST_REQUIRE(d.ok());
  BOOST_TEST(d->size() == 2u);
  // the pending slice of the closed session is gone: committing it now fails
  BOOST_TEST(m->commit_slice(make_slice(*pending, keep.ino, 0, 0, 10), 10, kT0).err() == EINVAL);
  BOOST_TEST(m->commit_slice(make_slice(*pending_other, keep.ino, 0, 0, 10), 10, kT0).ok());
  BOOST_TEST(m->list_sessions()->size() == 1u);

  BOOST_REQUIRE(m->close_session(*other).ok());
  BOOST_TEST(m->getattr(g.ino).err() == ENOENT);
  BOOST_TEST(m->dead_blocks(100)->size() == 3u);
  BOOST_TEST(m->statfs()->inodes == 2u);
  BOOST_TEST(m->statfs()->used_bytes == 10u);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(stale_sessions_and_the_cleaner_lease) {
  constexpr int64_t kSec = 1'000'000'000;
  SessionInfo info{0, "b", 8, "/mnt/b", "0.1", kT0, kT0};
  info.expiry_ns = 5 * kSec;
  auto b = m->register_session(info);
  BOOST_REQUIRE(b.ok());
  auto c = m->register_session(SessionInfo{0, "c", 9, "/mnt/c", "0.1", kT0, kT0});
  BOOST_REQUIRE(c.ok());
  auto listed = m->list_sessions();
  BOOST_REQUIRE(listed.ok());
  BOOST_TEST(listed->at(1).expiry_ns == 5 * kSec);
  BOOST_TEST(listed->at(2).expiry_ns == kDefaultSessionExpiryNs);

  // The fixture's session takes the lease; nobody is stale yet.
  auto st = m->stale_sessions(session, kT0 + 3 * kSec, 10 * kSec);
  BOOST_REQUIRE_MESSAGE(st.ok(), st.msg());
  BOOST_TEST(st->empty());
  // b missed its expiry (5 s), c (60 s) did not; the caller is never listed.
  st = m->stale_sessions(session, kT0 + 6 * kSec, 10 * kSec);   // renews: until +16 s
  BOOST_REQUIRE(st.ok());
  BOOST_REQUIRE_EQUAL(st->size(), 1u);
  BOOST_TEST(st->front().id == *b);
  BOOST_TEST(st->front().host == "b");
  // Another session gets nothing while the lease holds ...
  st = m->stale_sessions(*c, kT0 + 15 * kSec, 10 * kSec);
  BOOST_REQUIRE(st.ok());
  BOOST_TEST(st->empty());
  // ... and takes over once it expired; the old holder is then refused.
  st = m->stale_sessions(*c, kT0 + 17 * kSec, 10 * kSec);
  BOOST_REQUIRE(st.ok());
  BOOST_REQUIRE_EQUAL(st->size(), 1u);
  BOOST_TEST(st->front().id == *b);
  st = m->stale_sessions(session, kT0 + 18 * kSec, 10 * kSec);
  BOOST_REQUIRE(st.ok());
  BOOST_TEST(st->empty());
  // A heartbeat makes a session live again.
  BOOST_REQUIRE(m->heartbeat(*b, kT0 + 19 * kSec).ok());
  st = m->stale_sessions(*c, kT0 + 20 * kSec, 10 * kSec);
  BOOST_REQUIRE(st.ok());
  BOOST_TEST(st->empty());
}

BOOST_AUTO_TEST_CASE(ending_a_session_queues_the_objects_of_its_pending_slices) {
  auto other = m->register_session(SessionInfo{0, "other", 7, "/mnt/b", "0.1", kT0, kT0});
  BOOST_REQUIRE(other.ok());
  Attr f = mk(kRootIno, "f");
  auto p1 = m->begin_slice(f.ino, 0, *other, 2 * kBlock + 5);   // 3 objects
  auto p2 = m->begin_slice(f.ino, 0, *other, 0);                // planned length unknown: none
  auto mine = m->begin_slice(f.ino, 0, session, kBlock);
  BOOST_REQUIRE(p1.ok() && p2.ok() && mine.ok());
  BOOST_TEST(m->begin_slice(f.ino, 0, session, kChunk + 1).err() == EINVAL);
  BOOST_REQUIRE(m->close_session(*other).ok());
  auto d = m->dead_blocks(100);
  BOOST_REQUIRE(d.ok());
  BOOST_REQUIRE_EQUAL(d->size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    BOOST_TEST(d->at(i).slice_id == *p1);
    BOOST_TEST(d->at(i).index == i);
    BOOST_TEST(d->at(i).size == (i < 2 ? kBlock : 5u));
  }
  // The other session's commit is refused; this session's pending slice lives on.
  BOOST_TEST(m->commit_slice(make_slice(*p1, f.ino, 0, 0, 2 * kBlock + 5), 10, kT0).err() == EINVAL);
  BOOST_TEST(m->commit_slice(make_slice(*mine, f.ino, 0, 0, kBlock), kBlock, kT0).ok());
  expect_consistent();
}

BOOST_AUTO_TEST_SUITE_END()
