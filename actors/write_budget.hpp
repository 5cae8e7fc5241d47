// The global bound on buffered (dirty, not yet committed) bytes of a mount.
// FUSE threads acquire before handing a write to an inode handle and block
// while the budget is exhausted: back-pressure instead of growing memory.
// Inode handles release bytes once a slice is committed (or dropped).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

namespace s3l {

class WriteBudget {
 public:
  // on_pressure is called (without the lock held) when a writer has to wait,
  // so the owner can ask handles to cut and upload their open slices.
  WriteBudget(uint64_t limit, std::function<void()> on_pressure)
      : limit_(limit), on_pressure_(std::move(on_pressure)) {}

  void acquire(uint64_t n);
  void release(uint64_t n);
  uint64_t used() const;
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::function<void()> on_pressure_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t used_ = 0;
};

}  // namespace s3l
