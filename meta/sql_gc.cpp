// SqlMeta: the references `s3layerfs-daemon gc` compares the store listing
// against. Full scans by nature, batched by primary key so that neither
// engine (PostgreSQL materialises a whole result) holds millions of rows.
#include <cerrno>
#include <cstdint>

#include "meta/sql_meta.hpp"

namespace s3l::meta {
namespace {

constexpr int64_t kBatch = 10000;   // rows per statement

}  // namespace

Result<GcReferences> SqlMeta::gc_references(const std::function<void(const GcBlockRef&)>& visit) {
  // One read transaction: SQLite (WAL) and PostgreSQL (REPEATABLE READ) both
  // give every statement in it the same snapshot, so a block committed while
  // this runs is either seen as a block or its slice is seen as pending.
  return run("gc references", Tx::kRead, [&]() -> Result<GcReferences> {
    GcReferences out;
    {
      Query q(*conn_, "SELECT value FROM counters WHERE name = $1");
      q.text(1, "next_slice");
      if (!q.next()) throw DbError(EIO, false, "counter 'next_slice' is missing");
      out.next_slice_id = q.u64(0);
    }
    // Uploads in flight: their objects exist before any block row does.
    for (int64_t after = -1;;) {
      Query q(*conn_, "SELECT id FROM slices WHERE status = 0 AND id > $1 ORDER BY id LIMIT $2");
      q.bind(1, after).bind(2, kBatch);
      int64_t n = 0;
      for (; q.next(); ++n) {
        after = q.i64(0);
        out.pending_slices.push_back(static_cast<uint64_t>(after));
      }
      if (n < kBatch) break;
    }
    // Live blocks, then the dead-block queue (the deleter owns those objects).
    const char* const tables[2][2] = {
        {"SELECT id, slice_id, idx, size FROM blocks WHERE id > $1 ORDER BY id LIMIT $2", "blocks"},
        {"SELECT block_id, slice_id, idx, size FROM dead_blocks WHERE block_id > $1 ORDER BY block_id LIMIT $2",
         "dead_blocks"}};
    for (int t = 0; t < 2; ++t) {
      uint64_t& count = t == 0 ? out.blocks : out.dead_blocks;
      for (int64_t after = -1;;) {
        Query q(*conn_, tables[t][0]);
        q.bind(1, after).bind(2, kBatch);
        int64_t n = 0;
        for (; q.next(); ++n) {
          after = q.i64(0);
          int64_t idx = q.i64(2), size = q.i64(3);
          if (idx < 0 || idx > UINT32_MAX || size < 0 || size > UINT32_MAX)
            throw DbError(EIO, false, std::string(tables[t][1]) + " row " + std::to_string(after) +
                                          " has an impossible index " + std::to_string(idx) + " or size " +
                                          std::to_string(size));
          visit(GcBlockRef{q.u64(1), static_cast<uint32_t>(idx), static_cast<uint32_t>(size), t == 1});
          ++count;
        }
        if (n < kBatch) break;
      }
    }
    // The caller deletes what these references do not cover: make the state
    // they came from durable first (see dead_blocks), so a power loss cannot
    // bring back a reference to an object gc removed.
    conn_->sync();
    return out;
  });
}

}  // namespace s3l::meta
