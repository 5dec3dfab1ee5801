#pragma once
// The forwarder's own request budget: at most `budget` requests in any
// interval of length `period` (a sliding log, so any fixed window the
// server uses sees no more than the budget either), plus an absolute
// "not before" set by a 429's reset. Every API request, page or retry,
// passes through acquire().
#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <mutex>

#include "core/stop_signal.h"
#include "sources/zendesk_pull/request_journal.h"

namespace zf::source {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  struct Waited {
    std::chrono::milliseconds budget{0};  // paced to stay within our budget
    std::chrono::milliseconds reset{0};   // held back by a server reset
  };

  // `margin` is added to every computed wait: server and client clocks
  // read arrivals a little apart, and a request landing a hair early costs
  // a whole 429 round.
  RateLimiter(int budget, std::chrono::milliseconds period, std::chrono::milliseconds margin,
              std::function<Clock::time_point()> now = Clock::now);

  // Blocks until a request may be sent, then records it. Returns false if
  // `stop` was requested while waiting.
  bool acquire(StopSignal& stop, Waited* waited = nullptr);
  // Never waits: records a request and returns 0 when one may go now, else
  // how long until one may (and whether a server reset, not our own budget,
  // holds it back).
  std::chrono::milliseconds try_acquire(bool* held_by_reset = nullptr);
  // Requests come in two classes. Urgent ones (acquire) may use the whole
  // budget; spare ones (try_acquire_spare) only what urgent ones leave: at
  // most budget - 1 - (urgent requests per period, averaged over the last
  // two, as they come in bursts) spare ones in any period. Never waits.
  bool try_acquire_spare();
  // No request before now + wait (a 429's ratelimit-reset).
  void hold_until(Clock::time_point t);
  // Requests recorded within the last period (the budget in use).
  int in_use();
  // How long acquire() would wait now (0 when a request may go).
  std::chrono::milliseconds next_delay();

  // Counts the requests an earlier process recorded in `journal` within the
  // last period as if this one had sent them, and records every request
  // from now on (before it is sent). The journal must outlive the limiter.
  // A failed write is not fatal (the journal only guards restarts): it is
  // told to `on_failure` and the journal is no longer written.
  void keep_journal(RequestJournal& journal, std::function<void(const std::string&)> on_failure);

  int budget() const { return budget_; }
  std::chrono::milliseconds period() const { return period_; }

 private:
  void expire(Clock::time_point now);
  void sent(Clock::time_point now, bool spare);  // under mu_

  const int budget_;
  const std::chrono::milliseconds period_;
  const std::chrono::milliseconds margin_;
  std::function<Clock::time_point()> now_;
  std::mutex mu_;
  struct Sent {
    Clock::time_point at;
    bool spare;
  };
  std::deque<Sent> sent_;
  std::deque<Clock::time_point> urgent_;  // urgent requests of the last two periods
  Clock::time_point hold_until_{};
  RequestJournal* journal_ = nullptr;
  std::function<void(const std::string&)> journal_failed_;
};

}  // namespace zf::source
