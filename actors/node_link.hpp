// The link from a mount started with --no-bgjob --gc-node HOST:PORT to its
// gc-node: a detached actor (connecting blocks) that connects, attaches with
// `hello`, and forwards compaction hints (compact_hint_atom, ino, chunk) as
// `compact INODE CHUNK`. When the gc-node dies or hangs (middleman heartbeat)
// it reconnects every second; hints that arrive meanwhile are kept (bounded)
// and sent once connected. Nothing here is needed for correctness: without
// the gc-node, garbage waits and chunks stay fragmented, no data is at risk.
#pragma once
#include <caf/all.hpp>

#include <atomic>
#include <memory>
#include <string>

namespace s3l {

struct NodeLinkConfig {
  std::string host;
  uint16_t port = 0;
  std::string volume_uuid;
  uint64_t session = 0;
  std::string client_host, mountpoint;   // told to the gc-node in hello
};

struct NodeLinkStats {
  std::atomic<bool> connected{false};
  std::atomic<uint64_t> connects{0};
  std::atomic<uint64_t> hints_sent{0};
};

caf::actor spawn_node_link(caf::actor_system& sys, NodeLinkConfig cfg, std::shared_ptr<NodeLinkStats> stats);

}  // namespace s3l
