// The VFS's directory attribute cache: never past the timeout, follows this
// mount's changes, keeps only directories, stays bounded.
#define BOOST_TEST_MODULE vfs_dir_attr_cache
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include "vfs/dir_attr_cache.hpp"

using s3l::DirAttrCache;
using s3l::meta::Attr;

namespace {
constexpr int64_t kSec = 1000000000;

Attr dir(uint64_t ino, uint32_t nlink = 2, int64_t t = 100) {
  Attr a;
  a.ino = ino;
  a.mode = S_IFDIR | 0755;
  a.nlink = nlink;
  a.mtime_ns = a.ctime_ns = a.atime_ns = t;
  return a;
}
}  // namespace

BOOST_AUTO_TEST_CASE(entries_expire_at_the_timeout_and_say_what_is_left) {
  DirAttrCache c(kSec, 100);
  c.put(dir(5), 10 * kSec, c.ticket());
  auto h = c.get(5, 10 * kSec + kSec / 4);
  BOOST_REQUIRE(h);
  BOOST_TEST(h->attr.ino == 5u);
  BOOST_TEST(h->valid_ns == 3 * kSec / 4);
  BOOST_TEST(!c.get(5, 11 * kSec));   // exactly at the timeout: gone
  BOOST_TEST(!c.get(5, 10 * kSec));   // and not back
}

BOOST_AUTO_TEST_CASE(only_directories_are_kept) {
  DirAttrCache c(kSec, 100);
  Attr f = dir(7);
  f.mode = S_IFREG | 0644;
  c.put(f, 0, c.ticket());
  BOOST_TEST(!c.get(7, 1));
}

BOOST_AUTO_TEST_CASE(own_changes_patch_times_and_links_but_not_the_deadline) {
  DirAttrCache c(kSec, 100);
  c.put(dir(5, 3, 100), 0, c.ticket());
  c.entries_changed(5, 500, 1);   // mkdir
  auto h = c.get(5, kSec / 2);
  BOOST_REQUIRE(h);
  BOOST_TEST(h->attr.nlink == 4u);
  BOOST_TEST(h->attr.mtime_ns == 500);
  BOOST_TEST(h->attr.ctime_ns == 500);
  BOOST_TEST(h->valid_ns == kSec / 2);
  c.entries_changed(5, 600, -2);   // nlink 2: still a directory's minimum
  BOOST_TEST(c.get(5, 1)->attr.nlink == 2u);
  c.entries_changed(5, 700, -1);   // below 2 cannot be right: forget it
  BOOST_TEST(!c.get(5, 1));
  c.entries_changed(9, 800, 1);    // not cached: nothing to patch
  BOOST_TEST(!c.get(9, 1));
}

BOOST_AUTO_TEST_CASE(drop_clear_and_off) {
  DirAttrCache c(kSec, 100);
  c.put(dir(1), 0, c.ticket());
  c.put(dir(2), 0, c.ticket());
  c.drop(1);
  BOOST_TEST(!c.get(1, 1));
  BOOST_TEST(c.get(2, 1).has_value());
  c.clear();
  BOOST_TEST(!c.get(2, 1));
  DirAttrCache off(0, 100);
  off.put(dir(3), 0, off.ticket());
  BOOST_TEST(!off.get(3, 0));
}

BOOST_AUTO_TEST_CASE(bounded_expired_first_then_all) {
  DirAttrCache c(kSec, 3);
  c.put(dir(1), 0, c.ticket());
  c.put(dir(2), 0, c.ticket());
  c.put(dir(3), kSec / 2, c.ticket());
  c.put(dir(4), kSec, c.ticket());   // full: 1 and 2 expired at kSec and go
  BOOST_TEST(!c.get(1, kSec / 2));
  BOOST_TEST(c.get(3, kSec).has_value());
  BOOST_TEST(c.get(4, kSec).has_value());
  c.put(dir(5), kSec + 1, c.ticket());
  c.put(dir(6), kSec + 2, c.ticket());   // full of live entries: start over
  BOOST_TEST(!c.get(3, kSec + 3));
  BOOST_TEST(c.get(6, kSec + 3).has_value());
}

BOOST_AUTO_TEST_CASE(a_read_that_raced_with_a_change_is_not_kept) {
  DirAttrCache c(kSec, 100);
  const uint64_t t = c.ticket();        // a getattr asks the database...
  c.entries_changed(5, 500, 1);          // ...while a mkdir in it commits
  c.put(dir(5, 2, 100), 0, t);           // the getattr's answer predates the mkdir
  BOOST_TEST(!c.get(5, 1));
  c.put(dir(6), 0, t);                   // another directory: not affected
  BOOST_TEST(c.get(6, 1).has_value());
  const uint64_t t2 = c.ticket();
  c.drop(6);
  c.put(dir(6), 0, t2);
  BOOST_TEST(!c.get(6, 1));
  const uint64_t t3 = c.ticket();
  c.clear();                             // rename/rmdir: every older read is refused
  c.put(dir(7), 0, t3);
  BOOST_TEST(!c.get(7, 1));
  c.put(dir(7), 0, c.ticket());          // a read asked afterwards is kept
  BOOST_TEST(c.get(7, 1).has_value());
}
