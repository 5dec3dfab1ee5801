#pragma once
// One bound on the bytes of pages in flight across every source of the
// process: a source reserves what its next page may bring before it asks the
// API, and its batch's bytes are released once every sink acknowledged it.
// Fairness: a source refused for lack of room queues, and room that frees
// goes to the queue in arrival order, so while many accounts catch up each
// gets a page in turn and none starves; a source with nothing in flight is
// always let through when nothing at all is reserved, so an estimate larger
// than the bound cannot stall the process.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

namespace zf::sched {

class MemoryBudget {
 public:
  explicit MemoryBudget(size_t limit_bytes) : limit_(limit_bytes) {}

  // Reserves `bytes` for `who` (a source's id) or, when they do not fit or
  // others wait first, queues `who` and returns false: `wake` is called
  // once it is its turn, and it should ask again.
  bool try_reserve(uint64_t who, size_t bytes, std::function<void()> wake);
  // A reservation turned into what the page really holds.
  void adjust(size_t reserved, size_t actual);
  void release(size_t bytes);
  // `who` stops asking (its source was stopped or handed to another
  // replica): out of the queue, or the ones behind it would wait forever.
  void withdraw(uint64_t who);

  size_t used() const;
  size_t peak() const;
  size_t waiting() const;
  size_t limit() const { return limit_; }

 private:
  struct Waiter {
    uint64_t who;
    std::function<void()> wake;
  };
  std::function<void()> next_to_wake();  // under mu_: the head's wake if room may fit it

  const size_t limit_;
  mutable std::mutex mu_;
  size_t used_ = 0;
  size_t peak_ = 0;
  std::deque<Waiter> queue_;
};

}  // namespace zf::sched
