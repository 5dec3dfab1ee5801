#pragma once
// How the forwarder runs a source of any type: its chain from fetch to
// commit (source, normalizer, delivery, committer), its health and its end.
// Each type's folder holds its Run (zendesk_pull/pull_run.*,
// zendesk_webhook/push_run.*); app/forwarder.cpp only starts and stops them.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/sink.h"
#include "log/logger.h"
#include "metrics/http_endpoint.h"
#include "metrics/metrics.h"
#include "pipeline/delivery.h"
#include "pipeline/pipeline.h"
#include "sched/memory_budget.h"
#include "sched/scheduler.h"

namespace zf::source {

// What every run of the process shares: the sinks, the batch numbers, the
// threads and the memory bound, and the pipeline's settings (`pipeline:`).
struct RunContext {
  const std::vector<pipeline::NamedSink>& sinks;
  // When set, each polled run ships to sinks of its own, built with this
  // for its source name: with coordination and exactly_once, each account
  // has its own transactional id, so its next owner fences the last one.
  std::function<std::vector<pipeline::NamedSink>(const std::string& source)> sinks_for;
  // Sinks that keep sources' positions (Kafka exactly_once), by sink name.
  std::vector<std::pair<std::string, PositionReader>> position_keepers;
  pipeline::BatchNumbers& numbers;
  ProcessMetrics& process;
  Logger& log;
  StopSignal& stop;
  bool once;
  const Clock& clock;
  // Fetch workers (pull sources' steps), and a small pool for checkpoint
  // writes and sink retries, so a slow disk or a retry never waits behind
  // a page request. With the process's bound on pages in flight.
  sched::Scheduler& fetchers;
  sched::Scheduler& commits;
  sched::MemoryBudget& budget;
  size_t max_inflight_batches;  // per source
  std::chrono::milliseconds sink_retry_initial, sink_retry_max;
  std::chrono::milliseconds shutdown_timeout, progress_interval;
  bool needs_ecs;  // some sink encodes ECS: the normalizer keeps what it needs
};

// One source's chain. Only the sinks and the threads are shared, so a
// source whose batches are stuck never holds back another source's commits.
struct Run {
  explicit Run(std::string source_name) : name(std::move(source_name)) {}
  virtual ~Run() = default;
  // Starts fetching or listening: a polled source's first step at `first`
  // on the fetch workers (`may_poll`, coordination: asked before each step;
  // while it refuses, nothing is sent), a push source on its own thread.
  virtual void start(sched::SteadyTime first, std::function<bool()> may_poll) = 0;
  // Coordination's revoke: asks this run alone to stop fetching, then waits
  // until it has. Only polled runs are coordinated.
  virtual void revoke() = 0;
  virtual void wait_revoked() = 0;
  // Once the process stopped fetching (`jobs_stopped`: the fetch workers'
  // jobs ended): joins what the run started; returns when it stopped
  // fetching, from when shutdown_timeout counts.
  virtual sched::SteadyTime join(sched::SteadyTime jobs_stopped) = 0;
  // Waits up to `left` for what is in flight.
  virtual void finish_loop(std::chrono::milliseconds left) = 0;
  virtual void stop_retries() = 0;
  virtual void tick(int64_t now_ms) = 0;
  // Once every source stopped and the sinks closed: the commits acks made
  // during close are written, and the run is summed up.
  virtual bool finish() = 0;

  std::string name;
  HealthState health;
  pipeline::RunResult result;
  double seconds = 0;
};

}  // namespace zf::source
