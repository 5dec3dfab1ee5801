#include "pipeline/committer.h"

#include "log/logger.h"
#include "metrics/metrics.h"

namespace zf::pipeline {

namespace {
// The samples feed the exit summary's percentiles; a process that runs for
// months keeps the newest ones only, and few of them: a thousand sources
// each keeping 100,000 held 2.4 GB (the histograms have the long view), and
// 1,024 of each were still 24 KiB per source once an idle account had
// committed that often (about 8 hours), more than half of what the rest of
// an idle account costs.
template <typename T>
void push_bounded(std::vector<T>& v, T sample) {
  constexpr size_t kMax = 256;
  if (v.size() >= kMax) v.erase(v.begin(), v.begin() + kMax / 2);
  v.push_back(sample);
}
}  // namespace

Committer::Committer(Persist persist, std::string where, Logger& log, Metrics& metrics, const Clock& clock,
                     sched::Scheduler* pool)
    : persist_(std::move(persist)),
      where_(std::move(where)),
      log_(log),
      metrics_(metrics),
      clock_(clock),
      own_pool_(pool ? nullptr : std::make_unique<sched::Scheduler>(1, "zf-commit")),
      pool_(pool ? *pool : *own_pool_) {}

Committer::~Committer() { finish(); }

void Committer::submit(const Commit& commit) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    // A commit arriving before the previous one was written replaces it:
    // the newer token covers the older pages too.
    uncommitted_pages_.insert(uncommitted_pages_.end(), commit.received.begin(), commit.received.end());
    for (const auto& [bucket, b] : commit.ledger) unwritten_ledger_[bucket].merge(b);
    if (pending_) {
      pending_->seq = commit.seq;
      pending_->meta = commit.meta;
    } else {
      pending_ = commit;
      pending_->ledger.clear();  // unwritten_ledger_ holds it
    }
    if (writing_) return;  // the running write_pending() takes it next
    writing_ = true;
  }
  pool_.post([this] { write_pending(); });
}

void Committer::keep_ledger(const std::string& path) { ledger_ = std::make_unique<source::DeliveryLedger>(path); }

void Committer::write_pending() {
  std::unique_lock lock(mu_);
  while (pending_) {
    Commit c = *pending_;
    pending_.reset();
    // What this write makes durable: every commit submitted so far.
    c.ledger = std::move(unwritten_ledger_);
    unwritten_ledger_.clear();
    lock.unlock();
    write(c);
    lock.lock();
  }
  writing_ = false;
  cv_.notify_all();
}

void Committer::write(const Commit& c) {
  CommitCost cost;
  try {
    cost = persist_(c.meta.source_token);
  } catch (const std::exception& e) {
    metrics_.checkpoint_failures.Increment();
    std::lock_guard lock(mu_);
    // The next write covers these pages again; their ledger goes with it.
    for (const auto& [bucket, b] : c.ledger) unwritten_ledger_[bucket].merge(b);
    ++failures_;
    last_write_ok_ = false;
    log_.error("checkpoint write failed; delivery goes on and the next commit retries",
               {{"error", e.what()}, {"path", where_}});
    return;
  }
  auto done = std::chrono::steady_clock::now();
  // After the position: a crash in between leaves the ledger short, which
  // only makes verify read the sinks for those minutes, never report too much.
  if (ledger_ && !c.ledger.empty()) {
    try {
      ledger_->append(c.ledger);
    } catch (const std::exception& e) {
      log_.warn("delivery ledger not updated; verify --ledger will read the sinks for these minutes",
                {{"error", e.what()}, {"path", where_}});
    }
  }
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
  std::unique_lock lock(mu_);
  stopping_ = true;
  cv_.wait(lock, [&] { return !writing_; });
  if (!pending_) return;
  // Submitted before the stop and not yet written: write it here.
  writing_ = true;
  lock.unlock();
  write_pending();
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
