#define BOOST_TEST_MODULE slice_map
#include <boost/test/unit_test.hpp>

#include <random>

#include "meta/slice_map.hpp"

using namespace s3l::meta;

namespace {
Slice mk(uint64_t id, uint64_t pos, uint64_t len, bool zero = false) {
  Slice s;
  s.id = id; s.pos = pos; s.len = len; s.zero = zero;
  return s;
}
// Byte-level model: which slice id is visible at each offset (0 = zero/hole).
std::vector<uint64_t> paint(const std::vector<Slice>& slices, uint64_t n) {
  std::vector<uint64_t> v(n, 0);
  for (auto& s : slices)
    for (uint64_t i = s.pos; i < s.pos + s.len && i < n; ++i) v[i] = s.zero ? 0 : s.id;
  return v;
}
std::vector<uint64_t> flatten(const std::vector<Segment>& segs, uint64_t n) {
  std::vector<uint64_t> v;
  uint64_t expect = 0;
  for (auto& g : segs) {
    BOOST_REQUIRE_EQUAL(g.pos, expect);  // adjacent, no gaps
    for (uint64_t i = 0; i < g.len; ++i) {
      v.push_back(g.slice ? g.slice->id : 0);
      if (g.slice) BOOST_REQUIRE_EQUAL(g.slice_off + i, g.pos + i - g.slice->pos);
    }
    expect += g.len;
  }
  BOOST_REQUIRE_EQUAL(expect, n);
  return v;
}
}  // namespace

BOOST_AUTO_TEST_CASE(empty_chunk_is_one_hole) {
  auto segs = resolve_slices({}, 100);
  BOOST_REQUIRE_EQUAL(segs.size(), 1u);
  BOOST_CHECK(segs[0].slice == nullptr);
  BOOST_CHECK_EQUAL(segs[0].len, 100u);
}

BOOST_AUTO_TEST_CASE(overlapping_overwrites_newest_wins) {
  std::vector<Slice> s{mk(1, 0, 50), mk(2, 10, 10), mk(3, 15, 30)};
  auto segs = resolve_slices(s, 60);
  // [0,10)=1 [10,15)=2 [15,45)=3 [45,50)=1 [50,60)=hole
  BOOST_REQUIRE_EQUAL(segs.size(), 5u);
  BOOST_CHECK_EQUAL(segs[0].slice->id, 1u);
  BOOST_CHECK_EQUAL(segs[1].slice->id, 2u);
  BOOST_CHECK_EQUAL(segs[2].slice->id, 3u);
  BOOST_CHECK_EQUAL(segs[2].slice_off, 0u);
  BOOST_CHECK_EQUAL(segs[3].slice->id, 1u);
  BOOST_CHECK_EQUAL(segs[3].slice_off, 45u);
  BOOST_CHECK(segs[4].slice == nullptr);
}

BOOST_AUTO_TEST_CASE(truncate_down_then_extend_reads_zeros) {
  // data 0..100, truncate to 30 => zero slice [30,100), then write [80,90)
  std::vector<Slice> s{mk(1, 0, 100), mk(2, 30, 70, true), mk(3, 80, 10)};
  auto v = flatten(resolve_slices(s, 100), 100);
  BOOST_CHECK_EQUAL(paint(s, 100) == v, true);
  BOOST_CHECK_EQUAL(v[29], 1u);
  BOOST_CHECK_EQUAL(v[30], 0u);
  BOOST_CHECK_EQUAL(v[79], 0u);
  BOOST_CHECK_EQUAL(v[85], 3u);
}

BOOST_AUTO_TEST_CASE(holes_between_slices) {
  std::vector<Slice> s{mk(1, 10, 5), mk(2, 40, 5)};
  auto segs = resolve_slices(s, 50);
  BOOST_REQUIRE_EQUAL(segs.size(), 5u);
  BOOST_CHECK(!segs[0].slice && segs[0].len == 10);
  BOOST_CHECK(!segs[2].slice && segs[2].len == 25);
  BOOST_CHECK(!segs[4].slice && segs[4].len == 5);
}

BOOST_AUTO_TEST_CASE(slice_past_chunk_end_is_clipped) {
  std::vector<Slice> s{mk(1, 90, 50)};
  auto v = flatten(resolve_slices(s, 100), 100);
  BOOST_CHECK_EQUAL(v[99], 1u);
}

BOOST_AUTO_TEST_CASE(randomized_against_byte_model) {
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 300; ++round) {
    const uint64_t n = 1 + rng() % 200;
    std::vector<Slice> s;
    int k = rng() % 30;
    for (int i = 0; i < k; ++i) {
      uint64_t pos = rng() % n, len = 1 + rng() % (n - pos + 10);
      s.push_back(mk(i + 1, pos, len, rng() % 5 == 0));
    }
    BOOST_TEST_INFO("round " << round);
    BOOST_CHECK(paint(s, n) == flatten(resolve_slices(s, n), n));
  }
}

BOOST_AUTO_TEST_CASE(block_split_aligned_to_slice_start) {
  auto sizes = split_into_blocks(10, 4);
  BOOST_CHECK((sizes == std::vector<uint32_t>{4, 4, 2}));
  BOOST_CHECK(split_into_blocks(0, 4).empty());
  BOOST_CHECK((split_into_blocks(8, 4) == std::vector<uint32_t>{4, 4}));
  // A range straddling a block boundary is cut there.
  auto r = slice_range_to_blocks(3, 6, 4);
  BOOST_REQUIRE_EQUAL(r.size(), 3u);
  BOOST_CHECK(r[0].index == 0 && r[0].off == 3 && r[0].len == 1);
  BOOST_CHECK(r[1].index == 1 && r[1].off == 0 && r[1].len == 4);
  BOOST_CHECK(r[2].index == 2 && r[2].off == 0 && r[2].len == 1);
}

BOOST_AUTO_TEST_CASE(real_sizes_block_and_chunk_boundaries) {
  const uint64_t bs = 4ull << 20, cs = 64ull << 20;
  // A 4 MiB + 1 slice starting at 1 MiB: two blocks, second holds 1 byte.
  auto sizes = split_into_blocks(bs + 1, bs);
  BOOST_CHECK((sizes == std::vector<uint32_t>{uint32_t(bs), 1}));
  // A slice ending exactly at the chunk end is fully visible.
  std::vector<Slice> s{mk(7, cs - bs - 1, bs + 1)};
  auto segs = resolve_slices(s, cs);
  BOOST_REQUIRE_EQUAL(segs.size(), 2u);
  BOOST_CHECK_EQUAL(segs[1].pos + segs[1].len, cs);
  auto r = slice_range_to_blocks(segs[1].slice_off, segs[1].len, bs);
  BOOST_REQUIRE_EQUAL(r.size(), 2u);
  BOOST_CHECK_EQUAL(r[1].len, 1u);
}
