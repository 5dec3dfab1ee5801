#pragma once
// A fixed pool of worker threads running many jobs, so the process's
// thread count depends on its settings, not on how many accounts it serves.
// A job does a bounded piece of work (one page: fetch, shape, hand to the
// sinks) and says when it wants to run again; it never sleeps on a worker.
// A job never runs on two workers at once, so each source keeps its order.
// One-off tasks (a checkpoint write, a sink retry) share the same pool.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "core/source.h"

namespace zf::sched {

using SteadyTime = std::chrono::steady_clock::time_point;

// What a job wants next.
struct Next {
  enum class Kind { At, Parked, Finished };
  Kind kind = Kind::At;
  SteadyTime at{};  // for At

  static Next now() { return {Kind::At, std::chrono::steady_clock::now()}; }
  static Next in(std::chrono::milliseconds d) { return {Kind::At, std::chrono::steady_clock::now() + d}; }
  // Until wake(): waiting for something another thread signals (sink room).
  static Next parked() { return {Kind::Parked, {}}; }
  static Next finished() { return {Kind::Finished, {}}; }
};

// A job gets its worker's page buffer: the body and parser of the page it
// fetches live there, so their memory is per worker, not per account. What
// a step leaves there is dead once it returns; a worker that goes idle
// frees it (a busy one reuses it), so idle workers hold no page memory.
using Job = std::function<Next(PageBuffer&)>;

class Scheduler {
 public:
  using JobId = uint64_t;

  // `workers` threads, named "<name>-N" in /proc for operators.
  Scheduler(size_t workers, std::string name);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // A job first runs at `first`; it runs until it returns finished() or the
  // scheduler stops. `id_out` is set before the job can first run, so a
  // job that parks at once can already be woken by its id.
  JobId add(Job job, SteadyTime first, std::atomic<JobId>* id_out = nullptr);
  // Runs a parked or sleeping job as soon as a worker is free; a job running
  // now runs once more right after. Unknown or finished ids are ignored.
  void wake(JobId id);
  // One-off work, now or at a time.
  void post(std::function<void()> task) { post_at(std::chrono::steady_clock::now(), std::move(task)); }
  void post_at(SteadyTime when, std::function<void()> task);
  // Jobs not finished (running, sleeping or parked).
  size_t jobs() const;
  // Blocks until every job finished or `timeout` passed; true when all did.
  bool wait_all_finished(std::chrono::milliseconds timeout);
  // No job runs again; returns once the steps running now have returned.
  // Tasks posted afterwards still run (commits and acks while sinks close).
  void stop_jobs();
  size_t workers() const { return threads_.size(); }

 private:
  struct Entry {
    Job job;
    uint64_t version = 0;  // the queue item that counts; older ones are stale
    bool running = false;
    bool wake_pending = false;
    bool parked = false;
  };
  struct Item {
    SteadyTime when;
    uint64_t order;  // FIFO among equal times
    JobId job;       // 0 for a task
    uint64_t version;
    std::function<void()> task;
    bool operator>(const Item& o) const { return when != o.when ? when > o.when : order > o.order; }
  };

  void run_worker();
  void schedule(JobId id, Entry& e, SteadyTime when);  // under mu_

  mutable std::mutex mu_;
  std::condition_variable work_, finished_;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> queue_;
  std::map<JobId, Entry> jobs_;
  JobId next_id_ = 0;
  uint64_t order_ = 0;
  bool jobs_stopped_ = false;
  bool closing_ = false;
  size_t running_steps_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace zf::sched
