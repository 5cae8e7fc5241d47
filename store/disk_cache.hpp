// BlockCache: a local directory that caches whole block objects, shared by
// all reader workers (thread-safe), bounded by a byte limit with LRU eviction.
//
// On-disk layout (version 1): <dir>/blocks-v1/<h[0:2]>/<h>, h = sha256_hex(key).
// Only blocks-v1/ is ever written or deleted, so pointing --cache-dir at a
// directory holding other files never destroys them. Files are written to a
// temp name and renamed, so a crash leaves either a whole file or a temp file
// (temp files are removed at the next start). Blocks are immutable, so a
// cached file never goes stale; a file whose size is not the expected block
// size is treated as a miss and removed.
//
// LRU order is kept in memory; after a restart the order is rebuilt from file
// mtimes (insert time), which is close enough for a cache.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "store/object_store.hpp"
#include "util/result.hpp"

namespace s3l::store {

class BlockCache {
 public:
  struct Stats {
    uint64_t hits = 0;       // served from a cached file
    uint64_t misses = 0;     // fetched from the store (one per fetch, not per waiter)
    uint64_t evictions = 0;
    uint64_t bytes = 0;      // bytes currently cached
    uint64_t files = 0;
  };

  // Creates <dir>/blocks-v1 if needed and indexes what is already there
  // (evicting down to limit_bytes). limit_bytes == 0 disables caching: read()
  // goes straight to the store with a ranged get and nothing is written.
  // Errors: the directory cannot be created or scanned (message names it).
  static Result<std::shared_ptr<BlockCache>> open(const std::string& dir, uint64_t limit_bytes);

  // Bytes [off, off+len) of the block `key`, clipped to block_size. Served from
  // the cache, else the whole block is fetched from `store` once (concurrent
  // readers of the same key wait for that one fetch), its length checked
  // against block_size (and its SHA-256 against `checksum` when non-empty),
  // inserted, and the range served. A block with a wrong length or checksum
  // is never cached and gives EIO naming the key.
  Result<std::string> read(const std::string& key, uint32_t block_size, uint64_t off,
                           uint64_t len, ObjectStore& store, const std::string& checksum = "");

  // Adds a block (e.g. write-through right after an upload). Best effort: a
  // failure to write the file is logged and the block is simply not cached.
  void insert(const std::string& key, const char* data, size_t len);
  bool contains(const std::string& key);
  // Drops a block (its object was deleted). Missing is fine.
  void erase(const std::string& key);

  Stats stats();
  uint64_t limit() const { return limit_; }
  const std::string& dir() const { return root_; }

  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

 private:
  struct Entry {
    uint64_t size = 0;
    std::list<std::string>::iterator lru;  // position in lru_ (front = most recent)
  };
  struct Fetch {                 // one in-flight store fetch that others wait for
    bool done = false;
    Result<std::string> data;
    std::condition_variable cv;
  };

  BlockCache(std::string root, uint64_t limit) : root_(std::move(root)), limit_(limit) {}
  Status scan();
  std::string path_of(const std::string& hash) const;
  enum class FileRead { kOk, kMissing, kBad };
  FileRead read_file(const std::string& hash, uint32_t block_size, uint64_t off, uint64_t len,
                     std::string& out);
  Result<std::string> fetch_verified(const std::string& key, uint32_t block_size,
                                     ObjectStore& store, const std::string& checksum);
  bool write_file(const std::string& hash, const char* data, size_t len, std::string& tmp_out);
  void commit_locked(const std::string& hash, const std::string& tmp, uint64_t size);
  void drop_locked(const std::string& hash);
  void evict_locked();

  const std::string root_;       // <dir>/blocks-v1
  const uint64_t limit_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> index_;  // by sha256_hex(key)
  std::list<std::string> lru_;
  std::unordered_map<std::string, std::shared_ptr<Fetch>> inflight_;
  uint64_t bytes_ = 0;
  Stats stats_;
};

}  // namespace s3l::store
