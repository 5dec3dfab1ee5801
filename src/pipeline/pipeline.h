#pragma once
// The run loop, in one place: fetch a page (the source has already dropped
// events it shipped before), shape its events, hand the batch to the
// sinks; repeat. Backpressure: when the sinks have max_inflight batches
// unacknowledged, the loop stops asking the source for pages. A pull source
// then just stops fetching; the webhook source cannot stop Zendesk sending,
// so it holds requests unanswered and answers 200 only once their page is
// committed, 503 with Retry-After when its queue is full or ack_timeout
// passes first (Zendesk retries those).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/stop_signal.h"
#include "enrich/enricher.h"
#include "normalize/normalizer.h"
#include "pipeline/delivery.h"
#include "core/clock.h"
#include "core/source.h"
#include "sched/memory_budget.h"
#include "sched/scheduler.h"

namespace zf {
class Logger;
class Metrics;
}  // namespace zf

namespace zf::pipeline {

struct RunSettings {
  bool once = false;
  std::string account;
  std::chrono::milliseconds shutdown_timeout{10'000};
  std::chrono::milliseconds progress_interval{10'000};
  std::string source;  // its configured name, carried by each batch
  // The process's bound on pages in flight (null: none), and what a page of
  // this source is reckoned to hold before the first one came.
  sched::MemoryBudget* budget = nullptr;
  size_t first_page_estimate_bytes = 1 << 20;
};

struct RunResult {
  bool ok = true;
  std::string error;             // why the run stopped, when !ok
  uint64_t pages = 0;
  uint64_t events_fetched = 0;
  uint64_t events_shipped = 0;   // handed to the sinks
  uint64_t duplicates = 0;
  uint64_t invalid = 0;
  bool drained = true;           // every shipped batch acknowledged at exit
  // When the loop stopped fetching: shutdown_timeout counts from here.
  std::chrono::steady_clock::time_point stopping_since;
};

class Pipeline {
 public:
  Pipeline(Source& source, const normalize::Normalizer& normalizer, Delivery& delivery, BatchNumbers& numbers,
           Logger& log, Metrics& metrics, StopSignal& stop, RunSettings settings,
           const Clock& clock = real_clock());
  // Runs the loop on the calling thread until the source is done or stop
  // is requested, then drains.
  RunResult run();

  // The same loop for a scheduler: one page per call, never sleeping.
  // `wake` makes the scheduler run this pipeline again (sink room or
  // memory freed). Once it returns finished(), result() says how it went;
  // drain with finish().
  sched::Next step(PageBuffer& buffer);
  void on_wake(std::function<void()> wake);
  // After the last step: waits for what is in flight (shutdown_timeout
  // counted by the caller: `timeout`) and returns the run's result.
  RunResult finish(std::chrono::milliseconds timeout);
  const RunResult& result() const { return result_; }
  // Between normalize and the sinks: names from the Users API. The
  // normalizer then leaves the ECS document to be made here, after the
  // names are in (`encode_ecs`).
  void enrich_with(enrich::Enricher* enricher, bool encode_ecs) {
    enricher_ = enricher;
    encode_ecs_after_enrich_ = encode_ecs;
  }

 private:
  BatchPtr shape(const SourcePage& page, uint64_t seq, BatchMeta& meta, RunResult& result);
  void ship(SourcePage& page, RunResult& result);
  sched::Next stopped();
  void report_progress(const SourcePage& page, const RunResult& result);

  Source& source_;
  const normalize::Normalizer& normalizer_;
  Delivery& delivery_;
  BatchNumbers& numbers_;
  Logger& log_;
  Metrics& metrics_;
  StopSignal& stop_;
  const Clock& clock_;
  RunSettings settings_;
  enrich::Enricher* enricher_ = nullptr;
  bool encode_ecs_after_enrich_ = false;
  std::chrono::steady_clock::time_point last_progress_{};
  int64_t progress_mark_s_ = 0;  // event time reached at the last progress line
  std::chrono::steady_clock::time_point progress_mark_at_{};
  // For step(): its running result, the memory reserved for the next page,
  // and the largest page so far (the next reservation).
  PollingSource* polling_ = nullptr;
  std::function<void()> wake_;
  RunResult result_;
  bool finished_ = false;
  size_t reserved_ = 0;
  size_t page_estimate_ = 0;
  uint64_t budget_id_ = 0;
};

}  // namespace zf::pipeline
