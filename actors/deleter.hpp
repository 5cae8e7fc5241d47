// The deleter: removes the objects of dead blocks (refcount reached zero) from
// the store, then forgets their rows. Runs every few seconds; (drain_atom)
// runs one pass now and replies when it is done (used at unmount).
// A dead block is kept for `delay` first, so a reader holding an old slice
// list can still finish.
#pragma once
#include <caf/all.hpp>

#include <chrono>

#include "actors/bg_stats.hpp"
#include "store/object_store.hpp"

namespace s3l {
caf::actor spawn_deleter(caf::actor_system& sys, caf::actor meta, caf::actor uploads,
                         std::string volume, std::chrono::milliseconds interval,
                         std::chrono::milliseconds delay, BgStatsPtr stats = nullptr);
}
