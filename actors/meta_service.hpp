// The meta service: a pool of detached meta actors, each with its own
// database connection, behind one actor handle. Read-only requests (lookup,
// getattr, readdir, readlink, statfs, slice lists) go to reader connections
// and never queue behind write transactions, which go to writer connections.
#pragma once
#include <caf/all.hpp>

#include <functional>
#include <memory>

#include "meta/meta.hpp"

namespace s3l {

using MetaFactory = std::function<Result<std::unique_ptr<meta::Meta>>()>;

// Opens readers + writers connections through `open`; fails if any fails.
Result<caf::actor> spawn_meta_service(caf::actor_system& sys, const MetaFactory& open,
                                      size_t readers, size_t writers);

}  // namespace s3l
