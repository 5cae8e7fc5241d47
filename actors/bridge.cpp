#include "actors/bridge.hpp"

namespace s3l {

namespace {
// Every request schedules its timeout message at send time, and CAF delivers
// it even when the reply came long before; a blocking actor never consumes
// those, so its mailbox would grow by one message per call once the first
// deadlines pass (2 min) and every receive would scan them all. A thread's
// scoped_actor is therefore replaced before any deadline can fire: messages
// for an actor that is gone are dropped.
constexpr auto kMaxActorAge = std::chrono::seconds(60);
static_assert(kMaxActorAge < kMetaTimeout, "rotate before the shortest request deadline");

thread_local std::chrono::steady_clock::time_point born;
}  // namespace

std::unique_ptr<caf::scoped_actor>& Bridge::slot() {
  thread_local std::unique_ptr<caf::scoped_actor> ptr;
  return ptr;
}

caf::scoped_actor& Bridge::self() {
  auto& p = slot();
  const auto now = std::chrono::steady_clock::now();
  if (p && now - born > kMaxActorAge) p.reset();
  if (!p) {
    p.reset(new caf::scoped_actor{sys_});
    born = now;
  }
  return *p;
}

void Bridge::release_this_thread() { slot().reset(); }

void Bridge::after_call(const Status& st) {
  if (!st.ok() && st.msg.find("request_timeout") != std::string::npos) slot().reset();
}

}  // namespace s3l
