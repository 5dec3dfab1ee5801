#include "source/rate_limiter.h"

#include <algorithm>

namespace zf::source {

RateLimiter::RateLimiter(int budget, std::chrono::milliseconds period, std::chrono::milliseconds margin,
                         std::function<Clock::time_point()> now)
    : budget_(budget), period_(period), margin_(margin), now_(std::move(now)) {}

void RateLimiter::expire(Clock::time_point now) {
  while (!sent_.empty() && sent_.front().at + period_ + margin_ <= now) sent_.pop_front();
  while (!urgent_.empty() && urgent_.front() + 2 * period_ <= now) urgent_.pop_front();
}

std::chrono::milliseconds RateLimiter::next_delay() {
  std::lock_guard lock(mu_);
  auto now = now_();
  expire(now);
  Clock::time_point ready = now;
  if (static_cast<int>(sent_.size()) >= budget_) ready = sent_.front().at + period_ + margin_;
  ready = std::max(ready, hold_until_);
  return std::chrono::ceil<std::chrono::milliseconds>(ready - now);
}

bool RateLimiter::acquire(StopSignal& stop, Waited* waited) {
  for (;;) {
    std::chrono::milliseconds budget_wait{0}, reset_wait{0};
    {
      std::lock_guard lock(mu_);
      auto now = now_();
      expire(now);
      if (hold_until_ > now) reset_wait = std::chrono::ceil<std::chrono::milliseconds>(hold_until_ - now);
      if (static_cast<int>(sent_.size()) >= budget_)
        budget_wait = std::chrono::ceil<std::chrono::milliseconds>(sent_.front().at + period_ + margin_ - now);
      if (reset_wait.count() <= 0 && budget_wait.count() <= 0) {
        sent_.push_back({now, false});
        urgent_.push_back(now);
        return true;
      }
    }
    auto wait = std::max(budget_wait, reset_wait);
    if (waited) (reset_wait >= budget_wait ? waited->reset : waited->budget) += wait;
    if (!stop.sleep_for(wait)) return false;
  }
}

bool RateLimiter::try_acquire_spare() {
  std::lock_guard lock(mu_);
  auto now = now_();
  expire(now);
  if (hold_until_ > now || static_cast<int>(sent_.size()) >= budget_) return false;
  int spare = 0;
  for (const auto& s : sent_) spare += s.spare ? 1 : 0;
  // Urgent requests per period, averaged over two: a burst that started a
  // period ago has not expired yet when the next one starts. One request
  // of headroom, so an urgent one rarely has to wait.
  int urgent = static_cast<int>((urgent_.size() + 1) / 2);
  if (spare >= budget_ - 1 - urgent) return false;
  sent_.push_back({now, true});
  return true;
}

void RateLimiter::hold_until(Clock::time_point t) {
  std::lock_guard lock(mu_);
  hold_until_ = std::max(hold_until_, t + margin_);
}

int RateLimiter::in_use() {
  std::lock_guard lock(mu_);
  expire(now_());
  return static_cast<int>(sent_.size());
}

}  // namespace zf::source
