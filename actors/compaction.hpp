// Compaction of one chunk, as a plain blocking function: the compactor actor
// runs it on its own (detached) thread, `gc --compact` runs it directly.
// Reads the chunk's visible bytes through its committed slices, stores them
// as one new slice (blocks checked against their recorded SHA-256 on the way
// in, so damage is never copied), and swaps it in with
// Meta::commit_compaction. If the chunk changed meanwhile the new objects are
// removed and the chunk is left for a later pass.
#pragma once
#include <cstdint>
#include <memory>

#include "meta/meta.hpp"
#include "store/disk_cache.hpp"
#include "store/object_store.hpp"
#include "util/result.hpp"

namespace s3l {

enum class CompactOutcome { compacted, changed, skipped };

struct CompactResult {
  CompactOutcome outcome = CompactOutcome::skipped;
  uint64_t slices_before = 0;
  uint64_t bytes = 0;           // length of the merged slice
};

// `cache` may be null (read straight from the store). `session` owns the
// merged slice while it is pending.
Result<CompactResult> compact_chunk(meta::Meta& m, store::ObjectStore& store, store::BlockCache* cache,
                                    const meta::VolumeSettings& vol, uint64_t session, uint64_t ino,
                                    uint64_t chunk);

}  // namespace s3l
