// The background workers of a volume, as one bundle: the deleter (objects of
// dead blocks), the session cleaner (stale sessions) and the compactor
// (fragmented chunks). A mount runs them unless --no-bgjob; a gc-node runs
// them for mounts that do not (cmd/gc_node.cpp).
#pragma once
#include <caf/all.hpp>

#include <chrono>
#include <vector>

#include "actors/bg_stats.hpp"
#include "actors/compactor.hpp"
#include "actors/store_workers.hpp"

namespace s3l {

struct BackgroundConfig {
  caf::actor meta;                        // the meta service
  StoreWorkers workers;                   // uploads delete the objects
  uint64_t session = 0;                   // owns the compactor's pending slices
  std::chrono::milliseconds cleaner_interval{12000};
  std::chrono::milliseconds deleter_interval{2000};
  std::chrono::milliseconds delete_delay{2000};   // readers in flight may still use a dead block
  CompactorConfig compactor;              // its session and volume are filled from here
  BgStatsPtr stats;
};

struct Background {
  caf::actor deleter;
  caf::actor cleaner;
  caf::actor compactor;   // also takes (compact_hint_atom, ino, chunk)
  std::vector<caf::actor> all() const { return {compactor, cleaner, deleter}; }
};

Background spawn_background(caf::actor_system& sys, BackgroundConfig cfg);

}  // namespace s3l
