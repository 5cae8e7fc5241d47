// Counters of the background workers (deleter, compactor, session cleaner),
// shared with the node service that reports them (`shell ... status`).
// Atomics: the workers run on their own threads.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>

namespace s3l {

struct BgStats {
  std::atomic<uint64_t> objects_deleted{0};     // dead blocks removed from the store
  std::atomic<uint64_t> deleter_passes{0};
  std::atomic<uint64_t> chunks_compacted{0};
  std::atomic<uint64_t> compactor_passes{0};
  std::atomic<uint64_t> compact_hints{0};       // chunks named by mounts as fragmented
  std::atomic<uint64_t> sessions_cleaned{0};    // stale sessions ended by this node's cleaner
};

using BgStatsPtr = std::shared_ptr<BgStats>;

}  // namespace s3l
