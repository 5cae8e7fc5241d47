// File data in the metadata engine: slices, blocks, truncate, purge.
#define BOOST_TEST_MODULE meta_data
#include "meta_fixture.hpp"

#include <algorithm>
#include <set>

#include "meta/slice_map.hpp"

using namespace s3l;
using namespace s3l::meta;
using namespace s3l::meta::test;

namespace {

// What a reader sees, byte by byte: the id of the slice that wrote it, 0 for zeros.
std::vector<uint64_t> visible(Meta& m, uint64_t ino, uint64_t size) {
  std::vector<uint64_t> out(size, 0);
  for (uint64_t c = 0; c * kChunk < size; ++c) {
    auto sl = m.chunk_slices(ino, c);
    BOOST_REQUIRE_MESSAGE(sl.ok(), sl.msg());
    for (const Segment& g : resolve_slices(*sl, kChunk))
      for (uint64_t i = 0; i < g.len && c * kChunk + g.pos + i < size; ++i)
        out[c * kChunk + g.pos + i] = g.slice ? g.slice->id : 0;
  }
  return out;
}

bool all_zero(const std::vector<uint64_t>& v, uint64_t from, uint64_t to) {
  for (uint64_t i = from; i < to; ++i)
    if (v[i] != 0) return false;
  return true;
}

std::vector<DeadBlock> dead(Meta& m) {
  auto d = m.dead_blocks(100000);
  BOOST_REQUIRE_MESSAGE(d.ok(), d.msg());
  return *d;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(data, MetaFixture)

BOOST_AUTO_TEST_CASE(commit_and_read_back) {
  Attr f = mk(kRootIno, "f");
  auto id = m->begin_slice(f.ino, 0, session);
  BOOST_REQUIRE_MESSAGE(id.ok(), id.msg());
  Slice s = make_slice(*id, f.ino, 0, 0, 100000);
  BOOST_REQUIRE_EQUAL(s.blocks.size(), 2u);
  auto a = m->commit_slice(s, 100000, kT0 + 50);
  BOOST_REQUIRE_MESSAGE(a.ok(), a.msg());
  BOOST_TEST(a->size == 100000u);
  BOOST_TEST(a->mtime_ns == kT0 + 50);
  BOOST_TEST(a->ctime_ns == kT0 + 50);
  BOOST_TEST(attr(f.ino).size == 100000u);
  auto sl = m->chunk_slices(f.ino, 0);
  BOOST_REQUIRE(sl.ok());
  BOOST_REQUIRE_EQUAL(sl->size(), 1u);
  const Slice& got = sl->front();
  BOOST_TEST(got.id == s.id);
  BOOST_TEST(got.ino == f.ino);
  BOOST_TEST(got.pos == 0u);
  BOOST_TEST(got.len == 100000u);
  BOOST_TEST(!got.zero);
  BOOST_REQUIRE_EQUAL(got.blocks.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    BOOST_TEST(got.blocks[i].id > 0u);
    BOOST_TEST(got.blocks[i].slice_id == s.id);
    BOOST_TEST(got.blocks[i].index == i);
    BOOST_TEST(got.blocks[i].size == s.blocks[i].size);
    BOOST_TEST(got.blocks[i].checksum == s.blocks[i].checksum);
  }
  BOOST_TEST(m->chunk_slices(f.ino, 1)->empty());
  // min_size below the current size never shrinks the file
  Slice small = write(f.ino, 0, 10, 5);
  BOOST_TEST(attr(f.ino).size == 100000u);
  BOOST_TEST(m->statfs()->used_bytes == 100000u);
  // a later chunk raises the size to its end
  write(f.ino, 2, 100, 1000);
  BOOST_TEST(attr(f.ino).size == 2 * kChunk + 1100);
  BOOST_TEST(m->statfs()->used_bytes == 2 * kChunk + 1100);
  (void)small;
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(slices_come_back_in_commit_order) {
  Attr f = mk(kRootIno, "f");
  auto a = m->begin_slice(f.ino, 0, session);
  auto b = m->begin_slice(f.ino, 0, session);
  BOOST_REQUIRE(a.ok() && b.ok());
  BOOST_TEST(*a < *b);
  // Committed in the opposite order of their ids: the commit order decides
  // (ids are handed out when a slice is cut, which need not be write order).
  BOOST_REQUIRE(m->commit_slice(make_slice(*b, f.ino, 0, 0, 10), 10, kT0).ok());
  BOOST_REQUIRE(m->commit_slice(make_slice(*a, f.ino, 0, 5, 10), 15, kT0).ok());
  auto sl = m->chunk_slices(f.ino, 0);
  BOOST_REQUIRE(sl.ok());
  BOOST_REQUIRE_EQUAL(sl->size(), 2u);
  BOOST_TEST((*sl)[0].id == *b);
  BOOST_TEST((*sl)[1].id == *a);
  // a was committed last, so it wins where both cover
  auto v = visible(*m, f.ino, 15);
  BOOST_TEST(v[2] == *b);
  BOOST_TEST(v[5] == *a);
  BOOST_TEST(v[12] == *a);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(commit_refuses_bad_slices) {
  Attr f = mk(kRootIno, "f");
  auto id = m->begin_slice(f.ino, 0, session);
  BOOST_REQUIRE(id.ok());
  Slice good = make_slice(*id, f.ino, 0, 0, 100000);
  Slice s = good;
  s.blocks.pop_back();
  BOOST_TEST(m->commit_slice(s, 100000, kT0).err() == EINVAL);
  s = good;
  s.blocks[1].size -= 1;
  BOOST_TEST(m->commit_slice(s, 100000, kT0).err() == EINVAL);
  s = good;
  s.blocks[0].checksum = "abc";
  BOOST_TEST(m->commit_slice(s, 100000, kT0).err() == EINVAL);
  s = good;
  s.blocks[1].index = 5;
  BOOST_TEST(m->commit_slice(s, 100000, kT0).err() == EINVAL);
  s = make_slice(*id, f.ino, 0, kChunk - 10, 20);
  BOOST_TEST(m->commit_slice(s, kChunk + 10, kT0).err() == EINVAL);   // crosses the chunk end
  s = good;
  s.chunk = 1;
  BOOST_TEST(m->commit_slice(s, 100000, kT0).err() == EINVAL);   // begun for chunk 0
  s = make_slice(*id + 1000, f.ino, 0, 0, 10);
  BOOST_TEST(m->commit_slice(s, 10, kT0).err() == EINVAL);   // never begun
  BOOST_TEST(m->chunk_slices(f.ino, 0)->empty());
  // the good one still commits, once
  BOOST_REQUIRE(m->commit_slice(good, 100000, kT0).ok());
  auto first = m->chunk_slices(f.ino, 0);
  BOOST_TEST(m->commit_slice(good, 100000, kT0).err() == EINVAL);
  auto again = m->chunk_slices(f.ino, 0);
  BOOST_REQUIRE_EQUAL(again->size(), 1u);
  BOOST_REQUIRE_EQUAL(again->front().blocks.size(), 2u);
  BOOST_TEST(again->front().blocks[0].id == first->front().blocks[0].id);
  BOOST_TEST(m->committed_blocks()->size() == 2u);

  Attr d = mkdir(kRootIno, "d");
  BOOST_TEST(m->begin_slice(d.ino, 0, session).err() == EISDIR);
  BOOST_TEST(m->begin_slice(999999, 0, session).err() == ENOENT);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(abort_slice) {
  Attr f = mk(kRootIno, "f");
  auto id = m->begin_slice(f.ino, 0, session);
  BOOST_REQUIRE(id.ok());
  BOOST_TEST(m->abort_slice(*id).ok());
  BOOST_TEST(m->commit_slice(make_slice(*id, f.ino, 0, 0, 10), 10, kT0).err() == EINVAL);
  BOOST_TEST(m->abort_slice(*id).ok());   // already gone
  Slice w = write(f.ino, 0, 0, 10);
  BOOST_TEST(m->abort_slice(w.id).err == EINVAL);   // committed data is never dropped this way
  BOOST_TEST(m->chunk_slices(f.ino, 0)->size() == 1u);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(commit_after_purge_queues_blocks) {
  Attr f = mk(kRootIno, "f");
  auto id = m->begin_slice(f.ino, 0, session);
  BOOST_REQUIRE(id.ok());
  BOOST_REQUIRE(m->unlink(kRootIno, "f", session, kT0).ok());
  BOOST_REQUIRE(m->purge(f.ino).ok());
  BOOST_TEST(dead(*m).empty());
  Slice s = make_slice(*id, f.ino, 0, 0, 150000);   // 3 blocks, uploaded meanwhile
  auto r = m->commit_slice(s, 150000, kT0);
  BOOST_TEST(r.err() == ENOENT);
  auto d = dead(*m);
  BOOST_REQUIRE_EQUAL(d.size(), 3u);
  std::set<uint64_t> ids;
  for (size_t i = 0; i < 3; ++i) {
    BOOST_TEST(d[i].slice_id == *id);
    BOOST_TEST(d[i].index == i);
    BOOST_TEST(d[i].size == s.blocks[i].size);
    ids.insert(d[i].id);
  }
  BOOST_TEST(ids.size() == 3u);
  BOOST_TEST(m->dead_blocks(2)->size() == 2u);
  BOOST_REQUIRE(m->forget_dead_blocks({d[0].id, d[1].id}).ok());
  BOOST_TEST(dead(*m).size() == 1u);
  BOOST_REQUIRE(m->forget_dead_blocks({d[2].id}).ok());
  BOOST_TEST(dead(*m).empty());
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(truncate_down_then_up) {
  Attr f = mk(kRootIno, "f");
  Slice c0 = write(f.ino, 0, 0, kChunk);        // 4 blocks
  Slice c1 = write(f.ino, 1, 0, 100 << 10);     // 2 blocks
  BOOST_TEST(attr(f.ino).size == kChunk + (100 << 10));

  // cut inside chunk 1: its slice stays, a zero slice hides the cut part
  const uint64_t cut1 = kChunk + 45056;
  auto a = m->truncate(f.ino, cut1, kT0 + 10);
  BOOST_REQUIRE_MESSAGE(a.ok(), a.msg());
  BOOST_TEST(a->size == cut1);
  BOOST_TEST(a->mtime_ns == kT0 + 10);
  auto sl = m->chunk_slices(f.ino, 1);
  BOOST_REQUIRE_EQUAL(sl->size(), 2u);
  BOOST_TEST((*sl)[0].id == c1.id);
  BOOST_TEST((*sl)[1].zero);
  BOOST_TEST((*sl)[1].id > c1.id);
  BOOST_TEST((*sl)[1].pos == 45056u);
  BOOST_TEST((*sl)[1].len == (100u << 10) - 45056u);
  BOOST_TEST((*sl)[1].blocks.empty());
  BOOST_TEST(dead(*m).empty());
  expect_consistent();

  // cut inside chunk 0: everything in chunk 1 goes, its blocks are queued
  const uint64_t cut0 = 200 << 10;
  BOOST_REQUIRE(m->truncate(f.ino, cut0, kT0 + 11).ok());
  BOOST_TEST(m->chunk_slices(f.ino, 1)->empty());
  auto d = dead(*m);
  BOOST_REQUIRE_EQUAL(d.size(), 2u);
  BOOST_TEST(d[0].slice_id == c1.id);
  BOOST_TEST(d[1].slice_id == c1.id);
  BOOST_TEST(d[0].size + d[1].size == (100u << 10));
  sl = m->chunk_slices(f.ino, 0);
  BOOST_REQUIRE_EQUAL(sl->size(), 2u);
  BOOST_TEST((*sl)[1].zero);
  BOOST_TEST((*sl)[1].pos == cut0);
  BOOST_TEST((*sl)[1].pos + (*sl)[1].len == kChunk);

  // growing only sets the size: the old bytes stay hidden
  a = m->truncate(f.ino, 1 << 20, kT0 + 12);
  BOOST_REQUIRE(a.ok());
  BOOST_TEST(a->size == (1u << 20));
  auto v = visible(*m, f.ino, 1 << 20);
  BOOST_TEST(v[0] == c0.id);
  BOOST_TEST(v[cut0 - 1] == c0.id);
  BOOST_TEST(all_zero(v, cut0, 1 << 20));
  BOOST_TEST(m->statfs()->used_bytes == (1u << 20));
  BOOST_TEST(dead(*m).size() == 2u);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(repeated_truncates_never_resurrect_bytes) {
  Attr f = mk(kRootIno, "f");
  Slice s = write(f.ino, 0, 0, 100000);
  BOOST_REQUIRE(m->truncate(f.ino, 50000, kT0).ok());
  BOOST_REQUIRE(m->truncate(f.ino, 80000, kT0).ok());   // grow: [50000, 80000) reads as zeros
  BOOST_REQUIRE(m->truncate(f.ino, 30000, kT0).ok());
  BOOST_REQUIRE(m->truncate(f.ino, 200000, kT0).ok());
  auto v = visible(*m, f.ino, 200000);
  BOOST_TEST(v[29999] == s.id);
  BOOST_TEST(all_zero(v, 30000, 200000));
  expect_consistent();
  // a write after the truncate shows through again
  Slice w = write(f.ino, 0, 40000, 10);
  v = visible(*m, f.ino, 200000);
  BOOST_TEST(v[40005] == w.id);
  BOOST_TEST(v[40010] == 0u);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(truncate_to_zero_and_errors) {
  Attr f = mk(kRootIno, "f");
  write(f.ino, 0, 0, 70000);
  write(f.ino, 3, 0, 10);
  BOOST_REQUIRE(m->truncate(f.ino, 0, kT0).ok());
  BOOST_TEST(attr(f.ino).size == 0u);
  BOOST_TEST(m->chunk_slices(f.ino, 0)->empty());
  BOOST_TEST(m->chunk_slices(f.ino, 3)->empty());
  BOOST_TEST(dead(*m).size() == 3u);
  BOOST_TEST(m->statfs()->used_bytes == 0u);
  BOOST_TEST(m->committed_blocks()->empty());

  Attr d = mkdir(kRootIno, "d");
  auto l = m->mknod(kRootIno, "l", S_IFLNK | 0777, 0, 0, 0, "t", kT0);
  BOOST_TEST(m->truncate(d.ino, 0, kT0).err() == EISDIR);
  BOOST_TEST(m->truncate(l->ino, 0, kT0).err() == EINVAL);
  BOOST_TEST(m->truncate(999999, 0, kT0).err() == ENOENT);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(purge_releases_every_block_once) {
  Attr f = mk(kRootIno, "f");
  Attr g = mk(kRootIno, "g");
  write(f.ino, 0, 0, 100000);   // 2 blocks
  write(f.ino, 1, 0, 10);       // 1 block
  write(g.ino, 0, 0, 10);       // 1 block, must survive
  auto cb = m->committed_blocks();
  BOOST_REQUIRE(cb.ok());
  BOOST_REQUIRE_EQUAL(cb->size(), 4u);
  BOOST_TEST(std::count_if(cb->begin(), cb->end(), [&](auto& p) { return p.first == f.ino; }) == 3);
  BOOST_TEST(m->statfs()->used_bytes == kChunk + 10 + 10);

  BOOST_REQUIRE(m->purge(f.ino).ok());   // still linked: nothing happens
  BOOST_TEST(dead(*m).empty());
  BOOST_REQUIRE(m->unlink(kRootIno, "f", session, kT0).ok());
  BOOST_TEST(m->chunk_slices(f.ino, 0)->size() == 1u);   // an orphan keeps its data
  BOOST_REQUIRE(m->purge(f.ino).ok());
  BOOST_REQUIRE(m->purge(f.ino).ok());
  auto d = dead(*m);
  BOOST_TEST(d.size() == 3u);
  BOOST_TEST(m->committed_blocks()->size() == 1u);
  BOOST_TEST(m->chunk_slices(f.ino, 0)->empty());
  BOOST_TEST(m->chunk_slices(g.ino, 0)->size() == 1u);
  BOOST_TEST(m->statfs()->used_bytes == 10u);
  BOOST_TEST(m->statfs()->inodes == 2u);
  expect_consistent();
}

// One call, many inodes (the VFS's purger): more than one statement batch
// (32), with an inode still linked and one already gone among them.
BOOST_AUTO_TEST_CASE(purge_of_many_inodes_in_one_call) {
  std::vector<uint64_t> inos;
  for (int i = 0; i < 70; ++i) {
    Attr f = mk(kRootIno, "f" + std::to_string(i));
    write(f.ino, 0, 0, 10 + i);   // one block each
    BOOST_REQUIRE(m->unlink(kRootIno, "f" + std::to_string(i), session, kT0).ok());
    inos.push_back(f.ino);
  }
  Attr kept = mk(kRootIno, "kept");
  write(kept.ino, 0, 0, 7);
  Attr gone = mk(kRootIno, "gone");
  BOOST_REQUIRE(m->unlink(kRootIno, "gone", session, kT0).ok());
  BOOST_REQUIRE(m->purge(gone.ino).ok());
  inos.insert(inos.begin() + 40, kept.ino);   // linked: must survive
  inos.insert(inos.begin() + 5, gone.ino);    // purged before: nothing to do
  BOOST_REQUIRE_EQUAL(dead(*m).size(), 0u);
  BOOST_REQUIRE(m->purge(inos).ok());
  BOOST_TEST(dead(*m).size() == 70u);
  auto cb = m->committed_blocks();
  BOOST_REQUIRE(cb.ok());
  BOOST_REQUIRE_EQUAL(cb->size(), 1u);
  BOOST_TEST(cb->front().first == kept.ino);
  BOOST_TEST(attr(kept.ino).size == 7u);
  for (uint64_t ino : {inos.front(), inos.back()}) {
    BOOST_TEST(m->getattr(ino).err() == ENOENT);
    BOOST_TEST(m->chunk_slices(ino, 0)->empty());
  }
  BOOST_TEST(m->statfs()->used_bytes == 7u);
  BOOST_TEST(m->statfs()->inodes == 2u);   // the root and "kept"
  BOOST_REQUIRE(m->purge(inos).ok());      // again: nothing left to do
  BOOST_TEST(dead(*m).size() == 70u);
  expect_consistent();
}

// ---- appends (O_APPEND): placed at the end of the file by the commit ----------

namespace {
Slice begin_append(MetaFixture& f, Meta& m, uint64_t ino, uint64_t len) {
  auto id = m.begin_slice(ino, 0, f.session);
  BOOST_REQUIRE_MESSAGE(id.ok(), "begin_slice: " << id.msg());
  return make_slice(*id, ino, 0, 0, len);
}
}  // namespace

BOOST_AUTO_TEST_CASE(append_lands_at_the_end) {
  Attr f = mk(kRootIno, "f");
  write(f.ino, 0, 0, 1000);
  Slice s = begin_append(*this, *m, f.ino, 500);
  s.pos = 12345;   // ignored: the commit places it
  auto a = m->commit_append(s, kT0 + 9);
  BOOST_REQUIRE_MESSAGE(a.ok(), a.msg());
  BOOST_TEST(a->size == 1500u);
  BOOST_TEST(a->mtime_ns == kT0 + 9);
  BOOST_TEST(attr(f.ino).size == 1500u);
  BOOST_TEST(m->statfs()->used_bytes == 1500u);
  auto sl = m->chunk_slices(f.ino, 0);
  BOOST_REQUIRE(sl.ok());
  BOOST_REQUIRE_EQUAL(sl->size(), 2u);
  BOOST_TEST(sl->back().id == s.id);
  BOOST_TEST(sl->back().pos == 1000u);
  BOOST_TEST(sl->back().len == 500u);
  BOOST_TEST(sl->back().off == 0u);
  // committing it again is refused
  BOOST_TEST(m->commit_append(s, kT0).err() == EINVAL);
  // larger than a chunk: refused, nothing changes
  Slice big = begin_append(*this, *m, f.ino, kChunk + 1);
  BOOST_TEST(m->commit_append(big, kT0).err() == EINVAL);
  BOOST_TEST(attr(f.ino).size == 1500u);
  BOOST_REQUIRE(m->abort_slice(big.id).ok());
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(append_across_a_chunk_end_is_two_rows_sharing_blocks) {
  Attr f = mk(kRootIno, "f");
  BOOST_REQUIRE(m->truncate(f.ino, kChunk - 100, kT0).ok());
  Slice s = begin_append(*this, *m, f.ino, kBlock + 300);   // 2 blocks
  auto a = m->commit_append(s, kT0);
  BOOST_REQUIRE_MESSAGE(a.ok(), a.msg());
  BOOST_TEST(a->size == kChunk + kBlock + 200);
  auto c0 = m->chunk_slices(f.ino, 0);
  auto c1 = m->chunk_slices(f.ino, 1);
  BOOST_REQUIRE(c0.ok() && c1.ok());
  BOOST_REQUIRE_EQUAL(c0->size(), 1u);
  BOOST_REQUIRE_EQUAL(c1->size(), 1u);
  const Slice& first = c0->front();
  const Slice& second = c1->front();
  BOOST_TEST(first.id == s.id);
  BOOST_TEST(first.pos == kChunk - 100);
  BOOST_TEST(first.len == 100u);
  BOOST_TEST(first.off == 0u);
  BOOST_TEST(second.id != s.id);
  BOOST_TEST(second.pos == 0u);
  BOOST_TEST(second.len == kBlock + 200);
  BOOST_TEST(second.off == 100u);
  // Both rows read the same uploaded blocks (named by the uploading slice).
  BOOST_REQUIRE_EQUAL(second.blocks.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    BOOST_TEST(second.blocks[i].id == first.blocks[i].id);
    BOOST_TEST(second.blocks[i].slice_id == s.id);
  }
  // The reader maps chunk 1 byte 0 to byte 100 of the data.
  auto segs = resolve_slices(*c1, kChunk);
  BOOST_REQUIRE(!segs.empty());
  BOOST_TEST(segs.front().slice != nullptr);
  BOOST_TEST(segs.front().slice_off == 100u);
  BOOST_TEST(m->committed_blocks()->size() == 2u);
  expect_consistent();
  // Dropping both rows releases each block once.
  BOOST_REQUIRE(m->truncate(f.ino, 0, kT0).ok());
  BOOST_TEST(dead(*m).size() == 2u);
  BOOST_TEST(m->committed_blocks()->empty());
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(appends_from_two_connections_never_overlap) {
  Attr f = mk(kRootIno, "f");
  auto other = open_or_fail(url, false);
  BOOST_REQUIRE(other->load_settings().ok());
  // Both clients begin before either commits, as two mounts would.
  std::vector<std::pair<Meta*, Slice>> pending;
  uint64_t total = 0;
  for (int i = 0; i < 40; ++i) {
    Meta* who = i % 2 ? other.get() : m.get();
    uint64_t len = 8000 + 37 * i;   // 350 KB in all: crosses a chunk end
    total += len;
    pending.emplace_back(who, begin_append(*this, *who, f.ino, len));
  }
  std::vector<std::pair<uint64_t, uint64_t>> ranges;   // (landed at, len)
  for (auto& [who, s] : pending) {
    auto a = who->commit_append(s, kT0);
    BOOST_REQUIRE_MESSAGE(a.ok(), a.msg());
    ranges.emplace_back(a->size - s.len, s.len);
  }
  BOOST_TEST(attr(f.ino).size == total);
  std::sort(ranges.begin(), ranges.end());
  uint64_t at = 0;
  for (auto& [off, len] : ranges) {
    BOOST_TEST(off == at);   // adjacent: no overlap, no gap
    at = off + len;
  }
  // Every byte of the file belongs to exactly the append that claimed it.
  auto who_wrote = visible(*m, f.ino, total);
  BOOST_TEST(std::count(who_wrote.begin(), who_wrote.end(), 0u) == 0);
  expect_consistent();
}

// ---- compaction: the swap succeeds only on an unchanged slice list -------------------

BOOST_AUTO_TEST_CASE(compaction_swaps_only_an_unchanged_slice_list) {
  Attr f = mk(kRootIno, "f");
  Slice a = write(f.ino, 0, 0, 1000);
  Slice b = write(f.ino, 0, 500, 1000);
  Slice c = write(f.ino, 0, 100, 10);
  auto frag = m->fragmented_chunks(3, 10);
  BOOST_REQUIRE(frag.ok());
  BOOST_REQUIRE_EQUAL(frag->size(), 1u);
  BOOST_TEST(frag->front().ino == f.ino);
  BOOST_TEST(frag->front().slices == 3u);
  BOOST_TEST(m->fragmented_chunks(4, 10)->empty());

  auto id = m->begin_slice(f.ino, 0, session, 1500);
  BOOST_REQUIRE(id.ok());
  Slice merged = make_slice(*id, f.ino, 0, 0, 1500);
  // A slice committed after the list was read: the swap is refused, nothing changes.
  Slice d = write(f.ino, 0, 1400, 200);
  auto refused = m->commit_compaction(merged, {a.id, b.id, c.id}, kT0);
  BOOST_TEST(refused.err() == EAGAIN);
  BOOST_TEST(m->chunk_slices(f.ino, 0)->size() == 4u);
  BOOST_TEST(dead(*m).empty());
  BOOST_REQUIRE(m->abort_slice(*id).ok());

  // With the current list it goes through: one slice, the others' blocks dead.
  auto id2 = m->begin_slice(f.ino, 0, session, 1600);
  BOOST_REQUIRE(id2.ok());
  Slice merged2 = make_slice(*id2, f.ino, 0, 0, 1600);
  auto done = m->commit_compaction(merged2, {a.id, b.id, c.id, d.id}, kT0);
  BOOST_REQUIRE_MESSAGE(done.ok(), done.msg());
  BOOST_TEST(done->size == 1600u);
  auto sl = m->chunk_slices(f.ino, 0);
  BOOST_REQUIRE_EQUAL(sl->size(), 1u);
  BOOST_TEST(sl->front().id == *id2);
  BOOST_TEST(dead(*m).size() == 4u);
  BOOST_TEST(m->fragmented_chunks(2, 10)->empty());
  BOOST_TEST(attr(f.ino).size == 1600u);
  expect_consistent();
}

// The compactor clips its merged slice to the file size it read. If a write
// grew the file between that read and the slice list it merges, the merged
// slice is shorter than what it replaces: the swap must be refused, or the
// grown tail becomes a hole (the data loss seen in compaction_test_pg).
BOOST_AUTO_TEST_CASE(compaction_refuses_a_merged_slice_shorter_than_the_visible_bytes) {
  Attr f = mk(kRootIno, "f");
  Slice a = write(f.ino, 0, 0, 1000);
  Slice b = write(f.ino, 0, 500, 300);
  const uint64_t size_seen = attr(f.ino).size;   // 1000: what the compactor clipped to
  Slice c = write(f.ino, 0, 900, 1100);           // the file grows to 2000
  const auto before = visible(*m, f.ino, 2000);

  auto id = m->begin_slice(f.ino, 0, session, size_seen);
  BOOST_REQUIRE(id.ok());
  Slice merged = make_slice(*id, f.ino, 0, 0, size_seen);
  auto refused = m->commit_compaction(merged, {a.id, b.id, c.id}, kT0);
  BOOST_TEST(refused.err() == EAGAIN, refused.msg());
  BOOST_TEST(m->chunk_slices(f.ino, 0)->size() == 3u);
  BOOST_TEST((visible(*m, f.ino, 2000) == before));
  BOOST_TEST(dead(*m).empty());
  BOOST_REQUIRE(m->abort_slice(*id).ok());

  // A merged slice that starts after the first visible byte is refused too.
  auto id2 = m->begin_slice(f.ino, 0, session, 1900);
  BOOST_REQUIRE(id2.ok());
  auto late = m->commit_compaction(make_slice(*id2, f.ino, 0, 100, 1900), {a.id, b.id, c.id}, kT0);
  BOOST_TEST(late.err() == EAGAIN, late.msg());
  BOOST_REQUIRE(m->abort_slice(*id2).ok());

  // After a truncate down the visible end is the file end: a merged slice up
  // to it is enough (the zero slice hides the rest).
  BOOST_REQUIRE(m->truncate(f.ino, 1500, kT0).ok());
  auto sl = m->chunk_slices(f.ino, 0);
  BOOST_REQUIRE(sl.ok());
  std::vector<uint64_t> ids;
  for (const Slice& s : *sl) ids.push_back(s.id);
  auto id3 = m->begin_slice(f.ino, 0, session, 1500);
  BOOST_REQUIRE(id3.ok());
  auto done = m->commit_compaction(make_slice(*id3, f.ino, 0, 0, 1500), ids, kT0);
  BOOST_REQUIRE_MESSAGE(done.ok(), done.msg());
  BOOST_TEST(attr(f.ino).size == 1500u);
  BOOST_TEST(m->chunk_slices(f.ino, 0)->size() == 1u);
  expect_consistent();
}

BOOST_AUTO_TEST_SUITE_END()
