#include "actors/node_service.hpp"

#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include <map>

#include "actors/bridge.hpp"
#include "actors/messages.hpp"
#include "util/clock.hpp"

namespace s3l {

void configure_node_network(caf::actor_system_config& cfg) {
  cfg.load<caf::io::middleman>();
  cfg.set("middleman.heartbeat-interval", caf::timespan{kNodeHeartbeat});
  cfg.set("middleman.connection-timeout", caf::timespan{kNodeConnectionTimeout});
}

namespace {

struct AttachedMount {
  uint64_t session = 0;
  std::string host, mountpoint;
  int64_t since_ns = 0;
};

struct node_state {
  NodeInfo info;
  std::map<caf::actor_addr, AttachedMount> mounts;
  uint64_t calls = 0;
  static inline const char* name = "node_service";
};
using node_ptr = node_api::stateful_pointer<node_state>;

caf::error refuse(std::string why) { return caf::make_error(caf::sec::invalid_argument, std::move(why)); }

bool parse_u64(const std::string& s, uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

caf::settings status(node_ptr self) {
  const NodeInfo& i = self->state.info;
  caf::settings res;
  caf::put(res, "role", i.role);
  caf::put(res, "volume", i.volume);
  caf::put(res, "volume-uuid", i.volume_uuid);
  caf::put(res, "session", std::to_string(i.session));
  caf::put(res, "host", i.host);
  caf::put(res, "pid", i.pid);
  caf::put(res, "uptime-seconds", (now_ns() - i.started_ns) / 1000000000);
  caf::put(res, "background-jobs", i.has_background);
  if (i.stats) {
    caf::put(res, "stats.objects-deleted", static_cast<int64_t>(i.stats->objects_deleted.load()));
    caf::put(res, "stats.deleter-passes", static_cast<int64_t>(i.stats->deleter_passes.load()));
    caf::put(res, "stats.chunks-compacted", static_cast<int64_t>(i.stats->chunks_compacted.load()));
    caf::put(res, "stats.compactor-passes", static_cast<int64_t>(i.stats->compactor_passes.load()));
    caf::put(res, "stats.compact-hints", static_cast<int64_t>(i.stats->compact_hints.load()));
    caf::put(res, "stats.sessions-cleaned", static_cast<int64_t>(i.stats->sessions_cleaned.load()));
  }
  caf::put(res, "mounts-attached", static_cast<int64_t>(self->state.mounts.size()));
  for (const auto& [addr, m] : self->state.mounts)
    caf::put(res, "mounts." + std::to_string(m.session), m.host + ":" + m.mountpoint);
  if (i.add_status) i.add_status(res);
  return res;
}

// hello VOLUME-UUID SESSION HOST MOUNTPOINT: a mount attaches. Its connection
// is monitored, so a mount that dies or is cut off is dropped from the list.
caf::result<caf::settings> hello(node_ptr self, const std::vector<std::string>& args) {
  auto& st = self->state;
  uint64_t session = 0;
  if (args.size() != 4 || !parse_u64(args[1], session))
    return refuse("usage: hello VOLUME-UUID SESSION HOST MOUNTPOINT");
  if (args[0] != st.info.volume_uuid)
    return refuse("this " + st.info.role + " serves volume '" + st.info.volume + "' (" + st.info.volume_uuid +
                  "), not volume " + args[0]);
  auto sender = self->current_sender();
  if (!sender) return refuse("hello needs a reply address");
  auto addr = caf::actor_cast<caf::actor_addr>(sender);
  if (!st.mounts.count(addr)) self->monitor(sender);
  st.mounts[addr] = AttachedMount{session, args[2], args[3], now_ns()};
  spdlog::info("{}: mount {}:{} (session {}) attached", st.info.role, args[2], args[3], session);
  caf::settings res;
  caf::put(res, "volume", st.info.volume);
  caf::put(res, "session", std::to_string(st.info.session));
  return res;
}

caf::result<caf::settings> compact(node_ptr self, const std::vector<std::string>& args) {
  auto& st = self->state;
  uint64_t ino = 0, chunk = 0;
  if (args.size() != 2 || !parse_u64(args[0], ino) || !parse_u64(args[1], chunk))
    return refuse("usage: compact INODE CHUNK");
  if (!st.info.has_background) return refuse("this " + st.info.role + " runs no compactor");
  caf::anon_send(st.info.bg.compactor, msg::compact_hint_atom::value, ino, chunk);
  return caf::settings{};
}

caf::result<caf::settings> drain(node_ptr self) {
  auto& st = self->state;
  if (!st.info.has_background) return refuse("this " + st.info.role + " runs no deleter");
  auto rp = self->make_response_promise<caf::settings>();
  auto stats = st.info.stats;
  uint64_t before = stats ? stats->objects_deleted.load() : 0;
  self->request(caf::actor_cast<caf::actor>(st.info.bg.deleter), kDataTimeout, msg::drain_atom::value)
      .then(
          [=]() mutable {
            caf::settings res;
            caf::put(res, "objects-deleted", static_cast<int64_t>(stats ? stats->objects_deleted.load() - before : 0));
            rp.deliver(std::move(res));
          },
          [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
  return rp;
}

caf::settings help() {
  caf::settings res;
  caf::put(res, "help", "this list");
  caf::put(res, "status", "role, volume, session, background counters, attached mounts");
  caf::put(res, "drain", "one deleter pass now, ignoring the delay (gc-node)");
  caf::put(res, "compact", "INODE CHUNK: compact this chunk soon if it is fragmented (gc-node)");
  caf::put(res, "hello", "VOLUME-UUID SESSION HOST MOUNTPOINT: a mount attaches (used by mounts)");
  return res;
}

node_api::behavior_type node_service(node_ptr self, NodeInfo info) {
  self->state.info = std::move(info);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& mounts = self->state.mounts;
    auto it = mounts.find(dm.source);
    if (it == mounts.end()) return;
    spdlog::info("{}: mount {}:{} (session {}) disconnected", self->state.info.role, it->second.host,
                 it->second.mountpoint, it->second.session);
    mounts.erase(it);
  });
  return {
      [=](caf::atom_value cmd, const std::vector<std::string>& args) -> caf::result<caf::settings> {
        ++self->state.calls;
        switch (caf::atom_uint(cmd)) {
          case caf::atom_uint("help"): return help();
          case caf::atom_uint("status"): return status(self);
          case caf::atom_uint("hello"): return hello(self, args);
          case caf::atom_uint("compact"): return compact(self, args);
          case caf::atom_uint("drain"): return drain(self);
          default: return refuse("unknown command '" + caf::to_string(cmd) + "' (try: help)");
        }
      },
  };
}

}  // namespace

NodeInfo node_info(std::string role, const meta::VolumeSettings& volume, const meta::SessionInfo& row,
                   uint64_t session) {
  NodeInfo ni;
  ni.role = std::move(role);
  ni.volume = volume.name;
  ni.volume_uuid = volume.uuid;
  ni.session = session;
  ni.host = row.host;
  ni.pid = row.pid;
  ni.started_ns = row.started_ns;
  return ni;
}

node_api spawn_node_service(caf::actor_system& sys, NodeInfo info) {
  return sys.spawn(node_service, std::move(info));
}

}  // namespace s3l
