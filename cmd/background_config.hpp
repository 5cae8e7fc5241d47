// The background workers' configuration shared by mount and gc-node.
#pragma once
#include <chrono>
#include <string>

#include "actors/background.hpp"
#include "cmd/common.hpp"

namespace s3l::cmd {

// Deleter, cleaner (every heartbeat) and compactor of volume `v`; the
// compactor gets a connection of its own and no cache (the caller may set one).
BackgroundConfig background_config(const std::string& meta_url, const Volume& v, caf::actor meta,
                                   const StoreWorkers& workers, uint64_t session, std::chrono::seconds heartbeat,
                                   uint32_t compact_threshold, uint32_t compact_interval_s, BgStatsPtr stats);

}  // namespace s3l::cmd
