#include "actors/heartbeat.hpp"

#include <spdlog/spdlog.h>

#include "actors/bridge.hpp"
#include "actors/messages.hpp"
#include "util/clock.hpp"

namespace s3l {

namespace {
caf::behavior heartbeat(caf::event_based_actor* self, caf::actor meta, uint64_t session,
                        std::chrono::milliseconds interval) {
  self->send(self, msg::tick_atom::value);
  return {
      [=](msg::tick_atom) {
        self->request(meta, kMetaTimeout, msg::heartbeat_atom::value, session, now_ns())
            .then([]() {},
                  [=](caf::error& e) {
                    Status s = from_caf_error(e);
                    if (s.err == ENOENT)   // another mount's cleaner took this one for dead
                      spdlog::critical("session {} was ended as stale by another mount: writes not yet "
                                       "committed will fail; remount: {}", session, s.msg);
                    else
                      spdlog::warn("session {} heartbeat failed: {}", session, s.msg);
                  });
        self->delayed_send(self, interval, msg::tick_atom::value);
      },
  };
}
}  // namespace

caf::actor spawn_heartbeat(caf::actor_system& sys, caf::actor meta, uint64_t session,
                           std::chrono::milliseconds interval) {
  return sys.spawn(heartbeat, std::move(meta), session, interval);
}

}  // namespace s3l
