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

BOOST_AUTO_TEST_SUITE_END()
