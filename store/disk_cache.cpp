#include "store/disk_cache.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

#include "util/sha256.hpp"

namespace s3l::store {
namespace {

constexpr const char* kSubdir = "blocks-v1";   // bump when the layout changes

Status mkdir_p(const std::string& dir) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::Error(errno, "cannot create cache directory " + part + ": " +
                                      std::strerror(errno));
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::Error(ENOTDIR, "cache path " + dir + " is not a directory");
  return Status::Ok();
}

bool is_hash_name(const char* n) {
  size_t i = 0;
  for (; n[i]; ++i)
    if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f'))) return false;
  return i == 64;
}

std::string tmp_suffix() {
  static std::atomic<uint64_t> counter{0};
  return ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
}

// Bytes [off, off+len) of a block of block_size bytes, clipped.
std::pair<uint64_t, uint64_t> clip(uint64_t block_size, uint64_t off, uint64_t len) {
  uint64_t start = std::min<uint64_t>(off, block_size);
  return {start, std::min<uint64_t>(len, block_size - start)};
}

}  // namespace

Result<std::shared_ptr<BlockCache>> BlockCache::open(const std::string& dir, uint64_t limit_bytes) {
  std::string root = dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  root += std::string("/") + kSubdir;
  std::shared_ptr<BlockCache> c(new BlockCache(root, limit_bytes));
  if (limit_bytes == 0) return c;        // disabled: never touch the disk
  if (dir.empty()) return Status::Error(EINVAL, "empty cache directory");
  if (auto s = mkdir_p(root); !s.ok()) return s;
  if (auto s = c->scan(); !s.ok()) return s;
  return c;
}

std::string BlockCache::path_of(const std::string& hash) const {
  return root_ + "/" + hash.substr(0, 2) + "/" + hash;
}

// Rebuilds the index from the files on disk: oldest mtime = least recently
// used. Removes temp files left by a crash.
Status BlockCache::scan() {
  struct Found { std::string hash; uint64_t size; int64_t mtime; };
  std::vector<Found> found;
  DIR* top = ::opendir(root_.c_str());
  if (!top) return Status::Error(errno, "cannot read cache directory " + root_ + ": " +
                                            std::strerror(errno));
  while (struct dirent* sub = ::readdir(top)) {
    std::string name = sub->d_name;
    if (name.size() != 2) continue;
    std::string subdir = root_ + "/" + name;
    DIR* d = ::opendir(subdir.c_str());
    if (!d) continue;
    while (struct dirent* e = ::readdir(d)) {
      std::string path = subdir + "/" + e->d_name;
      if (std::strstr(e->d_name, ".tmp.")) {
        ::unlink(path.c_str());
        continue;
      }
      if (!is_hash_name(e->d_name) || name != std::string(e->d_name, 2)) continue;
      struct stat st;
      if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      found.push_back({e->d_name, static_cast<uint64_t>(st.st_size),
                       int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec});
    }
    ::closedir(d);
  }
  ::closedir(top);
  std::sort(found.begin(), found.end(),
            [](const Found& a, const Found& b) { return a.mtime < b.mtime; });
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& f : found) {        // oldest first, each pushed to the front
    lru_.push_front(f.hash);
    index_[f.hash] = Entry{f.size, lru_.begin()};
    bytes_ += f.size;
  }
  evict_locked();
  spdlog::debug("block cache {}: {} files, {} bytes (limit {})", root_, index_.size(), bytes_,
                limit_);
  return Status::Ok();
}

BlockCache::FileRead BlockCache::read_file(const std::string& hash, uint32_t block_size,
                                           uint64_t off, uint64_t len, std::string& out) {
  std::string path = path_of(hash);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return FileRead::kMissing;   // evicted since the index lookup
    spdlog::warn("block cache: cannot open {}: {}", path, std::strerror(errno));
    return FileRead::kBad;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) != block_size) {
    ::close(fd);
    spdlog::warn("block cache: {} has the wrong size, dropping it", path);
    return FileRead::kBad;
  }
  auto [start, n] = clip(block_size, off, len);
  out.assign(n, '\0');
  uint64_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, out.data() + done, n - done, static_cast<off_t>(start + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      spdlog::warn("block cache: read of {} failed: {}", path,
                   r < 0 ? std::strerror(errno) : "unexpected end of file");
      ::close(fd);
      return FileRead::kBad;
    }
    done += static_cast<uint64_t>(r);
  }
  ::close(fd);
  return FileRead::kOk;
}

bool BlockCache::write_file(const std::string& hash, const char* data, size_t len,
                            std::string& tmp) {
  std::string dir = root_ + "/" + hash.substr(0, 2);
  tmp = dir + "/" + hash + tmp_suffix();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    ::mkdir(dir.c_str(), 0700);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  }
  if (fd < 0) {
    spdlog::warn("block cache: cannot create {}: {}", tmp, std::strerror(errno));
    return false;
  }
  // No fsync: after a crash a file is either whole or detected by its size
  // (ext4 data=ordered writes data before the size); the store is the truth.
  size_t done = 0;
  while (done < len) {
    ssize_t w = ::write(fd, data + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      spdlog::warn("block cache: write of {} failed: {}", tmp, std::strerror(errno));
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    done += static_cast<size_t>(w);
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

void BlockCache::commit_locked(const std::string& hash, const std::string& tmp, uint64_t size) {
  if (::rename(tmp.c_str(), path_of(hash).c_str()) != 0) {
    spdlog::warn("block cache: rename of {} failed: {}", tmp, std::strerror(errno));
    ::unlink(tmp.c_str());
    return;
  }
  auto it = index_.find(hash);
  if (it != index_.end()) {
    bytes_ -= it->second.size;
    lru_.erase(it->second.lru);
    index_.erase(it);
  }
  lru_.push_front(hash);
  index_[hash] = Entry{size, lru_.begin()};
  bytes_ += size;
  evict_locked();
}

void BlockCache::drop_locked(const std::string& hash) {
  auto it = index_.find(hash);
  if (it == index_.end()) return;
  ::unlink(path_of(hash).c_str());
  bytes_ -= it->second.size;
  lru_.erase(it->second.lru);
  index_.erase(it);
}

void BlockCache::evict_locked() {
  while (bytes_ > limit_ && !lru_.empty()) {
    drop_locked(lru_.back());
    ++stats_.evictions;
  }
}

Result<std::string> BlockCache::read(const std::string& key, uint32_t block_size, uint64_t off,
                                     uint64_t len, ObjectStore& store,
                                     const std::string& checksum) {
  auto [start, n] = clip(block_size, off, len);
  if (limit_ == 0) {
    // Disabled: a ranged get. Its length is checked; the checksum cannot be
    // (it covers the whole block).
    auto r = store.get(key, start, n);
    if (r.ok() && r->size() != n)
      return Status::Error(EIO, "block " + key + " in " + store.describe() + " is too short: got " +
                                    std::to_string(r->size()) + " bytes at offset " +
                                    std::to_string(start) + ", expected " + std::to_string(n));
    return r;
  }
  const std::string hash = sha256_hex(key);
  std::string out;
  for (;;) {
    std::shared_ptr<Fetch> f;
    bool leader = false;
    {
      std::unique_lock<std::mutex> lk(mu_);
      auto it = index_.find(hash);
      if (it != index_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);   // most recently used
      } else {
        auto fi = inflight_.find(hash);
        if (fi != inflight_.end()) {
          f = fi->second;
        } else {
          f = std::make_shared<Fetch>();
          inflight_[hash] = f;
          leader = true;
        }
      }
    }
    if (!f) {  // indexed: serve from the file
      FileRead fr = read_file(hash, block_size, start, n, out);
      if (fr == FileRead::kOk) {
        std::lock_guard<std::mutex> lk(mu_);
        ++stats_.hits;
        return out;
      }
      // Bad (wrong size, unreadable) or vanished under us: forget it, refetch.
      std::lock_guard<std::mutex> lk(mu_);
      drop_locked(hash);
      continue;
    }
    if (!leader) {  // someone else fetches this block: wait for it
      std::unique_lock<std::mutex> lk(mu_);
      f->cv.wait(lk, [&] { return f->done; });
      if (!f->data.ok()) return f->data.status;
      return f->data->substr(start, n);
    }
    Result<std::string> r = fetch_verified(key, block_size, store, checksum);
    std::string tmp;
    bool written = r.ok() && r->size() <= limit_ && write_file(hash, r->data(), r->size(), tmp);
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++stats_.misses;
      if (written) commit_locked(hash, tmp, r->size());
      f->data = r;
      f->done = true;
      inflight_.erase(hash);
    }
    f->cv.notify_all();
    if (!r.ok()) return r.status;
    return r->substr(start, n);
  }
}

Result<std::string> BlockCache::fetch_verified(const std::string& key, uint32_t block_size,
                                               ObjectStore& store, const std::string& checksum) {
  auto r = store.get(key);
  if (!r.ok()) return r;
  if (r->size() != block_size)
    return Status::Error(EIO, "block " + key + " in " + store.describe() + " has " +
                                  std::to_string(r->size()) + " bytes, expected " +
                                  std::to_string(block_size));
  if (!checksum.empty()) {
    std::string got = sha256_hex(*r);
    if (got != checksum)
      return Status::Error(EIO, "block " + key + " in " + store.describe() +
                                    " is corrupt: SHA-256 " + got + ", expected " + checksum);
  }
  return r;
}

void BlockCache::insert(const std::string& key, const char* data, size_t len) {
  if (limit_ == 0 || len > limit_) return;
  const std::string hash = sha256_hex(key);
  std::string tmp;
  if (!write_file(hash, data, len, tmp)) return;
  std::lock_guard<std::mutex> lk(mu_);
  commit_locked(hash, tmp, len);
}

bool BlockCache::contains(const std::string& key) {
  if (limit_ == 0) return false;
  const std::string hash = sha256_hex(key);
  std::lock_guard<std::mutex> lk(mu_);
  return index_.count(hash) != 0;
}

void BlockCache::erase(const std::string& key) {
  if (limit_ == 0) return;
  const std::string hash = sha256_hex(key);
  std::lock_guard<std::mutex> lk(mu_);
  drop_locked(hash);
}

BlockCache::Stats BlockCache::stats() {
  std::lock_guard<std::mutex> lk(mu_);
  Stats s = stats_;
  s.bytes = bytes_;
  s.files = index_.size();
  return s;
}

}  // namespace s3l::store
