#pragma once
// A shutdown request that sleeping threads notice at once.
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace zf {

class StopSignal {
 public:
  void request() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }
  bool requested() const {
    std::lock_guard lock(mu_);
    return stopped_;
  }
  // Sleeps for `d`; returns false if a stop was requested meanwhile.
  template <typename Rep, typename Period>
  bool sleep_for(std::chrono::duration<Rep, Period> d) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, d, [&] { return stopped_; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
};

}  // namespace zf
