#include "actors/session_cleaner.hpp"

#include <spdlog/spdlog.h>

#include "actors/bridge.hpp"
#include "actors/messages.hpp"
#include "util/clock.hpp"

namespace s3l {

namespace {

struct cleaner_state {
  bool busy = false;   // one pass at a time: a slow database must not stack passes
  BgStatsPtr stats;
  static inline const char* name = "session_cleaner";
};
using self_ptr = caf::stateful_actor<cleaner_state>*;

void end_sessions(self_ptr self, caf::actor meta, std::shared_ptr<std::vector<meta::SessionInfo>> stale,
                  size_t i) {
  if (i == stale->size()) {
    self->state.busy = false;
    return;
  }
  const meta::SessionInfo& s = (*stale)[i];
  double silent = static_cast<double>(now_ns() - s.heartbeat_ns) / 1e9;
  spdlog::warn("session cleaner: session {} (host {}, pid {}, {}) sent no heartbeat for {:.0f} s "
               "(expiry {:.0f} s): recovering what it held",
               s.id, s.host, s.pid, s.mountpoint, silent, static_cast<double>(s.expiry_ns) / 1e9);
  uint64_t id = s.id;
  self->request(meta, kMetaTimeout, msg::close_sess_atom::value, id)
      .then([=]() {
              ++self->state.stats->sessions_cleaned;
              end_sessions(self, meta, stale, i + 1);
            },
            [=](caf::error& e) {
              spdlog::warn("session cleaner: ending session {}: {}", id, from_caf_error(e).msg);
              end_sessions(self, meta, stale, i + 1);
            });
}

caf::behavior session_cleaner(self_ptr self, caf::actor meta, uint64_t session,
                              std::chrono::milliseconds interval, BgStatsPtr stats) {
  self->state.stats = stats ? std::move(stats) : std::make_shared<BgStats>();
  self->send(self, msg::tick_atom::value);
  const int64_t lease_ns = 3 * std::chrono::nanoseconds(interval).count();
  return {
      [=](msg::tick_atom) {
        self->delayed_send(self, interval, msg::tick_atom::value);
        if (self->state.busy) return;
        self->state.busy = true;
        self->request(meta, kMetaTimeout, msg::stale_atom::value, session, now_ns(), lease_ns)
            .then(
                [=](std::vector<meta::SessionInfo>& stale) {
                  end_sessions(self, meta, std::make_shared<std::vector<meta::SessionInfo>>(std::move(stale)), 0);
                },
                [=](caf::error& e) {
                  spdlog::warn("session cleaner: {}", from_caf_error(e).msg);
                  self->state.busy = false;
                });
      },
  };
}

}  // namespace

caf::actor spawn_session_cleaner(caf::actor_system& sys, caf::actor meta, uint64_t session,
                                 std::chrono::milliseconds interval, BgStatsPtr stats) {
  return sys.spawn(session_cleaner, std::move(meta), session, interval, std::move(stats));
}

}  // namespace s3l
