#pragma once
// Makes commits durable off the acknowledging thread, on a pool shared by
// every source's committer (or its own one-thread pool), so slow disks never
// hold up acknowledgements; commits arriving while a write is under way are
// coalesced into the next one, and one committer never writes on two
// threads at once. What "durable" means belongs to the source
// (its checkpoint); the committer only orders, times and counts it.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/commit_cost.h"
#include "pipeline/delivery.h"
#include "sched/scheduler.h"

namespace zf {
class Logger;
class Metrics;
}  // namespace zf

namespace zf::pipeline {

// Makes everything up to the source token durable; throws with the failing
// step (the committer logs it and the next commit retries).
using Persist = std::function<CommitCost(uint64_t source_token)>;

class Committer {
 public:
  // `pool`: where writes run (null: a pool of its own, one thread).
  Committer(Persist persist, std::string where, Logger& log, Metrics& metrics, const Clock& clock = real_clock(),
            sched::Scheduler* pool = nullptr);
  ~Committer();

  void submit(const Commit& commit);
  // Appends each durable commit's ledger to this file (the proof's record of
  // what every sink acknowledged, read by verify --ledger).
  void keep_ledger(const std::string& path);
  // Writes whatever is pending; later submits are ignored.
  void finish();
  // Milliseconds from page body received to its checkpoint committed, one
  // sample per committed batch.
  std::vector<double> latency_samples() const;
  // One sample per successful write.
  std::vector<CommitCost> write_costs() const;
  uint64_t failures() const;
  // False when the newest write failed: what was delivered since the last
  // good write would be fetched and shipped again after a restart.
  bool last_write_ok() const;
  // Unix ms of the last successful write, 0 before the first.
  int64_t last_commit_ms() const { return last_commit_ms_; }

 private:
  void write_pending();  // on the pool, while commits keep coming
  void write(const Commit& c);

  Persist persist_;
  std::string where_;
  Logger& log_;
  Metrics& metrics_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Commit> pending_;
  source::Ledger unwritten_ledger_;  // of the commits submitted and not yet durable
  std::unique_ptr<source::DeliveryLedger> ledger_;
  bool stopping_ = false;
  bool writing_ = false;  // a write_pending() is posted or running
  std::vector<std::chrono::steady_clock::time_point> uncommitted_pages_;
  std::vector<double> latencies_ms_;
  std::vector<CommitCost> costs_;
  uint64_t failures_ = 0;
  bool last_write_ok_ = true;
  std::atomic<int64_t> last_commit_ms_{0};
  int64_t newest_event_ms_ = 0;  // the writing thread's
  std::unique_ptr<sched::Scheduler> own_pool_;
  sched::Scheduler& pool_;
};

}  // namespace zf::pipeline
