// s3layerfs-daemon status <META-URL>: the volume at a glance, from the
// metadata only (the store is not contacted): settings, usage, sessions with
// their heartbeat age (stale ones marked: the next cleaner ends them), and
// the background work waiting (dead blocks, fragmented chunks).
#include <cstdio>
#include <ctime>
#include <iostream>

#include "cmd/commands.hpp"
#include "cmd/common.hpp"
#include "config/options.hpp"
#include "util/clock.hpp"

namespace s3l::cmd {

namespace {

constexpr size_t kCountLimit = 100000;   // "100000+" beyond: a status must stay cheap
constexpr uint64_t kFragmentedShown = 24;   // the mounts' default --compact-threshold

std::string when(int64_t ns) {
  std::time_t t = static_cast<std::time_t>(ns / 1000000000);
  char buf[64];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string count(size_t n) { return std::to_string(n) + (n >= kCountLimit ? "+" : ""); }

}  // namespace

int run_status(const config::StatusOptions& o) {
  const std::string url = absolute_meta_url(o.meta_url);
  auto m = meta::open_meta(url, false);
  if (!m.ok()) return fail("status", m.msg());
  auto s = (*m)->load_settings();
  if (!s.ok()) return fail("status", s.msg());
  auto fs = (*m)->statfs();
  auto sessions = (*m)->list_sessions();
  auto dead = (*m)->dead_blocks(kCountLimit);
  auto frag = (*m)->fragmented_chunks(kFragmentedShown, kCountLimit);
  for (const Status* st : {&fs.status, &sessions.status, &dead.status, &frag.status})
    if (!st->ok()) return fail("status", st->msg);

  std::cout << "volume:      " << s->name << " (uuid " << s->uuid << ", created " << when(s->created_ns) << ")\n"
            << "metadata:    " << url.substr(0, url.find("://")) << ", schema version " << meta::kSchemaVersion
            << "\n"
            << "storage:     " << s->storage_url << "\n"
            << "blocks:      " << config::format_size(s->block_size) << " (chunks of "
            << config::format_size(s->chunk_size) << ")\n"
            << "usage:       " << fs->inodes << " inodes, " << fs->used_bytes << " bytes in files\n"
            << "waiting:     " << count(dead->size()) << " dead blocks to delete, " << count(frag->size())
            << " chunks with " << kFragmentedShown << "+ slices to compact\n"
            << "sessions:    " << sessions->size() << "\n";
  const int64_t now = now_ns();
  for (const auto& x : *sessions) {
    const int64_t age = now - x.heartbeat_ns;
    const bool is_stale = age > x.expiry_ns;
    std::cout << "  session " << x.id << ": " << x.host << " pid " << x.pid << " " << x.mountpoint << " (version "
              << x.version << "), since " << when(x.started_ns) << ", last heartbeat " << age / 1000000000
              << " s ago" << (is_stale ? ", STALE: the next session cleaner recovers what it held" : "") << "\n";
  }
  std::cout.flush();
  return kExitOk;
}

}  // namespace s3l::cmd
