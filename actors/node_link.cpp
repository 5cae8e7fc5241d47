#include "actors/node_link.hpp"

#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include <set>
#include <utility>

#include "actors/compactor.hpp"
#include "actors/messages.hpp"
#include "actors/node_api.hpp"

namespace s3l {

namespace {

constexpr auto kRetry = std::chrono::seconds(1);
// A gc-node that refuses hello (another volume) is asked again less often.
constexpr auto kRefusedRetry = std::chrono::seconds(30);

struct link_state {
  NodeLinkConfig cfg;
  std::shared_ptr<NodeLinkStats> stats;
  node_api node;              // valid while `attached`
  bool attached = false;
  bool connecting = false;    // a tick is queued or running
  bool warned = false;        // the first failed attempt is a warning, the rest debug
  std::set<std::pair<uint64_t, uint64_t>> hints;   // waiting for a connection
  static inline const char* name = "gc_node_link";
};
using self_ptr = caf::stateful_actor<link_state>*;

std::string render(caf::actor_system& sys, const caf::error& e) {
  if (e.context().match_elements<std::string>()) return e.context().get_as<std::string>(0);
  return sys.render(e);
}

void schedule_connect(self_ptr self, std::chrono::milliseconds after) {
  if (self->state.connecting) return;
  self->state.connecting = true;
  self->delayed_send(self, after, msg::tick_atom::value);
}

void send_hint(self_ptr self, uint64_t ino, uint64_t chunk) {
  auto& st = self->state;
  self->request(st.node, kNodeRequestTimeout, caf::atom("compact"),
                std::vector<std::string>{std::to_string(ino), std::to_string(chunk)})
      .then([=](caf::settings&) { ++self->state.stats->hints_sent; },
            [=](caf::error& e) {
              spdlog::debug("gc-node link: hint for inode {} chunk {}: {}", ino, chunk, render(self->system(), e));
            });
}

void on_attached(self_ptr self) {
  auto& st = self->state;
  st.attached = true;
  st.warned = false;
  st.stats->connected = true;
  ++st.stats->connects;
  spdlog::info("gc-node link: attached to the gc-node at {}:{}", st.cfg.host, st.cfg.port);
  auto hints = std::move(st.hints);
  st.hints.clear();
  for (const auto& [ino, chunk] : hints) send_hint(self, ino, chunk);
}

void connect(self_ptr self) {
  auto& st = self->state;
  st.connecting = false;
  if (st.attached) return;
  auto node = caf::io::remote_actor<node_api>(self->system(), st.cfg.host, st.cfg.port);
  if (!node) {
    std::string why = render(self->system(), node.error());
    if (!st.warned)
      spdlog::warn("gc-node link: cannot reach the gc-node at {}:{} ({}); retrying every {} s", st.cfg.host,
                   st.cfg.port, why, kRetry.count());
    else
      spdlog::debug("gc-node link: {}:{}: {}", st.cfg.host, st.cfg.port, why);
    st.warned = true;
    return schedule_connect(self, kRetry);
  }
  st.node = *node;
  self->monitor(st.node);
  std::vector<std::string> hello{st.cfg.volume_uuid, std::to_string(st.cfg.session), st.cfg.client_host,
                                 st.cfg.mountpoint};
  self->request(st.node, kNodeRequestTimeout, caf::atom("hello"), std::move(hello))
      .then([=](caf::settings&) { on_attached(self); },
            [=](caf::error& e) {
              auto& st = self->state;
              spdlog::error("gc-node link: the gc-node at {}:{} refused this mount: {}", st.cfg.host, st.cfg.port,
                            render(self->system(), e));
              self->demonitor(st.node.address());
              st.node = node_api{};
              schedule_connect(self, kRefusedRetry);
            });
}

caf::behavior node_link(self_ptr self, NodeLinkConfig cfg, std::shared_ptr<NodeLinkStats> stats) {
  self->state.cfg = std::move(cfg);
  self->state.stats = std::move(stats);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source != st.node.address()) return;
    spdlog::warn("gc-node link: lost the gc-node at {}:{} ({}); reconnecting", st.cfg.host, st.cfg.port,
                 self->system().render(dm.reason));
    st.attached = false;
    st.stats->connected = false;
    st.node = node_api{};
    schedule_connect(self, kRetry);
  });
  self->state.connecting = true;
  self->send(self, msg::tick_atom::value);
  return {
      [=](msg::tick_atom) { connect(self); },
      [=](msg::compact_hint_atom, uint64_t ino, uint64_t chunk) {
        auto& st = self->state;
        if (st.attached) return send_hint(self, ino, chunk);
        if (st.hints.size() < kMaxCompactHints) st.hints.emplace(ino, chunk);
      },
  };
}

}  // namespace

caf::actor spawn_node_link(caf::actor_system& sys, NodeLinkConfig cfg, std::shared_ptr<NodeLinkStats> stats) {
  return sys.spawn<caf::detached>(node_link, std::move(cfg), std::move(stats));
}

}  // namespace s3l
