// The compactor: a detached actor (it blocks on the database and the store)
// that every interval asks for the most fragmented chunks (at least
// `threshold` committed slices) and rewrites each as one slice
// (actors/compaction.hpp). It also takes hints, (compact_hint_atom, ino,
// chunk): a mount that has committed `threshold` slices into one chunk names
// it, and at the next tick it is compacted before the scan (whose 16 most
// fragmented chunks may not include it).
// Every mount runs one unless --no-bgjob (then a gc-node does); two
// compactors on one chunk are safe: the second swap finds the list changed.
#pragma once
#include <caf/all.hpp>

#include <chrono>
#include <functional>
#include <memory>

#include "actors/bg_stats.hpp"
#include "meta/meta.hpp"
#include "store/disk_cache.hpp"
#include "store/object_store.hpp"

namespace s3l {

struct CompactorConfig {
  std::function<Result<std::unique_ptr<meta::Meta>>()> open_meta;   // its own connection
  std::shared_ptr<store::ObjectStore> store;
  std::shared_ptr<store::BlockCache> cache;                         // may be null
  meta::VolumeSettings volume;
  uint64_t session = 0;
  uint64_t threshold = 24;
  std::chrono::milliseconds interval{10000};
  BgStatsPtr stats;                                                 // may be null
};

// Hinted chunks waiting beyond this are dropped (the periodic scan finds
// them anyway): a flood of hints must not grow memory without bound.
constexpr size_t kMaxCompactHints = 4096;

caf::actor spawn_compactor(caf::actor_system& sys, CompactorConfig cfg);

}  // namespace s3l
