// The purger: frees orphan inodes (nlink 0, no longer reachable through this
// mount) in batches. The VFS sends (purge_atom, ino) and goes on: the FUSE
// thread that handles a FORGET or RELEASE never waits for a database
// transaction, and a burst of unlinks costs one purge transaction per batch
// instead of one commit per file.
//  - A batch goes when `batch` inodes are queued, or `delay` after the first
//    one was; one batch at a time (back-pressure on the meta service).
//  - The queue is bounded (`max_queued`): past it, inodes are left to the
//    session's end (close_session purges every orphan of the session), with a
//    warning. A failed batch is logged and left the same way: the orphan rows
//    were committed by the unlink, so nothing is lost, only freed later.
//  - (drain_atom) replies once the queue is empty and no batch is under way
//    (unmount, before the session is closed).
#pragma once
#include <caf/all.hpp>

#include <chrono>
#include <cstddef>

namespace s3l {

struct PurgerConfig {
  size_t batch = 256;
  std::chrono::milliseconds delay{20};
  size_t max_queued = 1u << 20;
};

caf::actor spawn_purger(caf::actor_system& sys, caf::actor meta, PurgerConfig cfg = {});

}  // namespace s3l
