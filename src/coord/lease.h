#pragma once
// The membership lease: how long this replica may keep polling the accounts
// it owns without a fresh confirmation that it is still a member.
//
// The coordinator's loop calls tick() about every 100 ms with what librdkafka
// reports (a member, assignment not lost). A tick renews the lease to
// now + lease only when the previous tick was less than `stall` ago: after
// a gap (the process was stopped or starved, and so were its heartbeats) the
// stale state must not extend it. So a replica stopped with SIGSTOP for
// longer than the lease finds it lapsed the moment it resumes, before
// librdkafka has even heard that its session expired (docs/KAFKA.md).
#include <chrono>

namespace zf::coord {

class Lease {
 public:
  using Clock = std::chrono::steady_clock;

  Lease(std::chrono::milliseconds lease, std::chrono::milliseconds stall) : lease_(lease), stall_(stall) {}

  // Returns true when this tick renewed the lease.
  bool tick(Clock::time_point now, bool member_ok) {
    bool steady = last_tick_ != Clock::time_point{} && now - last_tick_ <= stall_;
    last_tick_ = now;
    if (!member_ok || !steady) return false;
    until_ = now + lease_;
    return true;
  }
  // A fresh assignment from the broker confirms membership by itself,
  // unless it is handled late after a stall (it may be stale by then).
  void confirm(Clock::time_point now) {
    if (last_tick_ != Clock::time_point{} && now - last_tick_ <= stall_) until_ = now + lease_;
  }
  void drop() { until_ = Clock::time_point{}; }
  bool valid(Clock::time_point now) const { return now < until_; }
  Clock::time_point until() const { return until_; }

 private:
  std::chrono::milliseconds lease_, stall_;
  Clock::time_point last_tick_{};
  Clock::time_point until_{};
};

}  // namespace zf::coord
