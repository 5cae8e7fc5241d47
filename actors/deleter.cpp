#include "actors/deleter.hpp"

#include <spdlog/spdlog.h>

#include "actors/bridge.hpp"
#include "actors/messages.hpp"
#include "store/block_key.hpp"
#include "util/clock.hpp"

namespace s3l {

namespace {

struct deleter_state {
  bool busy = false;
  std::vector<caf::response_promise> drained;  // waiting for the current pass
  BgStatsPtr stats;
  static inline const char* name = "deleter";
};
using self_ptr = caf::stateful_actor<deleter_state>*;

constexpr uint64_t kBatch = 1000;

void pass_done(self_ptr self) {
  self->state.busy = false;
  ++self->state.stats->deleter_passes;
  for (auto& rp : self->state.drained) rp.deliver(caf::unit);
  self->state.drained.clear();
}

// One pass: fetch dead blocks, delete their objects, forget their rows.
void run_pass(self_ptr self, caf::actor meta, caf::actor uploads, std::string volume,
              std::chrono::milliseconds delay, bool ignore_delay) {
  if (self->state.busy) return;
  self->state.busy = true;
  self->request(meta, kMetaTimeout, msg::dead_atom::value, kBatch)
      .then(
          [=](std::vector<meta::DeadBlock>& dead) {
            int64_t cutoff = now_ns() - std::chrono::nanoseconds(delay).count();
            std::vector<std::string> keys;
            std::vector<uint64_t> ids;
            for (auto& d : dead) {
              if (!ignore_delay && d.dead_since_ns > cutoff) continue;
              keys.push_back(store::block_key(volume, d.slice_id, d.index, d.size));
              ids.push_back(d.id);
            }
            if (ids.empty()) return pass_done(self);
            self->request(uploads, kDataTimeout, msg::del_objs_atom::value, keys)
                .then(
                    [=]() {
                      self->request(meta, kMetaTimeout, msg::forget_atom::value, ids)
                          .then([=]() {
                                  spdlog::debug("deleter: removed {} objects", ids.size());
                                  self->state.stats->objects_deleted += ids.size();
                                  pass_done(self);
                                },
                                [=](caf::error& e) {
                                  spdlog::warn("deleter: {}", from_caf_error(e).msg);
                                  pass_done(self);
                                });
                    },
                    [=](caf::error& e) {
                      spdlog::warn("deleter: object removal failed, will retry: {}",
                                   from_caf_error(e).msg);
                      pass_done(self);
                    });
          },
          [=](caf::error& e) {
            spdlog::warn("deleter: {}", from_caf_error(e).msg);
            pass_done(self);
          });
}

caf::behavior deleter(self_ptr self, caf::actor meta, caf::actor uploads, std::string volume,
                      std::chrono::milliseconds interval, std::chrono::milliseconds delay, BgStatsPtr stats) {
  self->state.stats = stats ? std::move(stats) : std::make_shared<BgStats>();
  self->delayed_send(self, interval, msg::tick_atom::value);
  return {
      [=](msg::tick_atom) {
        run_pass(self, meta, uploads, volume, delay, false);
        self->delayed_send(self, interval, msg::tick_atom::value);
      },
      [=](msg::drain_atom) -> caf::result<void> {
        auto rp = self->make_response_promise();
        self->state.drained.push_back(rp);
        run_pass(self, meta, uploads, volume, delay, true);
        return rp;
      },
  };
}

}  // namespace

caf::actor spawn_deleter(caf::actor_system& sys, caf::actor meta, caf::actor uploads,
                         std::string volume, std::chrono::milliseconds interval,
                         std::chrono::milliseconds delay, BgStatsPtr stats) {
  return sys.spawn(deleter, std::move(meta), std::move(uploads), std::move(volume), interval,
                   delay, std::move(stats));
}

}  // namespace s3l
