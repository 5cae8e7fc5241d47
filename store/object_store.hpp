// The object store interface: a flat key space of immutable objects.
// Backends: file:// (a local directory) now, S3 (rustfs, any S3) next.
// Every method is synchronous and may block; call it only from a detached
// actor (actors/store_pool) or a thread outside the CAF scheduler.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace s3l::store {

// Longest key any backend accepts (S3's own limit). Longer keys: ENAMETOOLONG.
constexpr size_t kMaxKeyLen = 1024;

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // A description safe to print (no secrets), e.g. "file:///var/lib/x".
  virtual std::string describe() const = 0;
  // Stores the whole object atomically: readers never see a partial object.
  virtual Status put(const std::string& key, const char* data, size_t len) = 0;
  // Reads [off, off+len) clipped to the object size; len == UINT64_MAX = to the end.
  // ENOENT if the object does not exist.
  virtual Result<std::string> get(const std::string& key, uint64_t off = 0,
                                  uint64_t len = UINT64_MAX) = 0;
  virtual Result<ObjectInfo> head(const std::string& key) = 0;
  // Deleting a missing object is not an error.
  virtual Status remove(const std::string& key) = 0;
  virtual Status remove_many(const std::vector<std::string>& keys) = 0;
  // All objects whose key starts with prefix, in key order.
  virtual Result<std::vector<ObjectInfo>> list(const std::string& prefix) = 0;
};

// file:///abs/dir (the directory must exist or be creatable when `create`).
Result<std::unique_ptr<ObjectStore>> open_store(const std::string& url, bool create);

}  // namespace s3l::store
