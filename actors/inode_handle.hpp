// The inode-handle actor: one per open inode in this mount. It owns the
// file's write buffer and orders the file's reads and writes:
//   (write_atom, off, bytes)   -> uint64_t written   bytes were budget-charged by the caller
//   (append_atom, bytes)       -> uint64_t written   O_APPEND: lands at the end of the file as of
//                                                    its commit (atomic across clients)
//   (read_atom, off, len)      -> std::string        sees this mount's buffered writes
//   (flush_atom)               -> void               every byte written so far is committed
//   (cut_atom)                 one-way               start uploading open slices (memory pressure)
//   (fattr_atom)               -> meta::Attr         attributes with the buffered size
//   (ftrunc_atom, size)        -> meta::Attr         flush, then truncate in one transaction
//   (reopen_atom, meta_size)   -> void               close-to-open: forget cached slice lists
//   (close_atom)               one-way               last close: exit once nothing is pending
// Writes collect in slices (one contiguous range inside one chunk). A slice is
// cut at the chunk end, on memory pressure, when idle, and on flush; a cut
// slice is split into blocks uploaded concurrently by the upload workers, and
// only when all of them are stored is it committed in one meta transaction.
#pragma once
#include <caf/all.hpp>

#include <memory>
#include <string>

#include "actors/write_budget.hpp"

namespace s3l {

struct HandleConfig {
  uint64_t ino = 0;
  uint64_t session = 0;
  uint64_t chunk_size = 0;
  uint64_t block_size = 0;
  std::string volume;          // object key prefix
  caf::actor meta;
  caf::actor uploads;
  caf::actor readers;
  std::shared_ptr<WriteBudget> budget;
  uint32_t readahead_blocks = 2;
  bool prefetch = true;        // only useful with a disk cache
  uint64_t handle_buffer_limit = 64ull << 20;  // cut open slices beyond this
  // After every `compact_threshold` own commits into one chunk, the chunk is
  // named to `compact_hints` (the compactor, or the link to a gc-node); null: none.
  caf::actor compact_hints;
  uint64_t compact_threshold = 24;
};

caf::actor spawn_inode_handle(caf::actor_system& sys, HandleConfig cfg, uint64_t initial_size);

}  // namespace s3l
