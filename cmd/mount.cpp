// s3layerfs-daemon mount: check everything that can be checked up front
// (volume, store, mountpoint), mount, detach unless --foreground, then start
// the actor system and serve FUSE requests until unmounted. On the way out,
// every dirty byte is committed before the process exits.
#include <atomic>
#include <limits.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <cstdlib>
#include <iostream>

#include <caf/io/all.hpp>

#include "actors/background.hpp"
#include "actors/bridge.hpp"
#include "actors/heartbeat.hpp"
#include "actors/meta_service.hpp"
#include "actors/node_link.hpp"
#include "actors/node_service.hpp"
#include "actors/store_workers.hpp"
#include "cmd/background_config.hpp"
#include "cmd/commands.hpp"
#include "cmd/common.hpp"
#include "config/values.hpp"
#include "fuse/fuse_ops.hpp"
#include "fuse/session.hpp"
#include "store/disk_cache.hpp"
#include "util/clock.hpp"
#include "vfs/vfs.hpp"

namespace s3l::cmd {

namespace {

constexpr size_t kReaderWorkers = 8;

std::string default_cache_dir(const std::string& uuid) {
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.s3layerfs/cache/" + uuid;
}

// After detaching, stderr is /dev/null: send log lines to syslog instead.
void log_to_syslog(spdlog::level::level_enum level) {
  auto logger = spdlog::syslog_logger_mt("s3layerfs", "s3layerfs-daemon", LOG_PID);
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

// Everything that runs once mounted (and, without --foreground, detached).
int serve(const config::MountOptions& o, const std::string& meta_url, const std::string& mnt,
          const std::string& cache_dir, fuse::Session& fs) {
  int code = kExitRuntime;
  auto v = open_volume(meta_url, o.s3, &code);  // a fresh connection: never share one across fork
  if (!v.ok()) return fail("mount", v.msg(), code);
  auto& meta = v->meta;
  const auto heartbeat_every = std::chrono::seconds(o.heartbeat_s);
  meta::SessionInfo si = new_session_info(mnt, heartbeat_every);
  auto sid = meta->register_session(si);
  if (!sid.ok()) return fail("mount", "registering the session: " + sid.msg());
  auto cache = store::BlockCache::open(cache_dir, o.cache_size);
  if (!cache.ok()) return fail("mount", "cache directory " + cache_dir + ": " + cache.msg());

  caf::actor_system_config cfg;
  cfg.set("scheduler.policy", caf::atom("sharing"));  // FUSE threads are outside the scheduler
  cfg.set("scheduler.max-threads", 4);
  const bool network = !o.gc_node.empty() || !o.listen.empty();
  if (network) configure_node_network(cfg);
  int rc = kExitOk;
  {
    caf::actor_system sys{cfg};
    MetaConnSplit split = split_meta_conns(o.meta_conns, serializes_writers(meta_url));
    auto meta_writes = std::make_shared<std::atomic<uint64_t>>(0);
    auto service = spawn_meta_service(
        sys, [&] { return meta::open_meta(meta_url, false); }, split.readers, split.writers, meta_writes);
    if (!service.ok()) {
      Status c = meta->close_session(*sid);
      (void)c;
      return fail("mount", "opening metadata connections: " + service.msg());
    }
    caf::actor meta_actor = service.value;
    auto workers = spawn_store_workers(sys, v->store, cache.value, o.max_uploads, kReaderWorkers);
    auto heartbeat = spawn_heartbeat(sys, meta_actor, *sid, heartbeat_every);
    std::vector<caf::actor> to_stop{heartbeat, meta_actor, workers.uploads, workers.readers};
    auto stats = std::make_shared<BgStats>();
    Background bg;
    caf::actor compact_hints;   // where handles name fragmented chunks
    auto link_stats = std::make_shared<NodeLinkStats>();
    if (!o.no_bgjob) {
      BackgroundConfig bc = background_config(meta_url, *v, meta_actor, workers, *sid, heartbeat_every,
                                              o.compact_threshold, o.compact_interval_s, stats);
      bc.compactor.cache = cache.value;
      bg = spawn_background(sys, std::move(bc));
      compact_hints = bg.compactor;
      for (auto& a : bg.all()) to_stop.insert(to_stop.begin(), a);
      if (!o.gc_node.empty())
        spdlog::warn("--gc-node {} is ignored without --no-bgjob: this mount does its own background work",
                     o.gc_node);
    } else if (!o.gc_node.empty()) {
      auto hp = config::parse_host_port(o.gc_node, false);   // checked by the parser
      NodeLinkConfig lc;
      lc.host = hp->host;
      lc.port = hp->port;
      lc.volume_uuid = v->settings.uuid;
      lc.session = *sid;
      lc.client_host = si.host;
      lc.mountpoint = mnt;
      compact_hints = spawn_node_link(sys, std::move(lc), link_stats);
      to_stop.insert(to_stop.begin(), compact_hints);
    } else {
      spdlog::warn("--no-bgjob without --gc-node: run a gc-node for this volume, or dead blocks, stale sessions "
                   "and fragmented chunks are left for another mount");
    }
    if (!o.listen.empty()) {
      auto hp = config::parse_host_port(o.listen, true);
      NodeInfo ni = node_info("mount", v->settings, si, *sid);
      ni.has_background = !o.no_bgjob;
      ni.bg = bg;
      ni.stats = stats;
      ni.add_status = [link_stats, gc = o.gc_node, mnt](caf::settings& s) {
        caf::put(s, "mountpoint", mnt);
        if (gc.empty()) return;
        caf::put(s, "gc-node.address", gc);
        caf::put(s, "gc-node.connected", link_stats->connected.load());
        caf::put(s, "gc-node.hints-sent", static_cast<int64_t>(link_stats->hints_sent.load()));
      };
      auto node = spawn_node_service(sys, std::move(ni));
      auto port = caf::io::publish(node, hp->port, hp->host.c_str(), true);
      if (!port)
        spdlog::error("--listen {}: {} (shell cannot reach this mount)", o.listen, sys.render(port.error()));
      else
        spdlog::info("answering shell on {}:{}", hp->host, *port);
      to_stop.insert(to_stop.begin(), caf::actor_cast<caf::actor>(node));
    }
    {
      VfsConfig vc;
      vc.session = *sid;
      vc.volume = v->settings;
      vc.readahead_blocks = o.readahead_blocks;
      vc.prefetch = o.cache_size > 0;
      vc.compact_hints = compact_hints;
      vc.compact_threshold = o.compact_threshold;
      vc.attr_timeout = o.attr_timeout;
      vc.entry_timeout = o.entry_timeout;
      vc.meta_writes = meta_writes;
      Vfs vfs(sys, vc, meta_actor, workers, o.buffer_size);
      fs.attach(&vfs);
      spdlog::info("volume '{}' mounted on {} (session {})", v->settings.name, mnt, *sid);
      fs.run();
      spdlog::info("unmounting {}: committing buffered data", mnt);
      Status s = vfs.shutdown();
      if (!s.ok()) {
        spdlog::critical("unmount of {}: {}", mnt, s.msg);
        rc = kExitRuntime;
      }
      fs.attach(nullptr);
    }
    if (bg.deleter) {
      Bridge bridge(sys);
      Status d = bridge.call_void(bg.deleter, kDataWait, msg::drain_atom::value);
      if (!d.ok()) spdlog::warn("deleting unreferenced objects at unmount: {}", d.msg);
      Bridge::release_this_thread();
    }
    for (auto& a : to_stop) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  fs.unmount();
  return rc;
}

}  // namespace

int run_mount(const config::MountOptions& o) {
  std::string meta_url = absolute_meta_url(o.meta_url);
  // Check the volume before touching the mountpoint: nothing happens on bad input.
  int code = kExitRuntime;
  auto v = open_volume(meta_url, o.s3, &code);  // credentials checked here, before mounting
  if (!v.ok()) return fail("mount", v.msg(), code);

  if (o.buffer_size < 2 * v->settings.block_size)
    return fail("mount", "--buffer-size " + std::to_string(o.buffer_size) +
                             " must hold at least two blocks of this volume (" +
                             std::to_string(2 * v->settings.block_size) + " bytes)",
                kExitUsage);
  char real[PATH_MAX];
  if (!::realpath(o.mountpoint.c_str(), real))
    return fail("mount", "mountpoint " + o.mountpoint + ": " + std::strerror(errno));
  std::string mnt = real;
  struct stat st;
  if (::stat(mnt.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return fail("mount", "mountpoint " + mnt + " is not a directory");
  if (fuse::is_mounted(mnt)) return fail("mount", mnt + " is already mounted");

  std::string cache_dir = o.cache_dir.empty() ? default_cache_dir(v->settings.uuid) : o.cache_dir;
  if (cache_dir[0] != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd)) cache_dir = std::string(cwd) + "/" + cache_dir;
  }
  std::string volume_name = v->settings.name;
  v.value.meta.reset();  // closed before fork; serve() opens its own

  fuse::SessionOptions so;
  so.mountpoint = mnt;
  so.fsname = "s3layerfs:" + volume_name;
  so.allow_other = o.allow_other;
  so.default_permissions = o.default_permissions;
  so.threads = o.fuse_threads;
  so.attr_timeout = o.attr_timeout;
  so.entry_timeout = o.entry_timeout;
  auto fs = fuse::Session::mount(so);
  if (!fs.ok()) return fail("mount", fs.msg());

  if (!o.foreground) {
    // The parent exits 0 now that the filesystem is mounted; the child serves it.
    auto level = spdlog::get_level();
    if (fuse_daemonize(0) != 0) return fail("mount", "cannot detach from the terminal");
    log_to_syslog(level);
  } else {
    std::cerr << "s3layerfs-daemon: volume '" << volume_name << "' mounted on " << mnt
              << " (unmount with: fusermount3 -u " << mnt << ")" << std::endl;
  }
  return serve(o, meta_url, mnt, cache_dir, *fs.value);
}

}  // namespace s3l::cmd
