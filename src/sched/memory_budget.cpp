#include "sched/memory_budget.h"

#include <algorithm>

namespace zf::sched {

bool MemoryBudget::fits(size_t bytes) const {
  if (used_ == 0) return true;
  if (used_ + bytes > limit_) return false;
  if (!heap_) return true;
  // The heap already holds the pages that arrived; the fetches under way
  // (this one too) will add to it.
  std::optional<size_t> heap = heap_();
  return !heap || *heap + pending_ + bytes * kFetchFactor <= limit_;
}

std::function<void()> MemoryBudget::next_to_wake() {
  if (queue_.empty() || used_ >= limit_) return nullptr;
  return queue_.front().wake;
}

MemoryBudget::Answer MemoryBudget::try_reserve(uint64_t who, size_t bytes, std::function<void()> wake) {
  std::function<void()> then;
  {
    std::lock_guard lock(mu_);
    bool first_in_line = queue_.empty() || queue_.front().who == who;
    if (first_in_line && fits(bytes)) {
      used_ += bytes;
      pending_ += bytes * kFetchFactor;
      peak_ = std::max(peak_, used_);
      if (!queue_.empty()) queue_.pop_front();
      then = next_to_wake();  // room may be left for the next in line
    } else {
      if (std::none_of(queue_.begin(), queue_.end(), [&](const Waiter& w) { return w.who == who; }))
        queue_.push_back({who, std::move(wake)});
      // Only the head asks again on its own: the others follow it in turn.
      bool head_held_by_heap = queue_.front().who == who && used_ + bytes <= limit_;
      return head_held_by_heap ? Answer::Retry : Answer::Wait;
    }
  }
  if (then) then();
  return Answer::Reserved;
}

void MemoryBudget::adjust(size_t reserved, size_t actual) {
  std::function<void()> then;
  {
    std::lock_guard lock(mu_);
    pending_ -= std::min(pending_, reserved * kFetchFactor);
    used_ = used_ - std::min(used_, reserved) + actual;
    peak_ = std::max(peak_, used_);
    if (actual < reserved) then = next_to_wake();
  }
  if (then) then();
}

void MemoryBudget::cancel(size_t reserved) {
  std::function<void()> then;
  {
    std::lock_guard lock(mu_);
    pending_ -= std::min(pending_, reserved * kFetchFactor);
    used_ -= std::min(used_, reserved);
    then = next_to_wake();
  }
  if (then) then();
}

void MemoryBudget::release(size_t bytes) {
  std::function<void()> then;
  {
    std::lock_guard lock(mu_);
    used_ -= std::min(used_, bytes);
    then = next_to_wake();
  }
  if (then) then();
}

void MemoryBudget::withdraw(uint64_t who) {
  std::function<void()> then;
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(queue_.begin(), queue_.end(), [&](const Waiter& w) { return w.who == who; });
    if (it == queue_.end()) return;
    bool was_first = it == queue_.begin();
    queue_.erase(it);
    if (was_first) then = next_to_wake();
  }
  if (then) then();
}

size_t MemoryBudget::used() const {
  std::lock_guard lock(mu_);
  return used_;
}

size_t MemoryBudget::peak() const {
  std::lock_guard lock(mu_);
  return peak_;
}

size_t MemoryBudget::waiting() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace zf::sched
