#include "store/block_key.hpp"

#include <cerrno>
#include <limits>

namespace s3l::store {
namespace {

// Canonical decimal only: digits, no sign, no leading zeros (except "0"), no
// overflow. Keeps parse_block_key the exact inverse of block_key.
bool parse_u64(const std::string& s, uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

Status bad(const std::string& key, const char* why) {
  return Status::Error(EINVAL, "not a block key (" + std::string(why) + "): '" + key + "'");
}

}  // namespace

std::string block_key(const std::string& volume, uint64_t slice_id, uint32_t index,
                      uint32_t size) {
  std::string k = chunks_prefix(volume);
  k += std::to_string(slice_id / 1000000);
  k += '/';
  k += std::to_string(slice_id / 1000);
  k += '/';
  k += std::to_string(slice_id);
  k += '_';
  k += std::to_string(index);
  k += '_';
  k += std::to_string(size);
  return k;
}

Result<BlockKey> parse_block_key(const std::string& key) {
  // Split off the last four components from the right: the volume name may
  // itself contain '/'.
  std::string parts[4];
  size_t end = key.size();
  for (int i = 3; i >= 0; --i) {
    size_t slash = key.rfind('/', end == 0 ? std::string::npos : end - 1);
    if (end == 0 || slash == std::string::npos) return bad(key, "too few components");
    parts[i] = key.substr(slash + 1, end - slash - 1);
    end = slash;
  }
  // parts = {"chunks", id/1e6, id/1e3, "<id>_<index>_<size>"}
  if (parts[0] != "chunks") return bad(key, "no 'chunks' component");
  if (end == 0) return bad(key, "empty volume name");
  BlockKey b;
  b.volume = key.substr(0, end);

  const std::string& name = parts[3];
  size_t u1 = name.find('_');
  size_t u2 = u1 == std::string::npos ? u1 : name.find('_', u1 + 1);
  if (u2 == std::string::npos || name.find('_', u2 + 1) != std::string::npos)
    return bad(key, "name is not <slice>_<index>_<size>");
  uint64_t id = 0, index = 0, size = 0, hi = 0, mid = 0;
  if (!parse_u64(name.substr(0, u1), id) || !parse_u64(name.substr(u1 + 1, u2 - u1 - 1), index) ||
      !parse_u64(name.substr(u2 + 1), size))
    return bad(key, "bad number in name");
  if (index > std::numeric_limits<uint32_t>::max() || size > std::numeric_limits<uint32_t>::max())
    return bad(key, "index or size out of range");
  if (!parse_u64(parts[1], hi) || !parse_u64(parts[2], mid) || hi != id / 1000000 ||
      mid != id / 1000)
    return bad(key, "directory levels do not match the slice id");
  b.slice_id = id;
  b.index = static_cast<uint32_t>(index);
  b.size = static_cast<uint32_t>(size);
  return b;
}

std::string chunks_prefix(const std::string& volume) { return volume + "/chunks/"; }

std::string settings_key(const std::string& volume) { return volume + "/s3layerfs.json"; }

}  // namespace s3l::store
