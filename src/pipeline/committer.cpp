#include "pipeline/committer.h"

#include "log/logger.h"
#include "metrics/metrics.h"

namespace zf::pipeline {

Committer::Committer(CheckpointStore& store, source::RecentIds& recent, std::string account, uint64_t events_before,
                     Logger& log, Metrics& metrics)
    : store_(store),
      recent_(recent),
      account_(std::move(account)),
      log_(log),
      metrics_(metrics),
      events_total_(events_before),
      thread_([this] { loop(); }) {}

Committer::~Committer() { finish(); }

void Committer::submit(const Commit& commit) {
  {
    std::lock_guard lock(mu_);
    // A commit arriving before the previous one was written replaces it:
    // the newer position covers the older pages too.
    events_total_ += commit.events;
    uncommitted_pages_.insert(uncommitted_pages_.end(), commit.received.begin(), commit.received.end());
    pending_ = commit;
    pending_->events_total = events_total_;
  }
  cv_.notify_one();
}

void Committer::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return pending_.has_value() || stopping_; });
    if (!pending_) return;
    Commit c = *pending_;
    pending_.reset();
    lock.unlock();
    write(c);
    lock.lock();
  }
}

void Committer::write(const Commit& c) {
  Checkpoint cp;
  cp.account = account_;
  cp.position = c.meta.after;
  cp.recent_ids = recent_.snapshot(c.seq);
  cp.committed_at_s =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  cp.events_delivered = c.events_total;
  try {
    store_.save(cp);
  } catch (const std::exception& e) {
    metrics_.checkpoint_failures.Increment();
    log_.error("checkpoint write failed; delivery goes on and the next commit retries",
               {{"error", e.what()}, {"path", store_.path()}});
    return;
  }
  // Ids older than the committed window start are never re-read, by this
  // process or by one resuming from this checkpoint.
  recent_.forget_before(c.meta.after.window_start);
  auto done = std::chrono::steady_clock::now();
  metrics_.checkpoint_commits.Increment();
  double now_s = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  metrics_.checkpoint_last_commit_ts.Set(now_s);
  if (c.meta.newest_event_ms > 0 &&
      c.meta.newest_event_ms / 1000.0 > metrics_.newest_delivered_event_ts.Value())
    metrics_.newest_delivered_event_ts.Set(c.meta.newest_event_ms / 1000.0);
  std::lock_guard lock(mu_);
  for (auto t : uncommitted_pages_) {
    double ms = std::chrono::duration<double, std::milli>(done - t).count();
    latencies_ms_.push_back(ms);
    metrics_.page_commit_latency.Observe(ms / 1000.0);
  }
  uncommitted_pages_.clear();
}

void Committer::finish() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::vector<double> Committer::latency_samples() const {
  std::lock_guard lock(mu_);
  return latencies_ms_;
}

uint64_t Committer::events_committed() const {
  std::lock_guard lock(mu_);
  return events_total_;
}

}  // namespace zf::pipeline
