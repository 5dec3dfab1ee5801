#pragma once
// One per source, so one source's stuck batch never holds back another's
// commits. Fans each batch out to every sink and turns their acknowledgements, in
// batch order, into commits: a batch is done when every sink said
// Delivered, and the checkpoint may move to a batch only when it and every
// batch before it are done (libbeat's cursor-on-ack). Retriable failures
// are re-sent to the sink that failed, after a capped backoff; a Permanent
// failure stops the pipeline with the sink's message and nothing after
// that batch is ever committed.
//
// The acker does not trust sinks: each send's callback counts once (a
// second call is ignored), an ack must carry the seq that was sent (a
// wrong one counts as a failed attempt and the batch is sent again), and
// each (batch, sink) pair is counted Delivered at most once.
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

#include "core/sink.h"
#include "core/stop_signal.h"
#include "proof/delivery_ledger.h"
#include "sched/memory_budget.h"
#include "sched/scheduler.h"

namespace zf {
class Logger;
class Metrics;
struct SinkMetrics;
}  // namespace zf

namespace zf::pipeline {

// What a committed batch means for the checkpoint.
struct BatchMeta {
  uint64_t source_token = 0;  // the source's token for this batch's page (its commit position)
  int64_t newest_event_ms = 0;
  size_t events = 0;
  size_t bytes = 0;  // held until every sink acknowledged it (the memory budget's unit)
  source::Ledger ledger;  // its records with an id, by minute of event time (what verify --ledger trusts)
  std::chrono::steady_clock::time_point received;  // when its page body arrived
};

// The newest batch of a done prefix, standing for all of them.
struct Commit {
  uint64_t seq = 0;
  BatchMeta meta;        // of the newest batch
  size_t events = 0;     // in every batch of the prefix
  uint64_t events_total = 0;  // cumulative, set by the committer on submit
  source::Ledger ledger;      // of every batch of the prefix
  std::vector<std::chrono::steady_clock::time_point> received;  // one per batch of the prefix
};

// Batch numbers: unique in the process, because sinks key their in-flight
// batches by them, and increasing within each source, because its acker
// commits in that order.
class BatchNumbers {
 public:
  uint64_t next() { return ++last_; }

 private:
  std::atomic<uint64_t> last_{0};
};

// The process owns its sinks; every source's Delivery sends to the same ones.
struct NamedSink {
  std::string name;
  std::unique_ptr<Sink> sink;
};
struct SinkRef {
  std::string name;
  Sink* sink;
};
std::vector<SinkRef> refs(const std::vector<NamedSink>& sinks);
// Closes every sink at once, each in its own thread: one sink stuck on its
// network must not use up the others' time. Returns by `timeout` (+ joins).
void close_all(std::vector<NamedSink>& sinks, std::chrono::milliseconds timeout);

class Delivery {
 public:
  // `timers`: where retries are sent from (null: a pool of its own, one
  // thread); `budget`: told the bytes of each batch once it is done.
  Delivery(std::vector<SinkRef> sinks, size_t max_inflight, std::chrono::milliseconds retry_initial,
           std::chrono::milliseconds retry_max, Logger& log, Metrics& metrics,
           std::function<void(const Commit&)> on_commit, sched::Scheduler* timers = nullptr,
           sched::MemoryBudget* budget = nullptr);
  ~Delivery();

  // Blocks while max_inflight batches are unacknowledged (backpressure on
  // the fetch stage). False when stopping or after a permanent failure.
  bool wait_for_room(StopSignal& stop);
  // The same without blocking, for a scheduled fetch stage: `on_room` is
  // called (from an acknowledging thread) whenever a batch is done.
  bool has_room() const;
  void on_room(std::function<void()> callback);
  void dispatch(BatchPtr batch, BatchMeta meta);
  // Waits until every dispatched batch is committed; false on timeout or failure.
  bool drain(std::chrono::milliseconds timeout);
  // Set once a sink failed permanently: the message for the operator.
  std::optional<std::string> failure() const;
  // The failure is a sink's Superseded: another writer took over.
  bool superseded() const;
  // Stops retries. Acks that still arrive (while the sinks close) commit.
  void stop_retries();
  size_t inflight() const;
  // Event time (unix ms) of the newest event in a batch every sink delivered.
  int64_t newest_delivered_event_ms() const;

 private:
  struct InFlight {
    BatchPtr batch;
    BatchMeta meta;
    std::vector<bool> delivered;  // per sink
    size_t pending_sinks = 0;
    bool done = false;
  };

  void send_to(size_t sink_index, const BatchPtr& batch, int attempt);
  void on_ack(size_t sink_index, uint64_t sent_seq, int attempt, Ack ack);
  // on_ack's bookkeeping, under mu_: returns on_room_ when a fetch stage
  // waiting for room should look again, and adds the bytes of batches done.
  std::function<void()> settle(size_t sink_index, uint64_t sent_seq, int attempt, const Ack& ack, size_t& freed);
  void retry(size_t sink, uint64_t seq, int attempt);

  std::vector<SinkRef> sinks_;
  std::vector<SinkMetrics*> sink_metrics_;
  const size_t max_inflight_;
  const std::chrono::milliseconds retry_initial_, retry_max_;
  Logger& log_;
  Metrics& metrics_;
  std::function<void(const Commit&)> on_commit_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::map<uint64_t, InFlight> inflight_;
  std::optional<std::string> failure_;
  bool superseded_ = false;
  int64_t newest_delivered_event_ms_ = 0;
  bool closing_ = false;
  std::function<void()> on_room_;
  sched::MemoryBudget* budget_;
  // Retries posted to the pool hold this, not the Delivery: one that fires
  // after the Delivery is gone finds `self` null.
  struct Alive {
    explicit Alive(Delivery* d) : self(d) {}
    std::mutex mu;
    Delivery* self;
  };
  std::shared_ptr<Alive> alive_;
  std::unique_ptr<sched::Scheduler> own_timers_;
  sched::Scheduler& timers_;
};

}  // namespace zf::pipeline
