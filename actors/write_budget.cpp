#include "actors/write_budget.hpp"

#include <chrono>

namespace s3l {

void WriteBudget::acquire(uint64_t n) {
  std::unique_lock<std::mutex> lk(mu_);
  // A single write larger than the whole budget is admitted when nothing else
  // is buffered, so it cannot wait forever.
  while (used_ > 0 && used_ + n > limit_) {
    lk.unlock();
    if (on_pressure_) on_pressure_();
    lk.lock();
    cv_.wait_for(lk, std::chrono::milliseconds(200),
                 [&] { return used_ == 0 || used_ + n <= limit_; });
  }
  used_ += n;
}

void WriteBudget::release(uint64_t n) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    used_ = n > used_ ? 0 : used_ - n;
  }
  cv_.notify_all();
}

uint64_t WriteBudget::used() const {
  std::lock_guard<std::mutex> lk(mu_);
  return used_;
}

}  // namespace s3l
