// The session cleaner: runs in every mount; the one whose session holds the
// "cleaner" lease in the database acts. Every interval it renews the lease,
// and ends each session whose heartbeat is older than that session's expiry
// (a crashed or cut-off mount): its pending slices and the objects their
// uploads may have stored, its open-but-unlinked files, its locks, its row.
#pragma once
#include <caf/all.hpp>

#include <chrono>

#include "actors/bg_stats.hpp"

namespace s3l {

// The lease lasts 3 intervals: a cleaner that stops renewing it (crashed,
// unmounted) is replaced by another mount's within that time.
caf::actor spawn_session_cleaner(caf::actor_system& sys, caf::actor meta, uint64_t session,
                                 std::chrono::milliseconds interval, BgStatsPtr stats = nullptr);

}  // namespace s3l
