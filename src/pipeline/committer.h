#pragma once
// Writes the checkpoint for the newest commit on its own thread, so slow
// disks never hold up acknowledgements; commits arriving while a write is
// under way are coalesced into the next write.
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "pipeline/checkpoint.h"
#include "pipeline/delivery.h"
#include "source/recent_ids.h"

namespace zf {
class Logger;
class Metrics;
}  // namespace zf

namespace zf::pipeline {

class Committer {
 public:
  Committer(CheckpointStore& store, source::RecentIds& recent, std::string account, uint64_t events_before,
            Logger& log, Metrics& metrics);
  ~Committer();

  void submit(const Commit& commit);
  // Writes whatever is pending and stops the thread.
  void finish();
  // Milliseconds from page body received to its checkpoint committed, one
  // sample per committed batch.
  std::vector<double> latency_samples() const;
  uint64_t events_committed() const;

 private:
  void loop();
  void write(const Commit& c);

  CheckpointStore& store_;
  source::RecentIds& recent_;
  std::string account_;
  Logger& log_;
  Metrics& metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Commit> pending_;
  bool stopping_ = false;
  uint64_t events_total_;
  std::vector<std::chrono::steady_clock::time_point> uncommitted_pages_;
  std::vector<double> latencies_ms_;
  std::thread thread_;
};

}  // namespace zf::pipeline
