// The VFS's directory names cache: says "absent" only from a listing younger
// than the timeout, never loses a name this mount added (also while a
// listing is being read), loads large directories only after many misses,
// stays bounded.
#define BOOST_TEST_MODULE vfs_dir_names_cache
#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <vector>

#include "vfs/dir_names_cache.hpp"

using s3l::DirNamesCache;

namespace {
constexpr int64_t kSec = 1000000000;

std::vector<std::string> names(int n, const std::string& prefix = "n") {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

// One miss (a small directory) starts a load; it brings `listing`.
void load(DirNamesCache& c, uint64_t dir, std::vector<std::string> listing, int64_t at) {
  auto id = c.missed(dir, at);
  BOOST_REQUIRE(id);
  c.loaded(dir, *id, std::move(listing), at);
}
}  // namespace

BOOST_AUTO_TEST_CASE(absent_only_from_a_listing_younger_than_the_timeout) {
  DirNamesCache c(kSec, 1000);
  BOOST_TEST(!c.absent(1, "x", 10 * kSec));   // nothing known yet
  load(c, 1, {"a", "b"}, 10 * kSec);
  auto left = c.absent(1, "x", 10 * kSec + kSec / 4);
  BOOST_REQUIRE(left);
  BOOST_TEST(*left == 3 * kSec / 4);               // the kernel is told only what is left
  BOOST_TEST(!c.absent(1, "a", 10 * kSec + 1));    // listed: ask the database
  BOOST_TEST(!c.absent(2, "x", 10 * kSec + 1));    // another directory
  BOOST_TEST(!c.absent(1, "x", 11 * kSec));        // exactly at the timeout: gone
  BOOST_TEST(c.names() == 0u);
}

BOOST_AUTO_TEST_CASE(names_added_here_are_never_absent) {
  DirNamesCache c(kSec, 1000);
  load(c, 1, {"a"}, 10 * kSec);
  c.added(1, "new");
  BOOST_TEST(!c.absent(1, "new", 10 * kSec + 1));
  c.removed(1, "a");
  BOOST_TEST(c.absent(1, "a", 10 * kSec + 1).has_value());   // removed here: absent
  c.removed(1, "new");
  c.added(1, "new");   // removed and made again
  BOOST_TEST(!c.absent(1, "new", 10 * kSec + 1));
}

// A listing read while this mount adds a name may or may not include it:
// what was reported during the load is applied to what the load brings.
BOOST_AUTO_TEST_CASE(changes_during_a_load_are_applied_to_its_listing) {
  DirNamesCache c(kSec, 1000);
  auto id = c.missed(1, 10 * kSec);
  BOOST_REQUIRE(id);
  c.added(1, "made-during-load");
  c.added(1, "made-and-removed");
  c.removed(1, "made-and-removed");
  c.removed(1, "old");
  c.loaded(1, *id, {"old", "made-and-removed"}, 10 * kSec);   // read before the removals
  const int64_t t = 10 * kSec + 1;
  BOOST_TEST(!c.absent(1, "made-during-load", t));
  BOOST_TEST(c.absent(1, "made-and-removed", t).has_value());
  BOOST_TEST(c.absent(1, "old", t).has_value());
  BOOST_TEST(c.absent(1, "other", t).has_value());
}

BOOST_AUTO_TEST_CASE(one_load_at_a_time_and_none_after_clear) {
  DirNamesCache c(kSec, 1000);
  auto id = c.missed(1, 10 * kSec);
  BOOST_REQUIRE(id);
  BOOST_TEST(!c.missed(1, 10 * kSec));   // under way
  c.clear();
  c.loaded(1, *id, {"a"}, 10 * kSec);    // started before clear: dropped
  BOOST_TEST(!c.absent(1, "x", 10 * kSec + 1));
  auto again = c.missed(1, 10 * kSec);   // a new load, with a new id
  BOOST_REQUIRE(again);
  BOOST_TEST(*again != *id);
  c.loaded(1, *id, {"a"}, 10 * kSec);    // the old one cannot pose as it
  BOOST_TEST(!c.absent(1, "x", 10 * kSec + 1));
  c.loaded(1, *again, {"a"}, 10 * kSec);
  BOOST_TEST(c.absent(1, "x", 10 * kSec + 1).has_value());
}

BOOST_AUTO_TEST_CASE(a_failed_load_lets_the_next_miss_try_again) {
  DirNamesCache c(kSec, 1000);
  auto id = c.missed(1, 10 * kSec);
  BOOST_REQUIRE(id);
  c.load_failed(1);
  BOOST_TEST(c.missed(1, 10 * kSec).has_value());
}

// A directory that had 2,560 names is read again only after 11 misses
// (1 + 2560/256): a stray miss must not read a whole large directory.
BOOST_AUTO_TEST_CASE(large_directories_are_read_again_only_after_many_misses) {
  DirNamesCache c(kSec, 100000);
  load(c, 1, names(2560), 10 * kSec);
  const int64_t later = 12 * kSec;   // expired
  int misses = 0;
  while (!c.missed(1, later)) {
    ++misses;
    BOOST_REQUIRE(misses < 100);
  }
  BOOST_TEST(misses + 1 == 11);
}

BOOST_AUTO_TEST_CASE(bounded_by_the_total_number_of_names) {
  DirNamesCache c(kSec, 100);
  load(c, 1, names(40), 10 * kSec);
  load(c, 2, names(40), 10 * kSec + 1);
  BOOST_TEST(c.names() == 80u);
  load(c, 3, names(40), 10 * kSec + 2);   // the oldest listing (dir 1) makes room
  BOOST_TEST(c.names() == 80u);
  BOOST_TEST(!c.absent(1, "x", 10 * kSec + 3));
  BOOST_TEST(c.absent(3, "x", 10 * kSec + 3).has_value());
  load(c, 4, names(51), 10 * kSec + 3);   // more than half of the bound: not kept
  BOOST_TEST(!c.absent(4, "x", 10 * kSec + 4));
  BOOST_TEST(c.names() <= 100u);
}

BOOST_AUTO_TEST_CASE(a_zero_timeout_turns_it_off) {
  DirNamesCache c(0, 1000);
  BOOST_TEST(!c.missed(1, 10 * kSec));
  BOOST_TEST(!c.absent(1, "x", 10 * kSec));
}

// A listing in use is read again before it expires, and answers meanwhile;
// one seldom used (or too young) is not.
BOOST_AUTO_TEST_CASE(a_listing_in_use_is_read_again_before_it_expires) {
  DirNamesCache c(kSec, 100000);
  load(c, 1, {"a"}, 10 * kSec);
  std::optional<uint64_t> refresh;
  BOOST_TEST(c.absent(1, "x", 10 * kSec + kSec / 2, &refresh).has_value());
  BOOST_TEST(!refresh);   // half of its time left: not yet
  BOOST_TEST(c.absent(1, "x", 10 * kSec + 4 * kSec / 5, &refresh).has_value());
  BOOST_REQUIRE(refresh);   // a fifth left, and in use
  std::optional<uint64_t> again;
  BOOST_TEST(c.absent(1, "y", 10 * kSec + 4 * kSec / 5 + 1, &again).has_value());   // still answers
  BOOST_TEST(!again);       // one load at a time
  c.added(1, "made");       // during the load: kept
  c.loaded(1, *refresh, {"a", "b"}, 10 * kSec + 4 * kSec / 5);
  auto left = c.absent(1, "x", 11 * kSec + kSec / 2);   // past the first listing's end
  BOOST_REQUIRE(left);
  BOOST_TEST(*left == 3 * kSec / 10);   // the new listing's time: asked at 10.8 s
  BOOST_TEST(!c.absent(1, "b", 11 * kSec));
  BOOST_TEST(!c.absent(1, "made", 11 * kSec));

  // A large listing needs as many answers as the misses that would load it
  // (1 + 1000/256 = 4).
  load(c, 2, names(1000), 20 * kSec);
  for (int i = 0; i < 3; ++i) {
    std::optional<uint64_t> r;
    BOOST_TEST(c.absent(2, "x", 20 * kSec + 9 * kSec / 10, &r).has_value());
    BOOST_TEST(!r);
  }
  std::optional<uint64_t> r;
  BOOST_TEST(c.absent(2, "x", 20 * kSec + 9 * kSec / 10, &r).has_value());
  BOOST_TEST(r.has_value());
  c.load_failed(2);   // tried again only after as many answers
  std::optional<uint64_t> r2;
  BOOST_TEST(c.absent(2, "x", 20 * kSec + 9 * kSec / 10, &r2).has_value());
  BOOST_TEST(!r2);
}
