// s3layerfs-daemon gc-node: the background work of a volume (deleting dead
// blocks, cleaning stale sessions, compaction) as its own process, for mounts
// started with --no-bgjob. It registers a session of its own (heartbeat, so
// a killed gc-node's pending compaction is recovered by the next cleaner) and
// publishes its node service (actors/node_api.hpp) on --listen. Runs in the
// foreground until SIGTERM or SIGINT.
#include <signal.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include <iostream>

#include "actors/background.hpp"
#include "actors/heartbeat.hpp"
#include "actors/meta_service.hpp"
#include "actors/node_service.hpp"
#include "actors/store_workers.hpp"
#include "cmd/background_config.hpp"
#include "cmd/commands.hpp"
#include "cmd/common.hpp"
#include "config/values.hpp"
#include "util/clock.hpp"

namespace s3l::cmd {

namespace {

constexpr size_t kDeleteWorkers = 8;

}  // namespace

int run_gc_node(const config::GcNodeOptions& o) {
  const std::string meta_url = absolute_meta_url(o.meta_url);
  auto listen = config::parse_host_port(o.listen, true);
  if (!listen.ok()) return fail("gc-node", listen.msg(), kExitUsage);
  int code = kExitRuntime;
  auto v = open_volume(meta_url, o.s3, &code);
  if (!v.ok()) return fail("gc-node", v.msg(), code);

  // Signals are taken by sigwait below: block them before any thread exists,
  // so every CAF thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const auto heartbeat_every = std::chrono::seconds(o.heartbeat_s);
  meta::SessionInfo si = new_session_info("gc-node " + o.listen, heartbeat_every);
  auto sid = v->meta->register_session(si);
  if (!sid.ok()) return fail("gc-node", "registering the session: " + sid.msg());

  int rc = kExitOk;
  {
    caf::actor_system_config cfg;
    cfg.set("scheduler.policy", caf::atom("sharing"));
    cfg.set("scheduler.max-threads", 2);
    configure_node_network(cfg);
    caf::actor_system sys{cfg};
    MetaConnSplit split = split_meta_conns(o.meta_conns, serializes_writers(meta_url));
    auto service = spawn_meta_service(
        sys, [&] { return meta::open_meta(meta_url, false); }, split.readers, split.writers);
    if (!service.ok()) {
      (void)v->meta->close_session(*sid);
      return fail("gc-node", "opening metadata connections: " + service.msg());
    }
    caf::actor meta_actor = service.value;
    auto workers = spawn_store_workers(sys, v->store, nullptr, kDeleteWorkers, 0);
    auto heartbeat = spawn_heartbeat(sys, meta_actor, *sid, heartbeat_every);
    auto stats = std::make_shared<BgStats>();
    BackgroundConfig bc = background_config(meta_url, *v, meta_actor, workers, *sid, heartbeat_every,
                                            o.compact_threshold, o.compact_interval_s, stats);
    Background bg = spawn_background(sys, std::move(bc));

    NodeInfo ni = node_info("gc-node", v->settings, si, *sid);
    ni.has_background = true;
    ni.bg = bg;
    ni.stats = stats;
    auto node = spawn_node_service(sys, std::move(ni));
    auto port = caf::io::publish(node, listen->port, listen->host.c_str(), true);
    std::vector<caf::actor> to_stop = bg.all();
    to_stop.push_back(caf::actor_cast<caf::actor>(node));
    if (!port) {
      rc = fail("gc-node", "cannot listen on " + o.listen + ": " + sys.render(port.error()));
    } else {
      // One line on stdout, for scripts (the port matters with --listen HOST:0).
      std::cout << "gc-node for volume '" << v->settings.name << "' listening on " << listen->host << ":" << *port
                << " (session " << *sid << ")" << std::endl;
      spdlog::info("gc-node: volume '{}', listening on {}:{}, session {}", v->settings.name, listen->host, *port,
                   *sid);
      int sig = 0;
      sigwait(&stop_signals, &sig);
      spdlog::info("gc-node: signal {}: stopping", sig);
    }
    // Background workers first, and wait for them: a compaction in flight
    // ends before the session that owns its pending slice is closed.
    {
      caf::scoped_actor self{sys};
      for (auto& a : to_stop) {
        self->monitor(a);
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      }
      for (size_t i = 0; i < to_stop.size(); ++i)
        self->receive([](caf::down_msg&) {}, caf::after(std::chrono::seconds(60)) >> [] {});
    }
    Status c = v->meta->close_session(*sid);
    if (!c.ok()) spdlog::warn("gc-node: closing session {}: {}", *sid, c.msg);
    for (auto& a : {heartbeat, meta_actor, workers.uploads, workers.readers})
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  return rc;
}

}  // namespace s3l::cmd
