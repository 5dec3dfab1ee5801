#include "app/forwarder.h"

#include <malloc.h>

#include <algorithm>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unistd.h>

#include "coord/coord_metrics.h"
#include "coord/coordinator.h"
#include "core/errors.h"
#include "metrics/http_endpoint.h"
#include "metrics/metrics.h"
#include "normalize/normalizer.h"
#include "pipeline/committer.h"
#include "pipeline/delivery.h"
#include "pipeline/pipeline.h"
#include "sched/memory_budget.h"
#include "sched/scheduler.h"
#include "source/pull_checkpoint.h"
#include "source/pull_metrics.h"
#include "source/skip_pushed.h"

namespace zf::app {

namespace {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

std::vector<pipeline::NamedSink> build_sinks(const AppConfig& config, Logger& log, ProcessMetrics& metrics) {
  std::vector<pipeline::NamedSink> sinks;
  std::string sources;
  for (const auto& c : config.sources) sources += (sources.empty() ? "" : "+") + c.name;
  // With coordination every replica has the same sources: the default
  // transactional id would make them fence each other. One per replica
  // (its host name) keeps them apart; it does not fence a zombie owner of
  // an account (that needs an id per account: #30, docs/KAFKA.md).
  if (config.coordination.enabled) {
    char host[256] = {};
    const char* env = std::getenv("HOSTNAME");
    std::string replica = env && *env ? env : (gethostname(host, sizeof host - 1) == 0 ? host : "replica");
    sources += "@" + replica + "-" + std::to_string(getpid());
  }
  for (const auto& s : config.sinks) {
    SinkContext ctx{s.name, log, metrics.registry(), sources};
    try {
      sinks.push_back({s.name, s.build(ctx)});
    } catch (const std::exception& e) {
      throw FatalError("cannot start sink \"" + s.name + "\" (" + s.type + "): " + e.what());
    }
  }
  return sinks;
}

bool needs_ecs(const AppConfig& config) {
  return std::any_of(config.sinks.begin(), config.sinks.end(),
                     [](const auto& s) { return s.encoding == encode::Encoding::EcsJson; });
}

// The threads every pull source shares: fetch workers, and a small pool
// for checkpoint writes and sink retries (so a slow disk or a retry never
// waits behind a page request). With the process's bound on pages in flight.
struct Shared {
  sched::Scheduler& fetchers;
  sched::Scheduler& commits;
  sched::MemoryBudget& budget;
};

// One source's chain: its fetch and position, its ordered acker and its
// committer. Only the sinks and the threads are shared, so a source whose
// batches are stuck never holds back another source's commits.
struct Run {
  explicit Run(std::string source_name) : name(std::move(source_name)) {}
  virtual ~Run() = default;
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

// A zendesk_pull source: the Access Logs API, polled, with a checkpoint.
struct SourceRun final : Run {
  // `pushed`: what the push source named by dedup_with delivered (or null).
  SourceRun(const PullSourceConfig& c, const AppConfig& app, std::vector<pipeline::SinkRef> sinks,
            pipeline::BatchNumbers& numbers, ProcessMetrics& process, Logger& parent_log, StopSignal& stop,
            bool once, const Clock& clock, std::shared_ptr<source::RecentIds> pushed, Shared shared,
            bool coordinated = false)
      : Run(c.name),
        loop_stop(coordinated ? revoked : stop),
        config(c),
        log(parent_log, {{"source", c.name}}),
        metrics(process, c.name, c.account),
        pull_metrics(process, c.name, c.account),
        store(c.checkpoint_path),
        http(c.http),
        journal(c.checkpoint_path + ".requests", c.rate_limit_requests),
        // A small margin on every budget wait: the server stamps arrivals a
        // little after we stamp sends.
        limiter(c.rate_limit_requests, c.rate_limit_period,
                std::max(std::chrono::milliseconds(20), c.rate_limit_period / 500)),
        source(c.source, http, limiter, store, log, pull_metrics, loop_stop, clock),
        skip_pushed(pushed ? std::make_unique<source::SkipPushed>(source, pushed, pull_metrics) : nullptr),
        // Through the same Source the loop reads: SkipPushed's commit adds
        // the ids pull shipped to push's delivered set.
        committer([this](uint64_t token) { return shipped_from().commit(token); }, c.checkpoint_path, log, metrics,
                  clock, &shared.commits),
        delivery(std::move(sinks), app.max_inflight_batches, app.sink_retry_initial, app.sink_retry_max, log, metrics,
                 [this](const pipeline::Commit& commit) { committer.submit(commit); }, &shared.commits,
                 &shared.budget),
        enricher(c.enrich_users ? std::make_unique<enrich::Enricher>(*c.enrich_users, log, pull_metrics, loop_stop) : nullptr),
        normalizer({c.account, c.keep_original, needs_ecs(app) && !enricher}),
        loop(shipped_from(), normalizer, delivery, numbers, log, metrics, loop_stop,
             {once, c.account, app.shutdown_timeout, app.progress_interval, c.name, &shared.budget,
              // A full page of records (event and document about 3 KiB each)
              // until pages say otherwise.
              static_cast<size_t>(c.source.page_size) * 3072},
             clock) {
    if (enricher) loop.enrich_with(enricher.get(), needs_ecs(app));
    committer.keep_ledger(c.checkpoint_path + ".ledger");
    // A restart within the period starts with what the last process left
    // of the budget, not a full one: the API counted its requests too.
    limiter.keep_journal(journal, [this](const std::string& why) {
      log.warn("the times of recent API requests can no longer be kept; a restart within the next minute may "
               "spend the account's budget twice (a few 429s)",
               {{"path", journal.path()}, {"error", why}});
    });
    health.started_ms = clock.now_ms();
    pull_metrics.rate_limit_budget.Set(c.rate_limit_requests);
    pull_metrics.rate_limit_period.Set(c.rate_limit_period.count() / 1000.0);
    source.on_problem([this, &clock](const std::string& why) {
      health.set_fetch_problem(why);
      if (why.empty()) health.last_fetch_ok_ms = clock.now_ms();  // "" = a page was served
    });
    // Exactly once into Kafka: the position committed with the records is
    // the truth; the file is only its cache (and, the first time, where
    // it starts from).
    for (const auto& sink : app.sinks) {
      if (!sink.read_position) continue;
      std::optional<std::string> kept;
      try {
        kept = sink.read_position(c.name);
      } catch (const std::exception& e) {
        throw FatalError("cannot read the source's position from sink \"" + sink.name + "\": " + e.what());
      }
      if (kept) store.adopt(*kept, "sink " + sink.name + "'s checkpoint topic");
      log.info(kept ? "position from the kafka checkpoint topic" : "no position in the kafka checkpoint topic yet; "
                                                                     "starting from the checkpoint file or start",
               {{"sink", sink.name}});
    }
    source.open(c.account, c.start.resolve(clock.now_s()));
  }

  // The pages the loop ships and the commits they come back to.
  PollingSource& shipped_from() { return skip_pushed ? static_cast<PollingSource&>(*skip_pushed) : source; }

  // The loop runs on the shared fetch workers from `first` on, a page per
  // step; a step that fails stops the process, as a failing thread did.
  // `may_poll` (coordination): asked before each step; while it refuses,
  // no request is sent and the step is tried again shortly.
  void schedule(sched::Scheduler& fetchers, sched::SteadyTime first, StopSignal& stop,
                std::function<bool()> may_poll = nullptr) {
    // The wake-up outlives the run (the memory budget or a late ack may
    // still call it): it holds the id, not the run.
    loop.on_wake([&fetchers, id = job] { fetchers.wake(id->load()); });
    started = std::chrono::steady_clock::now();
    fetchers.add(
        [this, &stop, may_poll = std::move(may_poll), done = done](PageBuffer& buffer) {
          if (may_poll && !loop_stop.requested() && !may_poll()) return sched::Next::in(std::chrono::milliseconds(100));
          sched::Next next = loop.step(buffer);
          if (next.kind == sched::Next::Kind::Finished) {
            health.running = false;
            if (!loop.result().ok) stop.request();
            done->set_value();  // last: the run may be destroyed from here on
          }
          return next;
        },
        first, job.get());
  }
  // Once the fetch workers stopped: waits up to `left` for what is in flight.
  void finish_loop(std::chrono::milliseconds left) {
    result = loop.finish(left);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    health.running = false;
  }
  void stop_retries() override { delivery.stop_retries(); }

  void tick(int64_t now_ms) override {
    health.heartbeat_ms = now_ms;
    health.inflight_batches = static_cast<int64_t>(delivery.inflight());
    health.last_commit_ms = committer.last_commit_ms();
    metrics.tick(delivery.newest_delivered_event_ms(), committer.last_commit_ms());
  }

  bool finish() override {
    committer.finish();
    if (result.ok && !committer.last_write_ok()) {
      result.ok = false;
      result.error = "the last checkpoint write failed (see the errors above): what was delivered since the last good "
                     "write will be shipped again on the next start. Check that " + config.checkpoint_path +
                     " is on a writable volume with free space.";
    }
    auto latencies = committer.latency_samples();
    std::vector<double> write_ms, write_bytes;
    for (const auto& c : committer.write_costs()) {
      write_ms.push_back(c.ms);
      write_bytes.push_back(static_cast<double>(c.bytes));
    }
    log.info(result.ok ? "stopped" : "stopped on error",
             {{"pages", result.pages},
              {"events_fetched", result.events_fetched},
              {"events_shipped", result.events_shipped},
              {"duplicates_dropped", result.duplicates},
              {"late_events", pull_metrics.late_events.Value()},
              {"late_reads_done", pull_metrics.late_read_windows("reread").Value()},
              {"late_reads_given_up", pull_metrics.late_read_windows("skipped").Value()},
              {"invalid_events", result.invalid},
              {"all_acknowledged", result.drained},
              {"seconds", seconds},
              {"events_per_second", seconds > 0 ? result.events_shipped / seconds : 0},
              {"page_to_commit_ms_p50", percentile(latencies, 0.50)},
              {"page_to_commit_ms_p99", percentile(latencies, 0.99)},
              {"checkpoint_writes", write_ms.size()},
              {"checkpoint_write_ms_p99", percentile(write_ms, 0.99)},
              {"checkpoint_write_bytes_p99", percentile(write_bytes, 0.99)},
              {"checkpoint_write_bytes_max", percentile(write_bytes, 1.0)},
              {"events_delivered_total", source.events_delivered()},
              {"push_dedup_pages_pending", skip_pushed ? skip_pushed->pending_pages() : 0},
              {"account", config.account},
              {"checkpoint", config.checkpoint_path}});
    if (enricher) {
      const auto& st = enricher->directory().stats();
      log.info("enrichment: names from the Users API",
               {{"records_named", pull_metrics.enrich_records("named").Value()},
                {"records_unnamed", pull_metrics.enrich_records("unnamed").Value()},
                {"cache_hit_ratio", st.hits + st.misses ? static_cast<double>(st.hits) / (st.hits + st.misses) : 0.0},
                {"users_api_requests", st.requests}, {"users_api_failures", st.failures},
                {"people_cached", enricher->directory().size()}});
    }
    if (!result.ok) log.error(result.error);
    return result.ok;
  }

  // Coordination: a revoked source stops alone; else the process's stop.
  StopSignal revoked;
  StopSignal& loop_stop;
  const PullSourceConfig& config;
  Logger log;
  Metrics metrics;
  PullMetrics pull_metrics;
  source::PullCheckpoint store;
  net::HttpClient http;
  source::RequestJournal journal;  // when the budget's last requests were sent
  source::RateLimiter limiter;
  source::AccessLogSource source;
  std::unique_ptr<source::SkipPushed> skip_pushed;  // when dedup_with names a push source
  pipeline::Committer committer;
  pipeline::Delivery delivery;
  std::unique_ptr<enrich::Enricher> enricher;  // when enrich.users
  normalize::Normalizer normalizer;
  pipeline::Pipeline loop;
  std::shared_ptr<std::atomic<sched::Scheduler::JobId>> job = std::make_shared<std::atomic<sched::Scheduler::JobId>>(0);
  std::shared_ptr<std::promise<void>> done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::chrono::steady_clock::time_point started;
};

// A zendesk_webhook source: Zendesk pushes; a request is answered 200 once
// its page is committed (every sink acknowledged it).
struct PushRun final : Run {
  PushRun(const WebhookSourceConfig& c, const AppConfig& app, std::vector<pipeline::SinkRef> sinks,
          pipeline::BatchNumbers& numbers, ProcessMetrics& process, Logger& parent_log, StopSignal& stop, bool once,
          const Clock& clock, std::shared_ptr<source::RecentIds> delivered, Shared shared)
      : Run(c.name),
        log(parent_log, {{"source", c.name}}),
        metrics(process, c.name, c.account),
        source(c.settings, std::move(delivered), log, metrics, stop),
        committer([this](uint64_t token) { return source.commit(token); }, "webhook " + c.name, log, metrics, clock,
                  &shared.commits),
        delivery(std::move(sinks), app.max_inflight_batches, app.sink_retry_initial, app.sink_retry_max, log, metrics,
                 [this](const pipeline::Commit& commit) { committer.submit(commit); }, &shared.commits),
        normalizer({c.account, false, needs_ecs(app)}),
        loop(source, normalizer, delivery, numbers, log, metrics, stop,
             {once, c.account, app.shutdown_timeout, app.progress_interval, c.name}, clock) {
    health.started_ms = clock.now_ms();
    committer.keep_ledger(c.checkpoint_path + ".ledger");
    port = source.start();
  }

  // A push source waits for Zendesk on a thread of its own: there are few
  // of them, and their listener answers as soon as a page is committed.
  pipeline::RunResult run_loop() { return loop.run(); }
  void stop_retries() override { delivery.stop_retries(); }
  void tick(int64_t now_ms) override {
    health.heartbeat_ms = now_ms;
    health.last_fetch_ok_ms = now_ms;  // listening is all a push source does between pushes
    health.set_fetch_problem(source.durability_problem());  // ids not written: pushes get 503
    health.inflight_batches = static_cast<int64_t>(delivery.inflight());
    health.last_commit_ms = committer.last_commit_ms();
    metrics.tick(delivery.newest_delivered_event_ms(), committer.last_commit_ms());
  }
  bool finish() override {
    committer.finish();
    if (result.ok && source.failed_commits() > 0) {
      result.ok = false;
      result.error = "the delivered ids of " + std::to_string(source.failed_commits()) +
                     " commit(s) could not be written (see the errors above): their pushes were answered 503 and "
                     "are shipped again when Zendesk retries them. Check that the push checkpoint is on a writable "
                     "volume with free space.";
    }
    log.info(result.ok ? "stopped" : "stopped on error",
             {{"events_received", result.events_fetched}, {"events_shipped", result.events_shipped},
              {"all_acknowledged", result.drained}, {"seconds", seconds}});
    if (!result.ok) log.error(result.error);
    return result.ok;
  }

  Logger log;
  Metrics metrics;
  source::WebhookSource source;
  pipeline::Committer committer;
  pipeline::Delivery delivery;
  normalize::Normalizer normalizer;
  pipeline::Pipeline loop;
  uint16_t port = 0;
};

}  // namespace

int run_forwarder(const AppConfig& config, bool once, Logger& log, StopSignal& stop, const Clock& clock) {
  if (config.coordination.enabled && once)
    throw FatalError("--once does not go with coordination.enabled: a replica runs the accounts it is assigned until "
                     "stopped; run --once with a config without coordination");
  ProcessMetrics process(ZF_VERSION);
  process.set_per_source_histograms(
      config.health.per_source_histograms.value_or(config.sources.size() + config.webhooks.size() <= 100));
  auto sinks = build_sinks(config, log, process);
  pipeline::BatchNumbers numbers;
  // Declared before the runs, so they outlive them: a run's last retries
  // and commits are posted here.
  sched::Scheduler commits(2, "zf-commit");
  // No more fetch workers than pull sources: one account needs one.
  sched::Scheduler fetchers(std::clamp<size_t>(config.sources.size(), 1, config.workers), "zf-fetch");
  sched::MemoryBudget budget(config.memory_limit_bytes);
  Shared shared{fetchers, commits, budget};
  // The shared pool and bound, for the operator sizing them.
  auto& memory_in_flight = metric_family(prometheus::BuildGauge(), process.registry(),
                                         "zendesk_forwarder_memory_in_flight_bytes",
                                         "Bytes of pages fetched and not yet acknowledged by every sink, all sources "
                                         "(pipeline.memory_limit_mib bounds it).")
                               .Add({});
  auto& memory_waiting = metric_family(prometheus::BuildGauge(), process.registry(),
                                       "zendesk_forwarder_sources_waiting_for_memory",
                                       "Pull sources waiting for room under pipeline.memory_limit_mib.")
                             .Add({});
  metric_family(prometheus::BuildGauge(), process.registry(), "zendesk_forwarder_memory_limit_bytes",
                "pipeline.memory_limit_mib, in bytes.")
      .Add({})
      .Set(static_cast<double>(config.memory_limit_bytes));
  metric_family(prometheus::BuildGauge(), process.registry(), "zendesk_forwarder_fetch_workers",
                "Threads the pull sources share (pipeline.workers, at most one per source).")
      .Add({})
      .Set(static_cast<double>(fetchers.workers()));
  // What each push source delivered, for the pull sources that dedup_with
  // it and for its own retries.
  std::map<std::string, std::shared_ptr<source::RecentIds>> pushed;
  for (const auto& c : config.webhooks)
    pushed[c.name] = std::make_shared<source::RecentIds>(c.max_ids, c.checkpoint_path);
  std::vector<std::unique_ptr<PushRun>> push_runs;
  std::vector<std::unique_ptr<SourceRun>> pull_runs;
  for (const auto& c : config.webhooks)
    push_runs.push_back(std::make_unique<PushRun>(c, config, pipeline::refs(sinks), numbers, process, log, stop, once,
                                                  clock, pushed.at(c.name), shared));
  const bool coordinated = config.coordination.enabled;
  if (!coordinated)
    for (const auto& c : config.sources)
      pull_runs.push_back(std::make_unique<SourceRun>(c, config, pipeline::refs(sinks), numbers, process, log, stop,
                                                      once, clock,
                                                      c.dedup_with.empty() ? nullptr : pushed.at(c.dedup_with), shared));

  // Coordination: the sources this replica owns now, each built when
  // assigned (its constructor reads the durable position) and destroyed
  // when revoked, once stopped and committed.
  struct Owned {
    std::mutex mu;
    std::map<std::string, std::unique_ptr<SourceRun>> runs;
    // Revoked with batches still unacknowledged: the sinks may still call
    // back into them, so they live until the sinks closed.
    std::vector<std::unique_ptr<SourceRun>> retired;
    std::atomic<bool> failed{false};
  } owned;
  std::unique_ptr<coord::CoordMetrics> coord_metrics;
  std::unique_ptr<coord::Coordinator> coordinator;
  if (coordinated) {
    std::vector<std::string> names;
    for (const auto& c : config.sources) names.push_back(c.name);
    coord_metrics = std::make_unique<coord::CoordMetrics>(process.registry(), config.coordination.group, names);
    coord::CoordinatorCallbacks callbacks;
    callbacks.on_assigned = [&](std::vector<std::string> assigned) {
      for (const auto& name : assigned) {
        const auto& c = pull_source(config, name);
        std::unique_ptr<SourceRun> run;
        try {
          run = std::make_unique<SourceRun>(c, config, pipeline::refs(sinks), numbers, process, log, stop, once, clock,
                                            nullptr, shared, true);
        } catch (const std::exception& e) {
          log.error("cannot start an assigned source; stopping", {{"source", name}, {"error", e.what()}});
          owned.failed = true;
          stop.request();
          continue;
        }
        // The lease is checked before each step, so before each API request
        // (one page). A request sent just before the lease ends completes
        // after it: lease_margin covers that request (keep the HTTP timeout
        // below it), so it still ends inside the session.
        log.info("source assigned: running", {{"source", name}});  // before its first request
        run->schedule(fetchers, std::chrono::steady_clock::now(), stop,
                      [&coordinator, name] { return coordinator->may_poll(name, coord::Lease::Clock::now()); });
        std::lock_guard lock(owned.mu);
        owned.runs[name] = std::move(run);
      }
    };
    callbacks.on_revoked = [&](std::vector<std::string> revoked) {
      std::vector<std::unique_ptr<SourceRun>> stopping;
      {
        std::lock_guard lock(owned.mu);
        for (const auto& name : revoked) {
          auto it = owned.runs.find(name);
          if (it == owned.runs.end()) continue;
          stopping.push_back(std::move(it->second));
          owned.runs.erase(it);
        }
      }
      // All stop fetching first, then they drain within one bound.
      for (auto& r : stopping) {
        r->revoked.request();
        fetchers.wake(r->job->load());
      }
      for (auto& r : stopping) r->finished.wait();
      auto deadline = std::chrono::steady_clock::now() + config.coordination.handoff_timeout;
      for (auto& r : stopping) {
        r->finish_loop(std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                   deadline - std::chrono::steady_clock::now())));
        r->stop_retries();
        if (!r->finish()) {
          owned.failed = true;
          stop.request();
        }
        log.info("source revoked: stopped and committed", {{"source", r->name}, {"all_acknowledged", r->result.drained}});
        if (!r->result.drained) {
          std::lock_guard lock(owned.mu);
          owned.retired.push_back(std::move(r));
        }
      }
    };
    coordinator = std::make_unique<coord::Coordinator>(config.coordination, names, std::move(callbacks),
                                                       *coord_metrics, log);
  }
  // Reading a thousand accounts' config left its garbage in the arenas.
  malloc_trim(0);
  std::vector<Run*> runs;
  for (auto& r : push_runs) runs.push_back(r.get());
  for (auto& r : pull_runs) runs.push_back(r.get());

  std::unique_ptr<HttpEndpoint> endpoint;
  if (!config.health.listen.empty()) {
    EndpointLimits limits;
    limits.metrics_token = config.health.metrics_token;
    std::vector<NamedHealth> health;
    for (auto* r : runs) health.push_back({r->name, &r->health});
    ReadinessRules rules{config.health.max_fetch_age, config.health.max_delivery_age};
    // Coordination: ready = a member with an assignment and a valid lease.
    if (coordinated)
      rules.membership = [&coordinator]() -> std::string {
        if (coordinator && coordinator->ready(coord::Lease::Clock::now())) return "";
        return "not a coordination group member with an assignment and a valid lease";
      };
    endpoint = std::make_unique<HttpEndpoint>(process, std::move(health), std::move(rules), limits, clock);
    log.info("metrics endpoint listening", {{"address", endpoint->start(config.health.listen)}});
  }

  // Once a second: the liveness heartbeat and the lag/age gauges.
  struct Ticker {
    StopSignal stop;
    std::thread thread;
    ~Ticker() {
      stop.request();
      if (thread.joinable()) thread.join();
    }
  } ticker;
  ticker.thread = std::thread([&] {
    uint64_t ticks = 0;
    do {
      for (auto* r : runs) r->tick(clock.now_ms());
      if (coordinated) {
        std::lock_guard lock(owned.mu);
        for (auto& [name, r] : owned.runs) r->tick(clock.now_ms());
      }
      memory_in_flight.Set(static_cast<double>(budget.used()));
      memory_waiting.Set(static_cast<double>(budget.waiting()));
      // Pages are allocated on fetch workers and freed on sink and commit
      // threads, so glibc's per-thread arenas keep what a catch-up freed;
      // giving it back keeps a thousand idle accounts' RSS at what they hold.
      if (++ticks % 10 == 0) malloc_trim(0);
      process.tick();
    } while (ticker.stop.sleep_for(std::chrono::seconds(1)));
  });

  // Every pull source on the shared workers, their first polls spread so a
  // thousand accounts do not all ask in the same second.
  auto spread = config.startup_spread.value_or(
      std::min<std::chrono::milliseconds>(std::chrono::seconds(30), std::chrono::milliseconds(25) * pull_runs.size()));
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < pull_runs.size(); ++i)
    pull_runs[i]->schedule(fetchers, t0 + spread * static_cast<int64_t>(i) / static_cast<int64_t>(pull_runs.size()),
                           stop);
  if (pull_runs.size() > 1)
    log.info("pull sources scheduled", {{"sources", pull_runs.size()}, {"workers", fetchers.workers()},
                                        {"startup_spread_ms", spread.count()},
                                        {"memory_limit_mib", config.memory_limit_bytes >> 20}});

  // Each push source on its own thread. A source that fails stops the
  // others: the process exits with its error and is restarted as a whole.
  std::vector<std::thread> threads;
  for (auto& run : push_runs) {
    threads.emplace_back([&r = *run, &stop] {
      auto t0 = std::chrono::steady_clock::now();
      try {
        r.result = r.run_loop();
      } catch (const std::exception& e) {
        r.result.ok = false;
        r.result.error = std::string("unexpected error: ") + e.what();
        r.result.stopping_since = std::chrono::steady_clock::now();
      }
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      r.health.running = false;
      if (!r.result.ok) stop.request();
    });
  }
  if (coordinated) {
    // Sources start when assigned; the replica runs until a stop.
    try {
      coordinator->start();
    } catch (const std::exception& e) {
      log.error("cannot join the coordination group", {{"error", e.what()}});
      stop.request();
      owned.failed = true;
    }
    while (stop.sleep_for(std::chrono::milliseconds(500))) {
    }
    // Revokes (stops, drains, commits) every owned source and leaves the
    // group, before the sinks close.
    coordinator->stop();
  } else {
    // The pull sources end by themselves with `once`, else on a stop.
    while (!fetchers.wait_all_finished(std::chrono::milliseconds(200)))
      if (stop.requested()) break;
  }
  auto pull_stopping = std::chrono::steady_clock::now();
  fetchers.stop_jobs();
  for (auto& t : threads) t.join();
  std::chrono::steady_clock::time_point stopping_since =
      pull_runs.empty() && !coordinated ? std::chrono::steady_clock::time_point{} : pull_stopping;
  for (auto& r : pull_runs)
    if (r->loop.result().stopping_since.time_since_epoch().count() > 0)
      stopping_since = std::max(stopping_since, std::min(pull_stopping, r->loop.result().stopping_since));
  for (auto& r : push_runs) stopping_since = std::max(stopping_since, r->result.stopping_since);

  // Sinks may still acknowledge while they close: those commits must reach
  // the committers before they stop. Draining and closing share one
  // shutdown_timeout, counted from when the last source stopped fetching.
  auto left = [&] {
    return std::max(std::chrono::milliseconds(0),
                    config.shutdown_timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::steady_clock::now() - stopping_since));
  };
  for (auto& r : pull_runs) r->finish_loop(left());
  // No batch is sent again once closing starts; acks still count.
  for (auto* r : runs) r->stop_retries();
  pipeline::close_all(sinks, left());
  bool ok = true;
  for (auto* r : runs) ok = r->finish() && ok;
  if (owned.failed) ok = false;
  return ok ? 0 : 1;
}

}  // namespace zf::app
