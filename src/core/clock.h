#pragma once
// Wall-clock time for the decisions that depend on it (which windows are
// due, when a late read is, readiness, commit times), injected so tests can
// set it and move it. Budget waits and backoff stay on the real steady
// clock: they pace requests to a real server.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "core/stop_signal.h"

namespace zf {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() const = 0;  // unix milliseconds
  int64_t now_s() const { return now_ms() / 1000; }
  // Returns once now_ms() >= wall_ms; false when a stop came first.
  virtual bool sleep_until(StopSignal& stop, int64_t wall_ms) const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  bool sleep_until(StopSignal& stop, int64_t wall_ms) const override {
    return stop.sleep_for(std::chrono::milliseconds(std::max<int64_t>(1, wall_ms - now_ms())));
  }
};

// The machine's clock. Stateless, so one instance serves every default.
inline const Clock& real_clock() {
  static const SystemClock clock;
  return clock;
}

// A clock the test sets and moves; sleepers wake when it passes their time.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms) : now_(start_ms) {}
  int64_t now_ms() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void advance(std::chrono::milliseconds d) {
    {
      std::lock_guard lock(mu_);
      now_ += d.count();
    }
    cv_.notify_all();
  }
  bool sleep_until(StopSignal& stop, int64_t wall_ms) const override {
    std::unique_lock lock(mu_);
    while (now_ < wall_ms) {
      if (stop.requested()) return false;
      cv_.wait_for(lock, std::chrono::milliseconds(10));  // also notices a stop
    }
    return !stop.requested();
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  int64_t now_;
};

}  // namespace zf
