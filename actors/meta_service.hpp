// The meta service: a pool of detached meta actors, each with its own
// database connection, behind one actor handle. Read-only requests (lookup,
// getattr, readdir, readlink, statfs, slice lists) go to reader connections
// and never queue behind write transactions, which go to writer connections.
#pragma once
#include <caf/all.hpp>

#include <functional>
#include <memory>
#include <string>

#include "actors/meta_actor.hpp"
#include "meta/meta.hpp"

namespace s3l {

using MetaFactory = std::function<Result<std::unique_ptr<meta::Meta>>()>;

struct MetaConnSplit {
  size_t readers = 0;
  size_t writers = 0;
};

// How `total` connections (--meta-conns, >= 2) are split. At least one of
// each, so that reads never queue behind a write transaction.
//  - serial_writers (SQLite): exactly one writer. The database runs one write
//    transaction at a time; a second writer connection would only sleep in
//    busy_timeout polling for the lock (later, and unfairly, compared with
//    queueing in the writer's mailbox) and each lost race costs a rerun.
//  - otherwise (PostgreSQL): half of them writers, rounded down. Writers of
//    different inodes run in parallel there, and a write transaction holds its
//    connection several round trips plus the commit flush, while a read is
//    one autocommit statement: writers need more connections per request.
MetaConnSplit split_meta_conns(size_t total, bool serial_writers);

// True for engines that run one write transaction at a time (sqlite3://).
bool serializes_writers(const std::string& meta_url);

// Opens readers + writers connections through `open`; fails if any fails.
// `writes` (may be null): raised after each write (meta_actor.hpp).
Result<caf::actor> spawn_meta_service(caf::actor_system& sys, const MetaFactory& open,
                                      size_t readers, size_t writers, WriteCount writes = nullptr);

}  // namespace s3l
