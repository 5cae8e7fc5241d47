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
                    spdlog::warn("session {} heartbeat failed: {}", session,
                                 from_caf_error(e).msg);
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
