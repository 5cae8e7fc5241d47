#include "vfs/lookup_windows.hpp"

#include <algorithm>

namespace s3l {

namespace {
constexpr size_t kMaxDirs = 1024;   // x kRun entries: ~10 MiB at most
constexpr int kAscendingBeforeWindow = 3;   // random order: 1 chance in 24
}  // namespace

void LookupWindows::drop(Dir& d) {
  d.has_window = false;
  d.entries = {};
}

LookupWindows::Dir& LookupWindows::dir_state(uint64_t dir) {
  if (dirs_.size() >= kMaxDirs && !dirs_.count(dir)) dirs_.clear();
  return dirs_[dir];
}

std::optional<LookupWindows::Hit> LookupWindows::find(uint64_t dir, const std::string& name, int64_t now_ns,
                                                      uint64_t writes) {
  if (entry_ttl_ns_ <= 0 || attr_ttl_ns_ <= 0) return std::nullopt;
  std::lock_guard<std::mutex> lk(mu_);
  auto it = dirs_.find(dir);
  if (it == dirs_.end() || !it->second.has_window) return std::nullopt;
  Dir& d = it->second;
  const int64_t entry_left = d.asked_ns + entry_ttl_ns_ - now_ns, attr_left = d.asked_ns + attr_ttl_ns_ - now_ns;
  if (d.writes != writes || entry_left <= 0 || attr_left <= 0) {   // this mount wrote, or too old
    drop(d);
    return std::nullopt;
  }
  if (name < d.from || (!d.to_end && name > d.entries.back().name)) return std::nullopt;
  d.last = name;   // a run answered here is still a run
  auto e = std::lower_bound(d.entries.begin(), d.entries.end(), name,
                            [](const meta::Entry& x, const std::string& n) { return x.name < n; });
  Hit h{std::nullopt, entry_left, attr_left};
  if (e != d.entries.end() && e->name == name) h.attr = e->attr;
  return h;
}

bool LookupWindows::want_window(uint64_t dir, const std::string& name, uint64_t writes) {
  if (entry_ttl_ns_ <= 0 || attr_ttl_ns_ <= 0) return false;
  std::lock_guard<std::mutex> lk(mu_);
  Dir& d = dir_state(dir);
  d.ascending = name > d.last && writes == d.writes_at_last ? d.ascending + 1 : 0;
  d.last = name;
  d.writes_at_last = writes;
  return d.ascending >= kAscendingBeforeWindow;
}

void LookupWindows::missed(uint64_t dir) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = dirs_.find(dir);
  if (it != dirs_.end()) it->second.ascending = 0;
}

void LookupWindows::put(uint64_t dir, const std::string& from, std::vector<meta::Entry> run, int64_t asked_ns,
                        uint64_t writes, uint64_t removals) {
  if (entry_ttl_ns_ <= 0 || attr_ttl_ns_ <= 0) return;
  std::lock_guard<std::mutex> lk(mu_);
  if (removals != removals_) return;   // it may hold a name unlinked meanwhile
  Dir& d = dir_state(dir);
  d.to_end = run.size() < kRun;
  if (run.empty() && !d.to_end) return;   // kRun 0 cannot happen; keeps back() safe
  d.has_window = true;
  d.from = from;
  d.entries = std::move(run);
  d.asked_ns = asked_ns;
  d.writes = writes;
}

void LookupWindows::removed(uint64_t dir, const std::string& name, uint64_t ino, int64_t now_ns) {
  std::lock_guard<std::mutex> lk(mu_);
  ++removals_;
  for (auto& [at, d] : dirs_) {
    if (!d.has_window) continue;
    if (d.asked_ns + std::min(entry_ttl_ns_, attr_ttl_ns_) <= now_ns) {   // expired: not worth a scan
      drop(d);
      continue;
    }
    if (at == dir)
      d.entries.erase(std::remove_if(d.entries.begin(), d.entries.end(),
                                     [&](const meta::Entry& e) { return e.name == name; }),
                      d.entries.end());
    bool stale = false;
    for (const meta::Entry& e : d.entries) stale = stale || e.attr.ino == ino || e.attr.ino == dir;
    // An emptied window that ended at its last entry no longer says where it ends.
    if (stale || (d.entries.empty() && !d.to_end)) drop(d);
  }
}

uint64_t LookupWindows::removals() {
  std::lock_guard<std::mutex> lk(mu_);
  return removals_;
}

void LookupWindows::clear() {
  std::lock_guard<std::mutex> lk(mu_);
  dirs_.clear();
}

}  // namespace s3l
