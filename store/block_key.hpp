// Object keys of a volume. Layout version 1 (see docs/storage.md):
//   <volume>/s3layerfs.json                                       volume marker/settings
//   <volume>/chunks/<slice_id/1000000>/<slice_id/1000>/<slice_id>_<index>_<size>
// The two numeric levels keep any one listing bounded (<= 1000 entries per
// level for consecutive ids) and every key component short (S3 test servers
// fail on components over ~230 bytes).
#pragma once
#include <cstdint>
#include <string>

#include "util/result.hpp"

namespace s3l::store {

constexpr uint32_t kKeyLayoutVersion = 1;

struct BlockKey {
  std::string volume;
  uint64_t slice_id = 0;
  uint32_t index = 0;
  uint32_t size = 0;
};

// "<volume>/chunks/<id/1e6>/<id/1e3>/<id>_<index>_<size>"
std::string block_key(const std::string& volume, uint64_t slice_id, uint32_t index,
                      uint32_t size);
inline std::string block_key(const BlockKey& b) {
  return block_key(b.volume, b.slice_id, b.index, b.size);
}

// Inverse of block_key. EINVAL (message names the key) for anything that is
// not exactly a block key of layout 1, including non-canonical numbers
// ("007") and directory levels that do not match the slice id.
Result<BlockKey> parse_block_key(const std::string& key);

// "<volume>/chunks/": every block of the volume is listed under this prefix.
std::string chunks_prefix(const std::string& volume);

// "<volume>/s3layerfs.json": written by format, proves the volume owns the prefix.
std::string settings_key(const std::string& volume);

}  // namespace s3l::store
