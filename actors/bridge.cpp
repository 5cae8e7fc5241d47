#include "actors/bridge.hpp"

namespace s3l {

std::unique_ptr<caf::scoped_actor>& Bridge::slot() {
  thread_local std::unique_ptr<caf::scoped_actor> ptr;
  return ptr;
}

caf::scoped_actor& Bridge::self() {
  auto& p = slot();
  if (!p) p.reset(new caf::scoped_actor{sys_});
  return *p;
}

void Bridge::release_this_thread() { slot().reset(); }

void Bridge::after_call(const Status& st) {
  if (!st.ok() && st.msg.find("request_timeout") != std::string::npos) slot().reset();
}

}  // namespace s3l
