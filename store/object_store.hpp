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
  // put() for a caller that already hashed the data (lowercase hex SHA-256):
  // S3 sends it as the signed payload hash and checksum instead of hashing
  // 4 MiB again. A wrong hash makes a verifying server reject the upload.
  virtual Status put_with_sha256(const std::string& key, const char* data, size_t len,
                                 const std::string& sha256_hex) {
    (void)sha256_hex;
    return put(key, data, len);
  }
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
  // The distinct first components of the keys that contain a '/' ("vol1" for
  // "vol1/chunks/..."), sorted. format uses it to find the markers of other
  // volumes without listing every block. This default lists every key;
  // S3 overrides it with one delimiter listing.
  virtual Result<std::vector<std::string>> list_top_dirs() {
    auto all = list("");
    if (!all.ok()) return all.status;
    std::vector<std::string> dirs;
    for (const auto& o : *all) {
      size_t slash = o.key.find('/');
      if (slash == std::string::npos) continue;
      std::string d = o.key.substr(0, slash);
      if (dirs.empty() || dirs.back() != d) dirs.push_back(std::move(d));   // keys are sorted
    }
    return dirs;
  }
};

// How to reach an S3 store (ignored by file://). Defaults suit rustfs/s3rver
// on loopback and AWS alike; every field maps to one CLI/config option.
struct StoreOptions {
  // For s3://BUCKET URLs: "http(s)://host[:port]"; empty = https://s3.<region>.amazonaws.com.
  std::string endpoint;
  std::string region = "us-east-1";
  // Empty = from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
  std::string access_key;
  std::string secret_key;       // never logged, never in describe() or an error
  std::string session_token;
  bool virtual_hosted = false;  // BUCKET.host/key instead of host/BUCKET/key
  bool verify_tls = true;       // false only on explicit request (--no-verify-tls)
  std::string ca_file;          // PEM bundle; empty = $AWS_CA_BUNDLE, else the system's
  uint32_t connect_timeout_ms = 10000;
  uint32_t stall_timeout_ms = 30000;   // abort a transfer that moves no byte this long
  uint32_t retry_budget_ms = 60000;    // total time one operation may spend retrying
  uint32_t max_attempts = 30;
  // PUT always carries x-amz-content-sha256 (signed) and x-amz-checksum-sha256,
  // which S3 verifies; Content-MD5 as well only if asked (MD5 costs ~6 ms per 4 MiB).
  bool content_md5 = false;
};

// file:///abs/dir (the directory must exist or be creatable when `create`),
// http(s)://host[:port]/BUCKET, s3://BUCKET (with options.endpoint).
// For S3, open checks that the bucket is reachable with these credentials
// (EACCES with the server's reason if not); `create` creates a missing bucket
// and proves it writable with a probe object (put, get, delete).
Result<std::unique_ptr<ObjectStore>> open_store(const std::string& url, bool create,
                                                const StoreOptions& options);
Result<std::unique_ptr<ObjectStore>> open_store(const std::string& url, bool create);

}  // namespace s3l::store
