#include "vfs/dir_attr_cache.hpp"

#include <sys/stat.h>

namespace s3l {

std::optional<DirAttrCache::Hit> DirAttrCache::get(uint64_t ino, int64_t now_ns) {
  if (ttl_ns_ <= 0) return std::nullopt;
  std::lock_guard<std::mutex> lk(mu_);
  auto it = map_.find(ino);
  if (it == map_.end()) return std::nullopt;
  if (it->second.expires_ns <= now_ns) {
    map_.erase(it);
    return std::nullopt;
  }
  return Hit{it->second.attr, it->second.expires_ns - now_ns};
}

uint64_t DirAttrCache::ticket() {
  std::lock_guard<std::mutex> lk(mu_);
  return seq_;
}

void DirAttrCache::changed(uint64_t ino) {
  ++seq_;
  if (changed_.size() >= max_ && !changed_.count(ino)) {
    changed_.clear();
    floor_ = seq_;   // older tickets may have missed a forgotten change
  }
  changed_[ino] = seq_;
}

void DirAttrCache::put(const meta::Attr& a, int64_t now_ns, uint64_t ticket) {
  if (ttl_ns_ <= 0 || !S_ISDIR(a.mode)) return;
  std::lock_guard<std::mutex> lk(mu_);
  if (ticket < floor_) return;
  if (auto c = changed_.find(a.ino); c != changed_.end() && c->second > ticket) return;   // read before a change
  if (map_.size() >= max_ && !map_.count(a.ino)) {
    for (auto it = map_.begin(); it != map_.end();) it = it->second.expires_ns <= now_ns ? map_.erase(it) : std::next(it);
    if (map_.size() >= max_) map_.clear();
  }
  map_[a.ino] = Entry{a, now_ns + ttl_ns_};
}

void DirAttrCache::entries_changed(uint64_t ino, int64_t time_ns, int64_t nlink_delta) {
  std::lock_guard<std::mutex> lk(mu_);
  changed(ino);
  auto it = map_.find(ino);
  if (it == map_.end()) return;
  meta::Attr& a = it->second.attr;
  a.mtime_ns = a.ctime_ns = time_ns;   // what the transaction wrote
  const int64_t n = static_cast<int64_t>(a.nlink) + nlink_delta;
  if (n < 2) {   // not what the database holds: read it again
    map_.erase(it);
    return;
  }
  a.nlink = static_cast<uint32_t>(n);
}

void DirAttrCache::drop(uint64_t ino) {
  std::lock_guard<std::mutex> lk(mu_);
  changed(ino);
  map_.erase(ino);
}

void DirAttrCache::clear() {
  std::lock_guard<std::mutex> lk(mu_);
  ++seq_;
  floor_ = seq_;
  changed_.clear();
  map_.clear();
}

}  // namespace s3l
