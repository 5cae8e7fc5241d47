// s3layerfs-daemon fsck: metadata consistency plus, for every committed block,
// that its object exists with the recorded size (and checksum with --check-data).
#include <atomic>
#include <iostream>
#include <mutex>
#include <thread>

#include "cmd/commands.hpp"
#include "cmd/common.hpp"
#include "store/block_key.hpp"
#include "util/sha256.hpp"

namespace s3l::cmd {

int run_fsck(const config::FsckOptions& o) {
  int code = kExitRuntime;
  auto v = open_volume(absolute_meta_url(o.meta_url), o.s3, &code);
  if (!v.ok()) return fail("fsck", v.msg(), code);
  Volume& vol = v.value;

  auto problems = vol.meta->check_consistency();
  if (!problems.ok()) return fail("fsck", problems.msg());
  auto blocks = vol.meta->committed_blocks();
  if (!blocks.ok()) return fail("fsck", blocks.msg());

  // Object checks run in a few threads: each is one HEAD (or GET) round trip.
  std::vector<meta::Problem> found = problems.value;
  std::mutex mu;
  std::atomic<size_t> next{0};
  auto& list = blocks.value;
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
        detail = key + " has " + std::to_string(h->size) + " bytes, expected " +
                 std::to_string(b.size);
      } else if (o.check_data) {
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
        found.push_back(meta::Problem{problem, "", detail + " (inode " + std::to_string(ino) + ")"});
        found.back().where = std::to_string(ino);
      }
    }
  };
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i) ts.emplace_back(check);
  for (auto& t : ts) t.join();

  // Name files by path for the reader (path_of is not thread-safe: do it here).
  for (auto& p : found) {
    if (p.kind == "missing-object" || p.kind == "unreadable-object" || p.kind == "object-size" ||
        p.kind == "checksum")
      p.where = vol.meta->path_of(std::stoull(p.where));
    std::cout << "fsck: " << p.kind << ": " << p.where << ": " << p.detail << "\n";
  }
  if (!found.empty()) {
    std::cout << "fsck: " << found.size() << " problem(s) found in volume '"
              << vol.settings.name << "'" << std::endl;
    return kExitProblems;
  }
  std::cout << "fsck: volume '" << vol.settings.name << "' is consistent (" << list.size()
            << " blocks checked" << (o.check_data ? " with data" : "") << ")" << std::endl;
  return kExitOk;
}

}  // namespace s3l::cmd
