#include "pipeline/delivery.h"

#include <algorithm>
#include <atomic>

#include "log/logger.h"
#include "metrics/metrics.h"

namespace zf::pipeline {

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

std::vector<SinkRef> refs(const std::vector<NamedSink>& sinks) {
  std::vector<SinkRef> out;
  for (const auto& s : sinks) out.push_back({s.name, s.sink.get()});
  return out;
}

void close_all(std::vector<NamedSink>& sinks, std::chrono::milliseconds timeout) {
  std::vector<std::thread> closers;
  for (auto& s : sinks) closers.emplace_back([&s, timeout] { s.sink->close(timeout); });
  for (auto& t : closers) t.join();
}

Delivery::Delivery(std::vector<SinkRef> sinks, size_t max_inflight, std::chrono::milliseconds retry_initial,
                   std::chrono::milliseconds retry_max, Logger& log, Metrics& metrics,
                   std::function<void(const Commit&)> on_commit, sched::Scheduler* timers,
                   sched::MemoryBudget* budget)
    : sinks_(std::move(sinks)),
      max_inflight_(std::max<size_t>(1, max_inflight)),
      retry_initial_(retry_initial),
      retry_max_(retry_max),
      log_(log),
      metrics_(metrics),
      on_commit_(std::move(on_commit)),
      budget_(budget),
      alive_(std::make_shared<Alive>(this)),
      own_timers_(timers ? nullptr : std::make_unique<sched::Scheduler>(1, "zf-retry")),
      timers_(timers ? *timers : *own_timers_) {
  for (const auto& s : sinks_) sink_metrics_.push_back(&metrics_.sink(s.name));
}

Delivery::~Delivery() {
  stop_retries();
  std::lock_guard lock(alive_->mu);
  alive_->self = nullptr;
}

bool Delivery::has_room() const {
  std::lock_guard lock(mu_);
  return inflight_.size() < max_inflight_;
}

void Delivery::on_room(std::function<void()> callback) {
  std::lock_guard lock(mu_);
  on_room_ = std::move(callback);
}

size_t Delivery::inflight() const {
  std::lock_guard lock(mu_);
  return inflight_.size();
}

int64_t Delivery::newest_delivered_event_ms() const {
  std::lock_guard lock(mu_);
  return newest_delivered_event_ms_;
}

std::optional<std::string> Delivery::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

bool Delivery::superseded() const {
  std::lock_guard lock(mu_);
  return superseded_;
}

bool Delivery::wait_for_room(StopSignal& stop) {
  std::unique_lock lock(mu_);
  while (inflight_.size() >= max_inflight_ && !failure_ && !stop.requested())
    changed_.wait_for(lock, std::chrono::milliseconds(100));
  return !failure_ && !stop.requested();
}

void Delivery::dispatch(BatchPtr batch, BatchMeta meta) {
  uint64_t seq = batch->seq;
  // Nothing to ship (all duplicates, or an empty page): the position still
  // has to advance through the same in-order path, and through every sink
  // that keeps positions. Acknowledged without such a sink, a position
  // would be durable in the checkpoint file only; with Kafka exactly_once
  // the source then dropped a late read's id files that the topic's older
  // position, which a restart takes, still needed (#26 item 13).
  std::vector<bool> skipped(sinks_.size(), false);
  size_t targets = sinks_.size();
  if (batch->records.empty())
    for (size_t i = 0; i < sinks_.size(); ++i)
      if (!sinks_[i].sink->keeps_positions()) {
        skipped[i] = true;
        --targets;
      }
  {
    std::lock_guard lock(mu_);
    inflight_[seq] = InFlight{batch, meta, skipped, targets, false};
    metrics_.inflight_batches.Set(static_cast<double>(inflight_.size()));
  }
  if (targets == 0) {
    on_ack(SIZE_MAX, seq, 0, Ack{seq, DeliveryStatus::Delivered, ""});
    return;
  }
  for (size_t i = 0; i < sinks_.size(); ++i)
    if (!skipped[i]) send_to(i, batch, 0);
}

void Delivery::send_to(size_t sink_index, const BatchPtr& batch, int attempt) {
  sink_metrics_[sink_index]->inflight_batches.Increment();
  auto called = std::make_shared<std::atomic<bool>>(false);
  uint64_t seq = batch->seq;
  sinks_[sink_index].sink->send(batch, [this, sink_index, seq, attempt, called](Ack ack) {
    if (called->exchange(true)) {
      log_.error("sink acknowledged the same send twice; the second is ignored (a bug in the sink)",
                 {{"sink", sinks_[sink_index].name}, {"batch", seq}});
      return;
    }
    on_ack(sink_index, seq, attempt, std::move(ack));
  });
}

void Delivery::on_ack(size_t sink_index, uint64_t sent_seq, int attempt, Ack ack) {
  if (ack.seq != sent_seq) {
    log_.error("sink acknowledged a batch with another batch's seq; counted as a failed attempt (a bug in the sink)",
               {{"sink", sink_index == SIZE_MAX ? std::string("-") : sinks_[sink_index].name},
                {"batch", sent_seq},
                {"reported_seq", ack.seq}});
    ack = Ack{sent_seq, DeliveryStatus::Retriable, "acknowledged with seq " + std::to_string(ack.seq)};
  }
  std::function<void()> room;
  size_t freed = 0;
  {
    std::lock_guard lock(mu_);
    room = settle(sink_index, sent_seq, attempt, ack, freed);
    // Before drain() can see the batch gone: the bytes are free by then.
    if (budget_ && freed > 0) budget_->release(freed);
  }
  changed_.notify_all();
  if (room) room();
}

std::function<void()> Delivery::settle(size_t sink_index, uint64_t sent_seq, int attempt, const Ack& ack,
                                       size_t& freed) {
  auto it = inflight_.find(sent_seq);
  if (it == inflight_.end()) return nullptr;  // closed meanwhile
  InFlight& f = it->second;
  if (sink_index != SIZE_MAX) {
    SinkMetrics& sm = *sink_metrics_[sink_index];
    sm.inflight_batches.Decrement();
    const std::string& name = sinks_[sink_index].name;
    if (ack.status == DeliveryStatus::Delivered) {
      if (f.delivered[sink_index]) return nullptr;  // already counted
      f.delivered[sink_index] = true;
      sm.events_delivered.Increment(static_cast<double>(f.batch->records.size()));
      sm.last_delivery_ts.Set(now_seconds());
      --f.pending_sinks;
    } else {
      sm.events_failed.Increment(static_cast<double>(f.batch->records.size()));
      if (ack.status == DeliveryStatus::Permanent || ack.status == DeliveryStatus::Superseded) {
        if (!failure_) {
          failure_ = "sink \"" + name + "\" cannot deliver and retrying will not help: " + ack.error;
          superseded_ = ack.status == DeliveryStatus::Superseded;
        }
        log_.error("sink failed permanently; stopping without committing past this batch",
                   {{"sink", name}, {"batch", ack.seq}, {"error", ack.error}});
        return on_room_;  // a fetch stage waiting for room must learn it is over
      }
      if (!closing_) {
        std::chrono::milliseconds delay = std::min(retry_max_, retry_initial_ * (int64_t{1} << std::min(attempt, 20)));
        log_.warn("sink could not deliver a batch; it will be sent again",
                  {{"sink", name}, {"batch", ack.seq}, {"attempt", attempt + 1}, {"retry_in_ms", delay.count()},
                   {"error", ack.error}});
        sm.batches_retried.Increment();
        timers_.post_at(std::chrono::steady_clock::now() + delay, [alive = alive_, sink_index, seq = ack.seq, attempt] {
          std::lock_guard guard(alive->mu);
          if (alive->self) alive->self->retry(sink_index, seq, attempt + 1);
        });
      }
      return nullptr;
    }
  }
  if (f.pending_sinks == 0) f.done = true;
  // Commit the longest done prefix, in order.
  std::optional<Commit> commit;
  while (!inflight_.empty() && inflight_.begin()->second.done) {
    freed += inflight_.begin()->second.meta.bytes;
    if (!commit) commit.emplace();
    commit->seq = inflight_.begin()->first;
    for (const auto& [bucket, b] : inflight_.begin()->second.meta.ledger) commit->ledger[bucket].merge(b);
    commit->meta = std::move(inflight_.begin()->second.meta);
    commit->meta.ledger.clear();
    commit->events += commit->meta.events;
    newest_delivered_event_ms_ = std::max(newest_delivered_event_ms_, commit->meta.newest_event_ms);
    commit->received.push_back(commit->meta.received);
    inflight_.erase(inflight_.begin());
  }
  metrics_.inflight_batches.Set(static_cast<double>(inflight_.size()));
  // Under the lock, so that drain() returning means the committer has
  // been handed the last commit.
  if (!commit) return nullptr;
  on_commit_(*commit);
  return on_room_;
}

void Delivery::retry(size_t sink, uint64_t seq, int attempt) {
  BatchPtr batch;
  {
    std::lock_guard lock(mu_);
    auto it = inflight_.find(seq);
    if (closing_ || failure_ || it == inflight_.end()) return;
    batch = it->second.batch;
  }
  send_to(sink, batch, attempt);
}

bool Delivery::drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return inflight_.empty() || failure_.has_value(); }) &&
         !failure_;
}

void Delivery::stop_retries() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  changed_.notify_all();
}

}  // namespace zf::pipeline
