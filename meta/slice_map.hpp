// Slice resolution: turn a chunk's committed slices (oldest first) into the
// visible segments a reader sees, newest wins; plus block arithmetic.
// Pure functions: used by the read path, fsck and the compactor.
#pragma once
#include <cstdint>
#include <vector>

#include "meta/types.hpp"

namespace s3l::meta {

// A visible piece of a chunk. slice == nullptr means a hole or zero data.
struct Segment {
  uint64_t pos = 0;            // offset inside the chunk
  uint64_t len = 0;
  const Slice* slice = nullptr;
  uint64_t slice_off = 0;      // offset of `pos` inside the slice's data
};

// Segments covering [0, chunk_len) in order, adjacent, no gaps. `slices` must
// be in commit order (as chunk_slices returns them); later ones shadow earlier ones.
std::vector<Segment> resolve_slices(const std::vector<Slice>& slices, uint64_t chunk_len);

// A byte range inside one block of a slice.
struct BlockRange {
  uint32_t index = 0;          // block number inside the slice
  uint64_t off = 0;            // offset inside the block
  uint64_t len = 0;
};

// The block pieces that hold [slice_off, slice_off+len) of a slice whose data is
// split into blocks of block_size aligned to the slice start.
std::vector<BlockRange> slice_range_to_blocks(uint64_t slice_off, uint64_t len,
                                              uint64_t block_size);

// Sizes of the blocks a slice of `len` bytes is split into.
std::vector<uint32_t> split_into_blocks(uint64_t len, uint64_t block_size);

}  // namespace s3l::meta
