#include "vfs/dir_names_cache.hpp"

namespace s3l {

namespace {
constexpr size_t kMaxDirs = 4096;   // directories tracked (miss counts, listings)
constexpr size_t kMaxChangesDuringLoad = 4096;
}  // namespace

std::optional<int64_t> DirNamesCache::absent(uint64_t dir, const std::string& name, int64_t now_ns,
                                             std::optional<uint64_t>* refresh) {
  if (ttl_ns_ <= 0) return std::nullopt;
  std::lock_guard<std::mutex> lk(mu_);
  auto it = dirs_.find(dir);
  if (it == dirs_.end() || !it->second.listed) return std::nullopt;
  Dir& d = it->second;
  if (d.expires_ns <= now_ns) {
    drop_listing(d);
    return std::nullopt;
  }
  if (d.names.count(name)) return std::nullopt;
  ++d.answers;
  if (refresh && !d.loading && d.expires_ns - now_ns < ttl_ns_ / 4 && d.answers >= misses_before_load(d.names.size()))
    *refresh = start_load(d);
  return d.expires_ns - now_ns;
}

uint64_t DirNamesCache::start_load(Dir& d) {
  d.loading = true;
  d.spoiled = false;
  d.during_load.clear();
  d.load_id = ++next_load_id_;
  return d.load_id;
}

std::optional<uint64_t> DirNamesCache::missed(uint64_t dir, int64_t now_ns) {
  if (ttl_ns_ <= 0) return std::nullopt;
  std::lock_guard<std::mutex> lk(mu_);
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) {
    if (dirs_.size() >= kMaxDirs) {
      for (auto i = dirs_.begin(); i != dirs_.end();)
        i = !i->second.loading && !i->second.listed ? dirs_.erase(i) : std::next(i);
      if (dirs_.size() >= kMaxDirs) return std::nullopt;   // all busy: no listing for this one
    }
    it = dirs_.emplace(dir, Dir{}).first;
  }
  Dir& d = it->second;
  if (d.listed && d.expires_ns <= now_ns) drop_listing(d);
  ++d.misses;
  if (d.loading || d.listed || d.misses < misses_before_load(d.last_size)) return std::nullopt;
  return start_load(d);
}

void DirNamesCache::loaded(uint64_t dir, uint64_t id, std::vector<std::string> names, int64_t asked_ns) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = dirs_.find(dir);
  if (it == dirs_.end() || !it->second.loading || it->second.load_id != id) return;
  Dir& d = it->second;
  d.loading = false;
  d.misses = 0;
  d.last_size = names.size();
  std::vector<Change> changes = std::move(d.during_load);
  d.during_load.clear();
  if (d.spoiled) return;
  if (names.size() > max_names_ / 2) return;   // one huge directory must not evict all others
  make_room(names.size(), asked_ns, dir);
  drop_listing(d);
  d.names.reserve(names.size());
  for (auto& n : names) d.names.insert(std::move(n));
  for (auto& c : changes) {   // in the order they committed here
    if (c.add) d.names.insert(std::move(c.name));
    else d.names.erase(c.name);
  }
  total_ += d.names.size();
  d.answers = 0;
  d.listed = true;
  d.expires_ns = asked_ns + ttl_ns_;
}

void DirNamesCache::load_failed(uint64_t dir) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;
  it->second.loading = false;
  it->second.during_load.clear();
  it->second.answers = 0;   // a refresh that failed is tried again only after as many answers
}

void DirNamesCache::note_change(Dir& d, bool add, const std::string& name) {
  if (!d.loading || d.spoiled) return;
  if (d.during_load.size() >= kMaxChangesDuringLoad) {
    d.spoiled = true;
    d.during_load.clear();
    return;
  }
  d.during_load.push_back(Change{add, name});
}

void DirNamesCache::added(uint64_t dir, const std::string& name) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;   // no listing, and any load under way has a slot
  Dir& d = it->second;
  note_change(d, true, name);
  if (d.listed && d.names.insert(name).second) ++total_;
}

void DirNamesCache::removed(uint64_t dir, const std::string& name) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;
  Dir& d = it->second;
  note_change(d, false, name);
  if (d.listed) total_ -= d.names.erase(name);
}

void DirNamesCache::clear() {
  std::lock_guard<std::mutex> lk(mu_);
  dirs_.clear();   // loads in flight find no slot and are dropped
  total_ = 0;
}

size_t DirNamesCache::names() const {
  std::lock_guard<std::mutex> lk(mu_);
  return total_;
}

void DirNamesCache::drop_listing(Dir& d) {
  total_ -= d.names.size();
  d.names = {};
  d.listed = false;
}

// Frees room for `wanted` more names: expired listings first, then those
// that expire soonest. `keep` is the directory being filled.
void DirNamesCache::make_room(size_t wanted, int64_t now_ns, uint64_t keep) {
  for (auto& [ino, d] : dirs_)
    if (d.listed && d.expires_ns <= now_ns) drop_listing(d);
  while (total_ + wanted > max_names_) {
    Dir* oldest = nullptr;
    for (auto& [ino, d] : dirs_)
      if (d.listed && ino != keep && (!oldest || d.expires_ns < oldest->expires_ns)) oldest = &d;
    if (!oldest) return;
    drop_listing(*oldest);
  }
}

}  // namespace s3l
