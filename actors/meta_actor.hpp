// The meta actor: a detached actor that owns one metadata connection and
// serialises every transaction on it (SQLite allows one writer anyway).
#pragma once
#include <caf/all.hpp>

#include <atomic>
#include <memory>

#include "meta/meta.hpp"

namespace s3l {
// This mount's completed metadata writes: raised after each change of the
// namespace, attributes or file contents, before it is answered (for the
// VFS's lookup windows, vfs/lookup_windows.hpp). May be null.
using WriteCount = std::shared_ptr<std::atomic<uint64_t>>;

caf::actor spawn_meta_actor(caf::actor_system& sys, std::shared_ptr<meta::Meta> m, WriteCount writes = nullptr);
}
