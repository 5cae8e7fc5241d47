// The VFS's lookup windows: started only by lookups in ascending name order,
// answer "exists" with the attributes read and "absent" between entries,
// never past either timeout, never after a write of this mount.
#define BOOST_TEST_MODULE vfs_lookup_windows
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "vfs/lookup_windows.hpp"

using s3l::LookupWindows;
using s3l::meta::Entry;

namespace {
constexpr int64_t kSec = 1000000000;

std::vector<Entry> run(const std::vector<std::string>& names) {
  std::vector<Entry> v;
  uint64_t ino = 100;
  for (const auto& n : names) {
    Entry e;
    e.name = n;
    e.attr.ino = ino++;
    v.push_back(e);
  }
  return v;
}
}  // namespace

BOOST_AUTO_TEST_CASE(only_an_ascending_run_asks_for_a_window) {
  LookupWindows w(kSec, kSec);
  BOOST_TEST(!w.want_window(1, "b", 0));
  BOOST_TEST(!w.want_window(1, "c", 0));
  BOOST_TEST(w.want_window(1, "d", 0));    // third in a row
  BOOST_TEST(!w.want_window(1, "a", 0));   // order broken: start again
  BOOST_TEST(!w.want_window(1, "b", 0));
  BOOST_TEST(!w.want_window(2, "z", 0));   // per directory
}

// Creates look up names that do not exist, each followed by a write: such
// a run must not ask for windows (they would be thrown away at once).
BOOST_AUTO_TEST_CASE(misses_or_writes_in_between_break_the_run) {
  LookupWindows w(kSec, kSec);
  BOOST_TEST(!w.want_window(1, "a", 0));
  BOOST_TEST(!w.want_window(1, "b", 1));   // a write since "a"
  BOOST_TEST(!w.want_window(1, "c", 2));
  BOOST_TEST(!w.want_window(1, "d", 3));
  BOOST_TEST(!w.want_window(1, "e", 3));
  BOOST_TEST(!w.want_window(1, "f", 3));
  BOOST_TEST(w.want_window(1, "g", 3));    // the third after "d" without a write
  w.missed(1);                             // "g" did not exist
  BOOST_TEST(!w.want_window(1, "h", 3));
}

BOOST_AUTO_TEST_CASE(answers_inside_the_window_only) {
  LookupWindows w(kSec, 2 * kSec);
  // A full window (kRun entries) from "b": covers [b, its last name].
  std::vector<std::string> names;
  for (uint32_t i = 0; i < LookupWindows::kRun; ++i) names.push_back("b" + std::to_string(100 + i));
  w.put(1, "b", run(names), 10 * kSec, 7, 0);
  const int64_t t = 10 * kSec + kSec / 4;
  auto hit = w.find(1, "b100", t, 7);
  BOOST_REQUIRE(hit);
  BOOST_REQUIRE(hit->attr);
  BOOST_TEST(hit->attr->ino == 100u);
  BOOST_TEST(hit->entry_left_ns == 3 * kSec / 4);
  BOOST_TEST(hit->attr_left_ns == 7 * kSec / 4);
  auto between = w.find(1, "b100x", t, 7);   // between two entries: absent
  BOOST_REQUIRE(between);
  BOOST_TEST(!between->attr);
  BOOST_TEST(!w.find(1, "a", t, 7));                // before the window
  BOOST_TEST(!w.find(1, names.back() + "x", t, 7));   // after a full window: unknown
  BOOST_TEST(!w.find(2, "b100", t, 7));             // another directory
}

BOOST_AUTO_TEST_CASE(a_short_window_covers_everything_after_its_start) {
  LookupWindows w(kSec, kSec);
  w.put(1, "m", run({"m", "n"}), 10 * kSec, 0, 0);
  auto after = w.find(1, "zzz", 10 * kSec + 1, 0);
  BOOST_REQUIRE(after);
  BOOST_TEST(!after->attr);
  w.put(2, "q", {}, 10 * kSec, 0, 0);   // nothing from "q" on
  auto none = w.find(2, "r", 10 * kSec + 1, 0);
  BOOST_REQUIRE(none);
  BOOST_TEST(!none->attr);
}

BOOST_AUTO_TEST_CASE(never_after_a_write_here_or_past_a_timeout) {
  LookupWindows w(kSec, 2 * kSec);
  w.put(1, "a", run({"a", "b"}), 10 * kSec, 5, 0);
  BOOST_TEST(!w.find(1, "a", 10 * kSec + 1, 6));   // a write completed since: dropped
  BOOST_TEST(!w.find(1, "a", 10 * kSec + 1, 5));   // and not back
  w.put(1, "a", run({"a", "b"}), 10 * kSec, 5, 0);
  BOOST_TEST(!w.find(1, "a", 11 * kSec, 5));       // entry timeout (the shorter) reached
  LookupWindows attr_short(2 * kSec, kSec);
  attr_short.put(1, "a", run({"a"}), 10 * kSec, 0, 0);
  BOOST_TEST(!attr_short.find(1, "a", 11 * kSec, 0));   // attribute timeout reached
}

BOOST_AUTO_TEST_CASE(a_zero_timeout_turns_it_off) {
  LookupWindows w(0, kSec);
  for (const char* n : {"a", "b", "c", "d"}) BOOST_TEST(!w.want_window(1, n, 0));
  w.put(1, "a", run({"a"}), 10 * kSec, 0, 0);
  BOOST_TEST(!w.find(1, "a", 10 * kSec + 1, 0));
}

// rm -r: this mount's unlinks are applied to the windows instead of
// dropping them; a window holding the unlinked inode under another name or
// the parent directory is dropped; one asked for before an unlink is not kept.
BOOST_AUTO_TEST_CASE(own_unlinks_are_applied_not_thrown_away) {
  LookupWindows w(kSec, kSec);
  const int64_t t = 10 * kSec;
  w.put(1, "a", run({"a", "b", "c"}), t, 0, w.removals());   // inos 100, 101, 102; to the end
  w.removed(1, "a", 100, t + 1);
  auto h = w.find(1, "a", t + 1, 0);
  BOOST_REQUIRE(h);
  BOOST_TEST(!h->attr);                   // unlinked here: absent at once
  h = w.find(1, "b", t + 1, 0);
  BOOST_REQUIRE(h);
  BOOST_REQUIRE(h->attr);
  BOOST_TEST(h->attr->ino == 101u);       // the rest of the window still answers

  // Another link of an unlinked inode (its nlink changed): that window goes.
  w.put(2, "x", run({"x", "y"}), t, 0, w.removals());       // inos 100, 101
  w.removed(1, "b", 101, t + 1);
  BOOST_TEST(!w.find(2, "x", t + 1, 0));
  BOOST_TEST(w.find(1, "c", t + 1, 0).has_value());

  // The directory the unlink changed, as an entry of its parent's window.
  std::vector<Entry> parent_run = run({"d1"});
  parent_run[0].attr.ino = 7;
  w.put(3, "d1", parent_run, t, 0, w.removals());
  w.removed(7, "f", 555, t + 1);
  BOOST_TEST(!w.find(3, "d1", t + 1, 0));

  // Asked for before an unlink completed: may hold the name; not kept.
  const uint64_t before = w.removals();
  w.removed(4, "old", 900, t + 1);
  w.put(4, "a", run({"a", "old"}), t, 0, before);
  BOOST_TEST(!w.find(4, "a", t + 1, 0));
}
