// Store workers: pools of detached actors that do the blocking object-store
// I/O, so that cooperative actors (inode handles, deleter) never block.
//   uploads: (put_block_atom, key, SharedBytes) -> checksum hex   [--max-uploads workers]
//            (del_objs_atom, vector<key>) -> void
//   readers: (get_block_atom, key, block_size, off, len, checksum) -> bytes (via the disk
//            cache; a fetched block is verified against its checksum)
//            (prefetch_atom, key, block_size)  one-way: fill the cache
#pragma once
#include <caf/all.hpp>

#include <memory>

#include "store/object_store.hpp"

namespace s3l::store { class BlockCache; }

namespace s3l {

struct StoreWorkers {
  caf::actor uploads;
  caf::actor readers;
};

StoreWorkers spawn_store_workers(caf::actor_system& sys,
                                 std::shared_ptr<store::ObjectStore> store,
                                 std::shared_ptr<store::BlockCache> cache,
                                 size_t upload_workers, size_t reader_workers);

}  // namespace s3l
