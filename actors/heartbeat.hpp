// The session heartbeat: refreshes this mount's session row every interval so
// other clients can tell a live session from a crashed one.
#pragma once
#include <caf/all.hpp>

#include <chrono>

namespace s3l {
caf::actor spawn_heartbeat(caf::actor_system& sys, caf::actor meta, uint64_t session,
                           std::chrono::milliseconds interval);
}
