// The network interface of a node (a gc-node, or a mount started with
// --listen), published with caf::io: one typed handler, a command atom plus
// string arguments in, a settings dictionary out. Only ids, keys and
// counters cross it, never file data (block data stays between each node and
// the store). Every type used is one CAF announces itself, so both sides need
// no type registration and a new command needs no change to the interface.
//
// Commands (docs/gc-node.md):
//   help                                  -> {commands}
//   status                                -> role, volume, session, counters, attached mounts
//   hello VOLUME-UUID SESSION HOST MNT    -> {volume}; a mount attaches (refused if the volume differs)
//   compact INO CHUNK                     -> {}; this chunk was just fragmented (gc-node only)
//   drain                                 -> {objects-deleted}; one deleter pass now, no delay (gc-node only)
#pragma once
#include <caf/all.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace s3l {

using node_api = caf::typed_actor<
    caf::replies_to<caf::atom_value, std::vector<std::string>>::with<caf::settings>>;

// How long a peer may stay silent before the connection counts as dead
// (middleman heartbeat): a hung gc-node or mount is noticed within seconds.
constexpr auto kNodeHeartbeat = std::chrono::milliseconds(500);
constexpr auto kNodeConnectionTimeout = std::chrono::seconds(5);
constexpr auto kNodeRequestTimeout = std::chrono::seconds(10);

// Loads caf::io's middleman into `cfg` with the heartbeat settings above.
void configure_node_network(caf::actor_system_config& cfg);

}  // namespace s3l
