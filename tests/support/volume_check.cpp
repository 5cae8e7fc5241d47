#include "tests/support/volume_check.hpp"

#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "store/block_key.hpp"

namespace s3l::test {

std::unique_ptr<meta::Meta> open_volume_meta(const MountFixture& fx) {
  auto m = meta::open_meta(fx.meta_url(), false);
  if (!m.ok()) throw std::runtime_error("open_meta(" + fx.meta_url() + "): " + m.msg());
  auto s = (*m)->load_settings();
  if (!s.ok()) throw std::runtime_error("load_settings: " + s.msg());
  return std::move(*m);
}

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return cond();
}

std::string store_vs_metadata(const MountFixture& fx) {
  auto m = open_volume_meta(fx);
  auto blocks = m->committed_blocks();
  if (!blocks.ok()) throw std::runtime_error("committed_blocks: " + blocks.msg());
  const std::string volume = m->load_settings()->name;
  std::set<std::string> referenced;
  for (auto& [ino, b] : *blocks) referenced.insert(store::block_key(volume, b.slice_id, b.index, b.size));
  std::set<std::string> stored;
  for (const auto& k : fx.object_keys())
    if (k.rfind(volume + "/chunks/", 0) == 0) stored.insert(k);
  std::vector<std::string> leaked, missing;
  for (auto& k : stored)
    if (!referenced.count(k)) leaked.push_back(k);
  for (auto& k : referenced)
    if (!stored.count(k)) missing.push_back(k);
  if (leaked.empty() && missing.empty()) return "";
  return std::to_string(leaked.size()) + " leaked objects" + (leaked.empty() ? "" : " (e.g. " + leaked[0] + ")") +
         ", " + std::to_string(missing.size()) + " missing objects" +
         (missing.empty() ? "" : " (e.g. " + missing[0] + ")");
}

}  // namespace s3l::test
