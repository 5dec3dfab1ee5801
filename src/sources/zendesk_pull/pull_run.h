#pragma once
// A zendesk_pull source run: the Access Logs API polled on the shared fetch
// workers, a page per step, with its checkpoint.
#include <atomic>
#include <future>
#include <memory>

#include "enrich/enricher.h"
#include "normalize/normalizer.h"
#include "pipeline/committer.h"
#include "sources/recent_ids.h"
#include "sources/run.h"
#include "sources/zendesk_pull/pull_checkpoint.h"
#include "sources/zendesk_pull/pull_config.h"
#include "sources/zendesk_pull/pull_metrics.h"
#include "sources/zendesk_pull/request_journal.h"
#include "sources/zendesk_pull/skip_pushed.h"

namespace zf::source {

struct PullRun final : Run {
  // `pushed`: what the push source named by dedup_with delivered (or null).
  // `coordinated`: the run stops when revoked (its own signal), not with
  // the process.
  PullRun(const PullSourceConfig& c, RunContext& ctx, std::shared_ptr<RecentIds> pushed, bool coordinated = false);

  // The pages the loop ships and the commits they come back to.
  PollingSource& shipped_from() { return skip_pushed ? static_cast<PollingSource&>(*skip_pushed) : source; }

  // The loop runs on the shared fetch workers from `first` on, a page per
  // step; a step that fails stops the process, as a failing thread did.
  void start(sched::SteadyTime first, std::function<bool()> may_poll) override;
  void revoke() override;
  void wait_revoked() override { finished.wait(); }
  sched::SteadyTime join(sched::SteadyTime jobs_stopped) override { return jobs_stopped; }
  void finish_loop(std::chrono::milliseconds left) override;
  void stop_retries() override { delivery.stop_retries(); }
  void tick(int64_t now_ms) override;
  bool finish() override;
  // Coordination: its account's next owner fenced this run's sink, so it
  // stopped without stopping the process.
  bool moved() const;

  RunContext& ctx;
  const bool coordinated;
  // Coordination: a revoked source stops alone; else the process's stop.
  StopSignal revoked;
  StopSignal& loop_stop;
  const PullSourceConfig& config;
  Logger log;
  Metrics metrics;
  PullMetrics pull_metrics;
  PullCheckpoint store;
  net::HttpClient http;
  RequestJournal journal;  // when the budget's last requests were sent
  RateLimiter limiter;
  AccessLogSource source;
  std::unique_ptr<SkipPushed> skip_pushed;  // when dedup_with names a push source
  pipeline::Committer committer;
  // Its own sinks (ctx.sinks_for), built before its position is read: their
  // transactions fence the account's last owner first. Else the process's.
  std::vector<pipeline::NamedSink> own_sinks;
  pipeline::Delivery delivery;
  std::unique_ptr<enrich::Enricher> enricher;  // when enrich.users
  normalize::Normalizer normalizer;
  pipeline::Pipeline loop;
  std::shared_ptr<std::atomic<sched::Scheduler::JobId>> job = std::make_shared<std::atomic<sched::Scheduler::JobId>>(0);
  std::shared_ptr<std::promise<void>> done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::chrono::steady_clock::time_point started;
};

}  // namespace zf::source
