// The node service: the actor a gc-node (or a mount with --listen) publishes
// on its address, answering the commands of actors/node_api.hpp. It knows the
// background workers it may drive (none in a mount without them) and keeps
// the list of mounts attached with `hello`, dropping one when its connection
// goes down.
#pragma once
#include <caf/all.hpp>

#include <functional>
#include <string>

#include "actors/background.hpp"
#include "actors/node_api.hpp"
#include "meta/types.hpp"

namespace s3l {

struct NodeInfo {
  std::string role;            // "gc-node" or "mount"
  std::string volume;          // name
  std::string volume_uuid;
  uint64_t session = 0;
  std::string host;
  int64_t pid = 0;
  int64_t started_ns = 0;
  bool has_background = false; // bg below is valid
  Background bg;
  BgStatsPtr stats;
  // Extra status lines of the owner (e.g. the mount's gc-node link); may be empty.
  std::function<void(caf::settings&)> add_status;
};

// The identity part of a NodeInfo, from the volume and the session row.
NodeInfo node_info(std::string role, const meta::VolumeSettings& volume, const meta::SessionInfo& session_row,
                   uint64_t session);

node_api spawn_node_service(caf::actor_system& sys, NodeInfo info);

}  // namespace s3l
