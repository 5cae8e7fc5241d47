// s3layerfs-daemon fsck: metadata consistency plus, for every committed block,
// that its object exists with the recorded size (and checksum with
// --check-data). --repair makes the metadata's safe fixes
// (Meta::repair_consistency), then checks the metadata again; objects are
// never repaired, so their problems carry over. Exit 0: consistent (after
// repair); 1: problems found (remain).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "cmd/commands.hpp"
#include "cmd/common.hpp"
#include "store/block_key.hpp"
#include "util/clock.hpp"
#include "util/sha256.hpp"

namespace s3l::cmd {
namespace {

constexpr int kObjectThreads = 8;   // each check is one HEAD (or GET) round trip

// One progress line on stderr, rewritten in place, at most every 0.5 s; only
// when stderr is a terminal (tests and logs get nothing).
class Progress {
 public:
  Progress() : on_(::isatty(STDERR_FILENO) == 1) {}
  ~Progress() { clear(); }
  void show(const std::string& line, bool force = false) {
    if (!on_) return;
    auto now = std::chrono::steady_clock::now();
    if (!force && shown_ && now - last_ < std::chrono::milliseconds(500)) return;
    last_ = now;
    shown_ = true;
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    std::fflush(stderr);
  }
  void clear() {
    if (!on_ || !shown_) return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    shown_ = false;
  }

 private:
  bool on_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_;
};

bool is_object_problem(const std::string& kind) {
  return kind == "missing-object" || kind == "unreadable-object" || kind == "object-size" || kind == "checksum";
}

// Kinds that mean a file's data is gone or damaged: listed as broken files,
// never "repaired" (zeroing them would hide the loss).
bool is_broken_file(const std::string& kind) {
  return is_object_problem(kind) || kind == "missing-block-row" || kind == "broken-slice";
}

// Why a problem is still there after --repair.
std::string why_not_repaired(const std::string& kind) {
  if (kind == "unreadable-object") return "the store could not be read; run fsck again when it can";
  if (is_broken_file(kind)) return "broken file: its data is lost; restore it from a backup or delete it";
  if (kind == "stale-orphan" || kind == "stale-pending-slice")
    return "left to the session cleaner of a running mount (the session may also still come back)";
  if (kind == "unreferenced-block") return "the object is kept: the slice naming it still exists";
  if (kind == "size-mismatch" || kind == "slice-out-of-chunk" || kind == "dangling-slice" ||
      kind == "missing-symlink-target" || kind == "dir-links" || kind == "missing-root" || kind == "too-many-problems")
    return "no safe automatic fix: needs a human";
  return "still present after the repair (changed meanwhile by a mount?)";
}

// Checks every committed block's object in a few threads; the problems name
// the inode in `where` (turned into a path by the caller).
std::vector<meta::Problem> check_objects(Volume& vol, const std::vector<std::pair<uint64_t, meta::Block>>& list,
                                         bool check_data, Progress& progress) {
  std::vector<std::pair<uint64_t, meta::Problem>> found;
  std::mutex mu;
  std::atomic<size_t> next{0}, checked{0};
  auto check = [&]() {
    for (size_t i = next++; i < list.size(); i = next++) {
      const auto& [ino, b] = list[i];
      std::string key = store::block_key(vol.settings.name, b.slice_id, b.index, b.size);
      std::string problem, detail;
      auto h = vol.store->head(key);
      if (!h.ok()) {
        problem = h.err() == ENOENT ? "missing-object" : "unreadable-object";
        detail = key + ": " + h.msg();
      } else if (h->size != b.size) {
        problem = "object-size";
        detail = key + " has " + std::to_string(h->size) + " bytes, expected " + std::to_string(b.size);
      } else if (check_data) {
        auto data = vol.store->get(key);
        if (!data.ok()) {
          problem = "unreadable-object";
          detail = key + ": " + data.msg();
        } else if (sha256_hex(*data) != b.checksum) {
          problem = "checksum";
          detail = key + " content does not match its recorded SHA-256";
        }
      }
      if (!problem.empty()) {
        std::lock_guard<std::mutex> lk(mu);
        found.emplace_back(ino, meta::Problem{problem, "", detail + " (inode " + std::to_string(ino) + ")"});
      }
      ++checked;
    }
  };
  std::vector<std::thread> ts;
  for (int i = 0; i < kObjectThreads; ++i) ts.emplace_back(check);
  const std::string what = check_data ? "objects read and verified " : "objects checked ";
  while (checked.load() < list.size()) {
    progress.show("fsck: " + what + std::to_string(checked.load()) + "/" + std::to_string(list.size()));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (auto& t : ts) t.join();
  progress.show("fsck: " + what + std::to_string(list.size()) + "/" + std::to_string(list.size()), true);
  progress.clear();
  // Name files by path (path_of is not thread-safe: here, after the threads).
  std::vector<meta::Problem> out;
  for (auto& [ino, p] : found) {
    p.where = vol.meta->path_of(ino);
    out.push_back(std::move(p));
  }
  return out;
}

void print_problems(const std::vector<meta::Problem>& ps, const char* prefix) {
  for (const auto& p : ps) std::cout << "fsck: " << prefix << p.kind << ": " << p.where << ": " << p.detail << "\n";
}

// One line per file whose data is damaged, after the detailed lines.
void print_broken_files(const std::vector<meta::Problem>& ps) {
  std::map<std::string, std::map<std::string, int>> files;   // path -> kind -> count
  for (const auto& p : ps)
    if (is_broken_file(p.kind)) ++files[p.where][p.kind];
  for (const auto& [path, kinds] : files) {
    std::string what;
    for (const auto& [kind, n] : kinds) what += (what.empty() ? "" : ", ") + std::to_string(n) + " " + kind;
    std::cout << "fsck: broken file " << path << " (" << what << ")\n";
  }
}

}  // namespace

int run_fsck(const config::FsckOptions& o) {
  int code = kExitRuntime;
  auto v = open_volume(absolute_meta_url(o.meta_url), o.s3, &code);
  if (!v.ok()) return fail("fsck", v.msg(), code);
  Volume& vol = v.value;
  meta::CheckOptions copt;
  copt.session_expiry_ns = static_cast<int64_t>(o.session_expiry_s) * 1'000'000'000;
  Progress progress;

  progress.show("fsck: checking the metadata ...", true);
  auto problems = vol.meta->check_consistency(copt);
  if (!problems.ok()) return fail("fsck", problems.msg());
  auto blocks = vol.meta->committed_blocks();
  progress.clear();
  if (!blocks.ok()) return fail("fsck", blocks.msg());
  std::vector<meta::Problem> objects = check_objects(vol, blocks.value, o.check_data, progress);

  std::vector<meta::Problem> found = problems.value;
  found.insert(found.end(), objects.begin(), objects.end());
  print_problems(found, "");
  print_broken_files(found);
  const std::string checked = std::to_string(blocks->size()) + " blocks checked" + (o.check_data ? " with data" : "");
  if (found.empty()) {
    std::cout << "fsck: volume '" << vol.settings.name << "' is consistent (" << checked << ")" << std::endl;
    return kExitOk;
  }
  std::cout << "fsck: " << found.size() << " problem(s) found in volume '" << vol.settings.name << "' (" << checked
            << ")" << std::endl;
  if (!o.repair) return kExitProblems;

  // ---- --repair ----
  if (auto ss = vol.meta->list_sessions(); ss.ok()) {
    size_t live = 0;
    const int64_t now = now_ns();
    for (const auto& s : *ss) live += s.heartbeat_ns >= now - std::max(copt.session_expiry_ns, s.expiry_ns);
    if (live)
      std::cerr << "s3layerfs-daemon: fsck: warning: " << live << " mount(s) of this volume are live; each repair "
                << "is one transaction, but they may keep showing what they cached until remounted\n";
  }
  progress.show("fsck: repairing ...", true);
  std::vector<meta::RepairAction> done;
  Status st = vol.meta->repair_consistency(copt, &done);
  progress.clear();
  size_t changes = 0;
  for (const auto& a : done) {
    std::cout << "fsck: " << (a.done ? "repaired: " : "not repaired: ") << a.kind << ": " << a.where << ": "
              << a.action << "\n";
    changes += a.done;
  }
  std::cout.flush();
  if (!st.ok()) return fail("fsck --repair", st.msg + " (the " + std::to_string(changes) + " repairs listed above were made)");

  // Check the metadata again; objects are never repaired, so theirs stand.
  progress.show("fsck: checking the metadata again ...", true);
  auto again = vol.meta->check_consistency(copt);
  progress.clear();
  if (!again.ok()) return fail("fsck", "check after repair: " + again.msg());
  std::vector<meta::Problem> left = again.value;
  left.insert(left.end(), objects.begin(), objects.end());
  if (left.empty()) {
    std::cout << "fsck: " << changes << " repair(s) made; volume '" << vol.settings.name
              << "' is consistent now" << std::endl;
    return kExitOk;
  }
  for (const auto& p : left)
    std::cout << "fsck: not repaired: " << p.kind << ": " << p.where << ": " << p.detail << " -- "
              << why_not_repaired(p.kind) << "\n";
  print_broken_files(left);
  std::cout << "fsck: " << changes << " repair(s) made; " << left.size() << " problem(s) remain in volume '"
            << vol.settings.name << "'" << std::endl;
  return kExitProblems;
}

}  // namespace s3l::cmd
