#include "pipeline/committer.h"

#include "log/logger.h"
#include "metrics/metrics.h"

namespace zf::pipeline {

namespace {
// The samples feed the exit summary's percentiles; a process that runs for
// months keeps the newest ones only.
template <typename T>
void push_bounded(std::vector<T>& v, T sample) {
  constexpr size_t kMax = 100'000;
  if (v.size() >= kMax) v.erase(v.begin(), v.begin() + kMax / 2);
  v.push_back(sample);
}
}  // namespace

Committer::Committer(Persist persist, std::string where, Logger& log, Metrics& metrics, const Clock& clock)
    : persist_(std::move(persist)),
      where_(std::move(where)),
      log_(log),
      metrics_(metrics),
      clock_(clock),
      thread_([this] { loop(); }) {}

Committer::~Committer() { finish(); }

void Committer::submit(const Commit& commit) {
  {
    std::lock_guard lock(mu_);
    // A commit arriving before the previous one was written replaces it:
    // the newer token covers the older pages too.
    uncommitted_pages_.insert(uncommitted_pages_.end(), commit.received.begin(), commit.received.end());
    if (pending_) {
      pending_->seq = commit.seq;
      pending_->meta = commit.meta;
    } else {
      pending_ = commit;
    }
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
  CommitCost cost;
  try {
    cost = persist_(c.meta.source_token);
  } catch (const std::exception& e) {
    metrics_.checkpoint_failures.Increment();
    std::lock_guard lock(mu_);
    ++failures_;
    last_write_ok_ = false;
    log_.error("checkpoint write failed; delivery goes on and the next commit retries",
               {{"error", e.what()}, {"path", where_}});
    return;
  }
  auto done = std::chrono::steady_clock::now();
  metrics_.checkpoint_commits.Increment();
  metrics_.checkpoint_write_duration.Observe(cost.ms / 1000.0);
  metrics_.checkpoint_write_bytes.Observe(static_cast<double>(cost.bytes));
  int64_t now_ms = clock_.now_ms();
  last_commit_ms_ = now_ms;
  metrics_.checkpoint_last_commit_ts.Set(now_ms / 1000.0);
  if (c.meta.newest_event_ms > newest_event_ms_) {
    newest_event_ms_ = c.meta.newest_event_ms;
    metrics_.newest_delivered_event_ts.Set(newest_event_ms_ / 1000.0);
  }
  std::lock_guard lock(mu_);
  last_write_ok_ = true;
  push_bounded(costs_, cost);
  for (auto t : uncommitted_pages_) {
    double ms = std::chrono::duration<double, std::milli>(done - t).count();
    push_bounded(latencies_ms_, ms);
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

std::vector<CommitCost> Committer::write_costs() const {
  std::lock_guard lock(mu_);
  return costs_;
}

uint64_t Committer::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

bool Committer::last_write_ok() const {
  std::lock_guard lock(mu_);
  return last_write_ok_;
}

}  // namespace zf::pipeline
