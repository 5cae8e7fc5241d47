#include "actors/purger.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <vector>

#include "actors/bridge.hpp"
#include "actors/messages.hpp"

namespace s3l {

namespace {

struct purger_state {
  std::deque<uint64_t> queue;   // taken from the front a batch at a time, up to max_queued long
  bool busy = false;         // a batch is with the meta service
  bool timer = false;        // a flush tick is scheduled
  bool warned_full = false;
  std::vector<caf::response_promise> drained;
  static inline const char* name = "purger";
};
using self_ptr = caf::stateful_actor<purger_state>*;

void send_batch(self_ptr self, const caf::actor& meta, const PurgerConfig& cfg);

// After a batch, or when a tick fires: the next batch now if one is full (or
// someone waits for the queue to empty), a tick for what is left otherwise.
void next(self_ptr self, const caf::actor& meta, const PurgerConfig& cfg) {
  auto& st = self->state;
  if (st.busy) return;
  if (st.queue.empty()) {
    for (auto& rp : st.drained) rp.deliver(caf::unit);
    st.drained.clear();
    return;
  }
  if (st.queue.size() >= cfg.batch || !st.drained.empty()) return send_batch(self, meta, cfg);
  if (!st.timer) {
    st.timer = true;
    self->delayed_send(self, cfg.delay, msg::tick_atom::value);
  }
}

void send_batch(self_ptr self, const caf::actor& meta, const PurgerConfig& cfg) {
  auto& st = self->state;
  const size_t n = std::min(cfg.batch, st.queue.size());
  std::vector<uint64_t> batch(st.queue.begin(), st.queue.begin() + static_cast<std::ptrdiff_t>(n));
  st.queue.erase(st.queue.begin(), st.queue.begin() + static_cast<std::ptrdiff_t>(n));
  st.busy = true;
  self->request(meta, kMetaTimeout, msg::purge_atom::value, batch)
      .then(
          [=]() {
            spdlog::debug("purger: {} orphan inode(s) purged", n);
            self->state.busy = false;
            next(self, meta, cfg);
          },
          [=](caf::error& e) {
            spdlog::warn("purge of {} unlinked inode(s) failed (they are purged when the session ends): {}", n,
                         from_caf_error(e).msg);
            self->state.busy = false;
            next(self, meta, cfg);
          });
}

caf::behavior purger(self_ptr self, caf::actor meta, PurgerConfig cfg) {
  return {
      [=](msg::purge_atom, uint64_t ino) {
        auto& st = self->state;
        if (st.queue.size() >= cfg.max_queued) {
          if (!st.warned_full)
            spdlog::warn("purger: {} inodes queued; more are left until the session ends", st.queue.size());
          st.warned_full = true;
          return;
        }
        st.queue.push_back(ino);
        next(self, meta, cfg);
      },
      [=](msg::tick_atom) {
        self->state.timer = false;
        if (!self->state.busy && !self->state.queue.empty()) send_batch(self, meta, cfg);
      },
      [=](msg::drain_atom) -> caf::result<void> {
        if (!self->state.busy && self->state.queue.empty()) return caf::unit;
        auto rp = self->make_response_promise();
        self->state.drained.push_back(rp);
        next(self, meta, cfg);
        return rp;
      },
  };
}

}  // namespace

caf::actor spawn_purger(caf::actor_system& sys, caf::actor meta, PurgerConfig cfg) {
  return sys.spawn(purger, std::move(meta), cfg);
}

}  // namespace s3l
