#include "sources/zendesk_pull/rate_limiter.h"

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

std::chrono::milliseconds RateLimiter::try_acquire(bool* held_by_reset) {
  std::lock_guard lock(mu_);
  auto now = now_();
  expire(now);
  std::chrono::milliseconds budget_wait{0}, reset_wait{0};
  if (hold_until_ > now) reset_wait = std::chrono::ceil<std::chrono::milliseconds>(hold_until_ - now);
  if (static_cast<int>(sent_.size()) >= budget_)
    budget_wait = std::chrono::ceil<std::chrono::milliseconds>(sent_.front().at + period_ + margin_ - now);
  if (reset_wait.count() <= 0 && budget_wait.count() <= 0) {
    sent(now, false);
    return std::chrono::milliseconds(0);
  }
  if (held_by_reset) *held_by_reset = reset_wait >= budget_wait;
  return std::max(budget_wait, reset_wait);
}

bool RateLimiter::acquire(StopSignal& stop, Waited* waited) {
  for (;;) {
    bool reset = false;
    auto wait = try_acquire(&reset);
    if (wait.count() <= 0) return true;
    if (waited) (reset ? waited->reset : waited->budget) += wait;
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
  sent(now, true);
  return true;
}

void RateLimiter::sent(Clock::time_point now, bool spare) {
  sent_.push_back({now, spare});
  if (!spare) urgent_.push_back(now);
  if (!journal_) return;
  try {
    journal_->record(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
  } catch (const std::exception& e) {
    journal_ = nullptr;
    journal_failed_(e.what());
  }
}

void RateLimiter::keep_journal(RequestJournal& journal, std::function<void(const std::string&)> on_failure) {
  std::lock_guard lock(mu_);
  auto now = now_();
  int64_t wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::deque<Sent> earlier;
  for (int64_t t : journal.earlier()) {
    std::chrono::milliseconds age(wall_ms - t);
    if (age.count() < 0) age = std::chrono::milliseconds(0);  // a clock step back: count it as just sent
    if (age >= period_ + margin_) continue;
    earlier.push_back({now - age, false});
  }
  // Oldest first, before anything this process sent.
  for (auto& s : sent_) earlier.push_back(s);
  sent_ = std::move(earlier);
  journal_ = &journal;
  journal_failed_ = std::move(on_failure);
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
