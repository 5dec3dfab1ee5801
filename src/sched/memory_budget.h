#pragma once
// One bound on the memory of the process while pages are in flight across
// every source: a source reserves what its next page may bring before it
// asks the API, and its batch's bytes are released once every sink
// acknowledged it.
//
// With a heap meter (the allocator's resident bytes) the bound covers the
// whole heap: a page is fetched only while what the allocator holds now,
// plus what the fetches under way may still bring, fits under it. Counting
// the pages alone left everything else outside the bound (each account's
// fixed state, a page's body and parsed document, freed pages the
// allocator has not returned yet): 150 MiB above a 128 MiB bound at 1,000
// accounts. Without a meter only the reservations are counted.
//
// Fairness: a source refused for lack of room queues, and room that frees
// goes to the queue in arrival order, so while many accounts catch up each
// gets a page in turn and none starves; a source is always let through when
// nothing at all is reserved or in flight, so an estimate (or fixed state)
// larger than the bound cannot stall the process.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

namespace zf::sched {

// What the allocator holds in RAM right now; nullopt when it cannot say.
using HeapMeter = std::function<std::optional<size_t>()>;

class MemoryBudget {
 public:
  explicit MemoryBudget(size_t limit_bytes, HeapMeter heap = {}) : limit_(limit_bytes), heap_(std::move(heap)) {}

  enum class Answer {
    Reserved,
    Wait,   // queued: `wake` is called once it is its turn, and it should ask again
    Retry,  // first in line but the heap is full: ask again shortly (freed
            // pages return to the system on the allocator's clock, not on a release)
  };
  // Reserves `bytes` (the records a page may bring) for `who` (a source's id).
  Answer try_reserve(uint64_t who, size_t bytes, std::function<void()> wake);
  // A reservation turned into what the page really holds.
  void adjust(size_t reserved, size_t actual);
  // A reservation not used (nothing fetched, or the source stopped).
  void cancel(size_t reserved);
  // A batch acknowledged by every sink.
  void release(size_t bytes);
  // `who` stops asking (its source was stopped or handed to another
  // replica): out of the queue, or the ones behind it would wait forever.
  void withdraw(uint64_t who);

  size_t used() const;
  size_t peak() const;
  size_t waiting() const;
  size_t limit() const { return limit_; }
  std::optional<size_t> heap() const { return heap_ ? heap_() : std::nullopt; }

  // A fetch under way holds its page's body and parsed document besides
  // the records it will bring; counting its reservation twice covers them
  // (a 2,500-event page: body 0.7 MB, a parse touching 2-3 MB of fresh
  // memory, records reserved at up to page_size x 3 KiB).
  static constexpr size_t kFetchFactor = 2;

 private:
  struct Waiter {
    uint64_t who;
    std::function<void()> wake;
  };
  bool fits(size_t bytes) const;         // under mu_
  std::function<void()> next_to_wake();  // under mu_: the head's wake if room may fit it

  const size_t limit_;
  const HeapMeter heap_;
  mutable std::mutex mu_;
  size_t used_ = 0;     // reserved and in flight
  size_t pending_ = 0;  // of which reserved for fetches under way, times kFetchFactor
  size_t peak_ = 0;
  std::deque<Waiter> queue_;
};

}  // namespace zf::sched
