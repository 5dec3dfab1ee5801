#pragma once
// The ids a push source delivered lately, shared with the pull source of the
// same account: pull skips what push already delivered, and counts what
// only it found (the pushes Zendesk never made or gave up on). Bounded:
// the oldest ids are forgotten first. Thread-safe.
#include <cstddef>
#include <deque>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "source/event_id.h"

namespace zf::source {

class RecentIds {
 public:
  explicit RecentIds(size_t bound) : bound_(bound) {}
  void add(const std::vector<EventKey>& keys) {
    std::lock_guard lock(mu_);
    for (const auto& k : keys)
      if (ids_.insert(k).second) order_.push_back(k);
    while (order_.size() > bound_) {
      ids_.erase(order_.front());
      order_.pop_front();
    }
  }
  bool contains(const EventKey& k) const {
    std::lock_guard lock(mu_);
    return ids_.count(k) != 0;
  }

 private:
  const size_t bound_;
  mutable std::mutex mu_;
  std::unordered_set<EventKey, EventKeyHash> ids_;
  std::deque<EventKey> order_;
};

}  // namespace zf::source
