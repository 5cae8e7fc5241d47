// Attributes of directories, kept for at most the attribute timeout.
//
// Why: every create or unlink makes the kernel drop the cached attributes of
// the parent directory, and with default_permissions the next path walk into
// it asks GETATTR again: a metadata round trip per create. This mount changed
// the directory itself and knows its new times and link count, so it can
// answer from here. What another client changed shows within the timeout, as
// with the kernel's own attribute cache (docs/consistency.md): an entry is
// never kept past the time it was read plus the timeout, and the kernel is
// told only the time that is left.
//
// A read that raced with one of this mount's changes must not be cached
// after the change: callers take a ticket() before asking the database, and
// put() refuses attributes asked for before the inode's last change here.
//
// Times are monotonic (mono_ns): a wall-clock step must not keep attributes
// past their timeout. Only the mtime/ctime written by a change are wall-clock.
//
// Directories only: a file's attributes change with writes through handles.
// Thread-safe; bounded (expired entries go first, then everything).
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "meta/types.hpp"

namespace s3l {

class DirAttrCache {
 public:
  // ttl_ns 0 disables the cache.
  DirAttrCache(int64_t ttl_ns, size_t max_entries) : ttl_ns_(ttl_ns), max_(max_entries) {}

  struct Hit {
    meta::Attr attr;
    int64_t valid_ns;   // what is left of the timeout
  };
  std::optional<Hit> get(uint64_t ino, int64_t now_ns);
  // Taken before asking the database for attributes to put().
  uint64_t ticket();
  // Remembers a directory's attributes read from the database at `now_ns`
  // (other types are ignored), unless this mount changed it after `ticket`.
  void put(const meta::Attr& a, int64_t now_ns, uint64_t ticket);
  // Called when a change of this mount has committed. entries_changed: the
  // transaction set mtime = ctime = `time_ns` of directory `ino` and added
  // `nlink_delta` links. drop: the entry is forgotten. clear: all are.
  void entries_changed(uint64_t ino, int64_t time_ns, int64_t nlink_delta);
  void drop(uint64_t ino);
  void clear();

 private:
  struct Entry {
    meta::Attr attr;
    int64_t expires_ns;
  };
  const int64_t ttl_ns_;
  const size_t max_;
  // Sequence of this mount's changes: the last one per inode, and a floor
  // below which every ticket is refused (after clear, or when changed_ is full).
  void changed(uint64_t ino);
  std::mutex mu_;
  std::unordered_map<uint64_t, Entry> map_;
  std::unordered_map<uint64_t, uint64_t> changed_;
  uint64_t seq_ = 0, floor_ = 0;
};

}  // namespace s3l
