// Meta::gc_references (meta/sql_gc.cpp): every block row, every dead-block
// row, the pending slices and the slice counter, in one snapshot that spans
// its batches. Runs on SQLite, and on PostgreSQL as meta_gc_test_pg.
#define BOOST_TEST_MODULE meta_gc
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <set>
#include <tuple>

#include "meta/sql_meta.hpp"
#include "tests/unit/meta_fixture.hpp"

using namespace s3l;
using namespace s3l::meta;
using namespace s3l::meta::test;

namespace {

using Ref = std::tuple<uint64_t, uint32_t, uint32_t, bool>;   // slice, index, size, dead

struct Seen {
  std::multiset<Ref> refs;
  GcReferences rest;
};

Seen gc_refs(Meta& m) {
  Seen s;
  auto r = m.gc_references([&](const GcBlockRef& b) { s.refs.insert(Ref{b.slice_id, b.index, b.size, b.dead}); });
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  s.rest = *r;
  return s;
}

// Rows numbered 1..n through a recursive CTE (both engines), so the scan
// needs more than one batch of 10,000 rows.
std::string numbers(int n) {
  return "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(n) + ") ";
}

// A connection that counts sync() calls and forwards everything to the real one.
class SyncCounter : public SqlConn {
 public:
  SyncCounter(std::unique_ptr<SqlConn> in, int* syncs) : in_(std::move(in)), syncs_(syncs) {}
  std::string engine() const override { return in_->engine(); }
  std::string describe() const override { return in_->describe(); }
  const char* schema_ddl() const override { return in_->schema_ddl(); }
  bool has_table(const std::string& name) override { return in_->has_table(name); }
  void exec(const std::string& sql) override { in_->exec(sql); }
  SqlStmt& prepare(const std::string& sql) override { return in_->prepare(sql); }
  void clear_statements() noexcept override { in_->clear_statements(); }
  void begin(bool write) override { in_->begin(write); }
  void commit() override { in_->commit(); }
  void rollback() noexcept override { in_->rollback(); }
  void sync() override {
    ++*syncs_;
    in_->sync();
  }
  int max_attempts() const override { return in_->max_attempts(); }
  int counter_shards() const override { return in_->counter_shards(); }
  void lock_keys(const std::vector<int64_t>& keys) override { in_->lock_keys(keys); }
  void run_later(SqlStmt& s) override { in_->run_later(s); }

 private:
  std::unique_ptr<SqlConn> in_;
  int* syncs_;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(gc, MetaFixture)

BOOST_AUTO_TEST_CASE(objects_are_handed_out_for_deletion_only_after_a_sync) {
  // The deleter and gc delete objects the metadata no longer references. The
  // unlink or truncate that stopped referencing them may be committed but not
  // yet durable (SQLite sync=normal); dead_blocks and gc_references must make
  // it durable before they answer, or a power loss could bring back a file
  // whose objects are gone.
  Attr f = mk(kRootIno, "f");
  write(f.ino, 0, 0, 100000);
  BOOST_REQUIRE(m->truncate(f.ino, 0, kT0).ok());   // two blocks become dead
  int syncs = 0;
  auto c = open_sql_conn(url, false);
  BOOST_REQUIRE_MESSAGE(c.ok(), c.msg());
  SqlMeta counted(std::make_unique<SyncCounter>(std::move(*c), &syncs));
  auto d = counted.dead_blocks(100);
  BOOST_REQUIRE_MESSAGE(d.ok(), d.msg());
  BOOST_TEST(d->size() == 2u);
  BOOST_TEST(syncs == 1);
  syncs = 0;
  auto r = counted.gc_references([](const GcBlockRef&) {});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->dead_blocks == 2u);
  BOOST_TEST(syncs == 1);
  // Nothing dead: nothing to delete, no fsync (the deleter polls often).
  BOOST_REQUIRE(counted.forget_dead_blocks({(*d)[0].id, (*d)[1].id}).ok());
  syncs = 0;
  BOOST_TEST(counted.dead_blocks(100)->empty());
  BOOST_TEST(syncs == 0);
}

BOOST_AUTO_TEST_CASE(blocks_dead_blocks_pending_slices_and_the_counter) {
  Attr f = mk(kRootIno, "f"), g = mk(kRootIno, "g");
  Slice s1 = write(f.ino, 0, 0, 100000);   // blocks of 65536 and 34464 bytes
  Slice s2 = write(g.ino, 0, 0, 10);
  auto p = m->begin_slice(f.ino, 1, session);
  BOOST_REQUIRE_MESSAGE(p.ok(), p.msg());
  BOOST_REQUIRE(m->truncate(g.ino, 0, kT0).ok());   // s2's block goes to the dead-block queue

  Seen s = gc_refs(*m);
  std::multiset<Ref> want = {Ref{s1.id, 0, 65536, false}, Ref{s1.id, 1, 34464, false}, Ref{s2.id, 0, 10, true}};
  BOOST_TEST((s.refs == want));
  BOOST_TEST(s.rest.blocks == 2u);
  BOOST_TEST(s.rest.dead_blocks == 1u);
  BOOST_TEST((s.rest.pending_slices == std::vector<uint64_t>{*p}));
  BOOST_TEST(s.rest.next_slice_id > std::max({s1.id, s2.id, *p}));

  // Committed, the pending slice's blocks are block rows.
  Slice s3 = make_slice(*p, f.ino, 1, 0, 5);
  BOOST_REQUIRE(m->commit_slice(s3, kChunk + 5, kT0).ok());
  s = gc_refs(*m);
  want.insert(Ref{*p, 0, 5, false});
  BOOST_TEST((s.refs == want));
  BOOST_TEST(s.rest.pending_slices.empty());

  // Aborted, a pending slice leaves nothing behind that references its objects.
  auto q = m->begin_slice(f.ino, 2, session);
  BOOST_REQUIRE(q.ok());
  BOOST_TEST((gc_refs(*m).rest.pending_slices == std::vector<uint64_t>{*q}));
  BOOST_REQUIRE(m->abort_slice(*q).ok());
  s = gc_refs(*m);
  BOOST_TEST(s.rest.pending_slices.empty());
  BOOST_TEST((s.refs == want));
}

BOOST_AUTO_TEST_CASE(many_rows_in_batches_in_one_snapshot) {
  constexpr int kRows = 10005;   // more than one batch
  raw(numbers(kRows) + "INSERT INTO blocks (slice_id, idx, size, checksum, refs) SELECT 1000000 + i, 0, i, 'x', 1 FROM n");
  raw(numbers(kRows) + "INSERT INTO dead_blocks (block_id, slice_id, idx, size, since) SELECT 5000000 + i, 2000000 + i, 1, i, 0 FROM n");
  Attr f = mk(kRootIno, "f");

  // A second client commits a slice and begins another while the scan runs
  // (at its first row): neither may show up, because the scan reads one snapshot.
  auto other = open_or_fail(url, false);
  auto osid = other->register_session(SessionInfo{0, "other", 43, "/mnt/other", "test", kT0, kT0});
  BOOST_REQUIRE(osid.ok());
  bool wrote = false;
  uint64_t late_slice = 0, late_pending = 0;
  std::multiset<Ref> refs;
  auto r = m->gc_references([&](const GcBlockRef& b) {
    refs.insert(Ref{b.slice_id, b.index, b.size, b.dead});
    if (wrote) return;
    wrote = true;
    auto id = other->begin_slice(f.ino, 0, *osid);
    BOOST_REQUIRE_MESSAGE(id.ok(), id.msg());
    late_slice = *id;
    auto a = other->commit_slice(make_slice(*id, f.ino, 0, 0, 3 * kBlock), 3 * kBlock, kT0);
    BOOST_REQUIRE_MESSAGE(a.ok(), a.msg());
    auto pid = other->begin_slice(f.ino, 1, *osid);
    BOOST_REQUIRE_MESSAGE(pid.ok(), pid.msg());
    late_pending = *pid;
  });
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_REQUIRE(wrote);
  BOOST_TEST(r->blocks == static_cast<uint64_t>(kRows));
  BOOST_TEST(r->dead_blocks == static_cast<uint64_t>(kRows));
  BOOST_TEST(refs.size() == 2u * kRows);
  BOOST_TEST(std::set<Ref>(refs.begin(), refs.end()).size() == refs.size());   // no row twice
  for (int i : {1, 5000, 10000, 10001, kRows}) {
    BOOST_TEST(refs.count(Ref{1000000u + i, 0, static_cast<uint32_t>(i), false}) == 1u);
    BOOST_TEST(refs.count(Ref{2000000u + i, 1, static_cast<uint32_t>(i), true}) == 1u);
  }
  for (const Ref& x : refs) BOOST_TEST_REQUIRE(std::get<0>(x) != late_slice);
  BOOST_TEST(r->pending_slices.empty());

  // A new scan sees both.
  Seen s = gc_refs(*m);
  BOOST_TEST(s.rest.blocks == kRows + 3u);
  BOOST_TEST((s.rest.pending_slices == std::vector<uint64_t>{late_pending}));
  BOOST_TEST(s.refs.count(Ref{late_slice, 2, static_cast<uint32_t>(kBlock), false}) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
