// Consistency checks of the metadata engine: every problem kind is injected on
// purpose with raw SQL on a second connection, then must be reported.
#define BOOST_TEST_MODULE meta_fsck
#include "meta_fixture.hpp"

using namespace s3l;
using namespace s3l::meta;
using namespace s3l::meta::test;

namespace {
std::string n(uint64_t v) { return std::to_string(v); }
}  // namespace

BOOST_FIXTURE_TEST_SUITE(fsck, MetaFixture)

BOOST_AUTO_TEST_CASE(path_of) {
  Attr a = mkdir(kRootIno, "a");
  Attr b = mkdir(a.ino, "b");
  Attr c = mk(b.ino, "c");
  BOOST_TEST(m->path_of(kRootIno) == "/");
  BOOST_TEST(m->path_of(c.ino) == "/a/b/c");
  BOOST_TEST(m->path_of(999999) == "<ino 999999>");
  BOOST_REQUIRE(m->unlink(b.ino, "c", session, kT0).ok());
  BOOST_TEST(m->path_of(c.ino) == "<ino " + n(c.ino) + ">");
}

BOOST_AUTO_TEST_CASE(clean_volume_has_no_problems) {
  Attr d = mkdir(kRootIno, "d");
  Attr f = mk(d.ino, "f");
  write(f.ino, 0, 0, 100000);
  write(f.ino, 1, 0, 10);
  BOOST_REQUIRE(m->link(f.ino, kRootIno, "hard", kT0).ok());
  BOOST_REQUIRE(m->truncate(f.ino, 5000, kT0).ok());
  mk(kRootIno, "l", S_IFLNK | 0777, "target");
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(dangling_entry) {
  Attr d = mkdir(kRootIno, "dir");
  Attr g = mk(d.ino, "ghost");
  raw("DELETE FROM inodes WHERE ino = " + n(g.ino));   // portable SQL: no blob literals
  BOOST_TEST(has_problem("dangling-entry", "/dir/ghost"));
  // unlink removes such an entry (the repair), rmdir and rename refuse with EIO
  BOOST_TEST(m->rename(d.ino, "ghost", d.ino, "x", 0, session, kT0).err() == EIO);
  BOOST_TEST(m->rmdir(d.ino, "ghost", kT0).err == EIO);
  BOOST_TEST(m->lookup(d.ino, "ghost").err() == ENOENT);
  BOOST_REQUIRE(m->unlink(d.ino, "ghost", session, kT0).ok());
  BOOST_TEST(!has_problem("dangling-entry", "/dir/ghost"));
}

BOOST_AUTO_TEST_CASE(nlink_mismatch) {
  Attr f = mk(kRootIno, "f");
  Attr d = mkdir(kRootIno, "d");
  raw("UPDATE inodes SET nlink = 5 WHERE ino = " + n(f.ino));
  raw("UPDATE inodes SET nlink = 7 WHERE ino = " + n(d.ino));
  BOOST_TEST(has_problem("nlink-mismatch", "/f"));
  BOOST_TEST(has_problem("nlink-mismatch", "/d"));
  BOOST_TEST(!has_problem("nlink-mismatch", "/"  "x"));
}

BOOST_AUTO_TEST_CASE(size_mismatch) {
  Attr f = mk(kRootIno, "f");
  write(f.ino, 0, 0, 100);
  expect_consistent();
  raw("UPDATE inodes SET size = 10 WHERE ino = " + n(f.ino));
  BOOST_TEST(has_problem("size-mismatch", "/f"));
  BOOST_TEST(has_problem("counter-mismatch", "used_bytes"));
}

BOOST_AUTO_TEST_CASE(refcount_mismatch) {
  Attr f = mk(kRootIno, "f");
  write(f.ino, 0, 0, 100);
  raw("UPDATE blocks SET refs = 2");
  BOOST_TEST(has_problem("refcount-mismatch", "block"));
}

BOOST_AUTO_TEST_CASE(stale_session_leftovers) {
  Attr f = mk(kRootIno, "f");
  Attr g = mk(kRootIno, "g");
  BOOST_REQUIRE(m->unlink(kRootIno, "f", session, kT0).ok());
  BOOST_REQUIRE(m->begin_slice(g.ino, 0, session).ok());
  expect_consistent();
  // the session row vanishes without close_session (a crashed mount cleaned badly)
  raw("DELETE FROM sessions WHERE id = " + n(session));
  BOOST_TEST(has_problem("stale-orphan", "<ino " + n(f.ino) + ">"));
  BOOST_TEST(has_problem("stale-pending-slice", "slice"));
}

BOOST_AUTO_TEST_CASE(unreachable_inode) {
  raw("INSERT INTO inodes (ino, mode, uid, gid, nlink, size, rdev, atime, mtime, ctime, parent) "
      "VALUES (777777, 33188, 0, 0, 1, 0, 0, 0, 0, 0, 0)");
  BOOST_TEST(has_problem("unreachable-inode", "<ino 777777>"));
  BOOST_TEST(has_problem("nlink-mismatch", "<ino 777777>"));
  BOOST_TEST(has_problem("counter-mismatch", "inodes"));
}

BOOST_AUTO_TEST_CASE(damaged_slice_rows) {
  Attr f = mk(kRootIno, "f");
  Slice s = write(f.ino, 0, 0, 100);
  raw("DELETE FROM blocks");
  BOOST_TEST(has_problem("missing-block-row", "slice " + n(s.id)));
  BOOST_TEST(m->chunk_slices(f.ino, 0).err() == EIO);   // readers are told, not fed garbage
  raw("DELETE FROM chunks");
  BOOST_TEST(has_problem("chunk-count-mismatch", "<ino " + n(f.ino) + ">"));
  raw("DELETE FROM inodes WHERE ino = " + n(f.ino));
  BOOST_TEST(has_problem("dangling-slice", "slice " + n(s.id)));
  BOOST_TEST(has_problem("dangling-entry", "/f"));
}

BOOST_AUTO_TEST_SUITE_END()
