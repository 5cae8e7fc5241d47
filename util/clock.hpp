#pragma once
#include <chrono>
#include <cstdint>

namespace s3l {
// Wall-clock time in nanoseconds since the epoch; all inode times are kept this way.
inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}
// Monotonic time in nanoseconds: for timeouts and intervals, which a step of
// the wall clock must not stretch or cut.
inline int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace s3l
