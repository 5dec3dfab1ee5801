#include "app/forwarder.h"

#include <malloc.h>

#include <algorithm>
#include <memory>
#include <thread>

#include "app/owned_runs.h"
#include "coord/coord_metrics.h"
#include "coord/coordinator.h"
#include "core/errors.h"
#include "metrics/http_endpoint.h"
#include "metrics/metrics.h"
#include "pipeline/delivery.h"
#include "sched/heap_meter.h"
#include "sched/memory_budget.h"
#include "sched/scheduler.h"
#include "sources/source_types.h"

namespace zf::app {

namespace {

// `sources`: whom they ship for (the default transactional id of an
// exactly_once sink is named after them).
std::vector<pipeline::NamedSink> build_sinks(const AppConfig& config, Logger& log, ProcessMetrics& metrics,
                                             const std::string& sources) {
  std::vector<pipeline::NamedSink> sinks;
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

}  // namespace

int run_forwarder(const AppConfig& config, bool once, Logger& log, StopSignal& stop, const Clock& clock) {
  if (config.coordination.enabled && once)
    throw FatalError("--once does not go with coordination.enabled: a replica runs the accounts it is assigned until "
                     "stopped; run --once with a config without coordination");
  ProcessMetrics process(ZF_VERSION);
  process.set_per_source_histograms(
      config.health.per_source_histograms.value_or(config.sources.size() <= 100));
  // With coordination, an exactly_once sink is built for each account its
  // replica runs (transactional id zendesk-forwarder-<source>, whoever owns
  // it): the next owner's InitProducerId then fences a zombie owner's
  // transactions (docs/KAFKA.md, Fencing). Else one set for every source.
  const bool sinks_per_source =
      config.coordination.enabled &&
      std::any_of(config.sinks.begin(), config.sinks.end(), [](const auto& s) { return bool(s.read_position); });
  std::string all_sources;
  for (const auto& c : config.sources) all_sources += (all_sources.empty() ? "" : "+") + c->name;
  auto sinks = sinks_per_source ? std::vector<pipeline::NamedSink>{} : build_sinks(config, log, process, all_sources);
  pipeline::BatchNumbers numbers;
  // Declared before the runs, so they outlive them: a run's last retries
  // and commits are posted here.
  sched::Scheduler commits(2, "zf-commit");
  // No more fetch workers than polled sources: one account needs one.
  size_t polled_sources = static_cast<size_t>(std::count_if(
      config.sources.begin(), config.sources.end(), [](const auto& s) { return source::type_of(*s).polled; }));
  sched::Scheduler fetchers(std::clamp<size_t>(polled_sources, 1, config.workers), "zf-fetch");
  sched::MemoryBudget budget(config.memory_limit_bytes, sched::allocator_heap_meter());
  std::vector<std::pair<std::string, PositionReader>> position_keepers;
  for (const auto& s : config.sinks)
    if (s.read_position) position_keepers.emplace_back(s.name, s.read_position);
  std::function<std::vector<pipeline::NamedSink>(const std::string&)> sinks_for;
  if (sinks_per_source)
    sinks_for = [&](const std::string& source) { return build_sinks(config, log, process, source); };
  source::RunContext ctx{sinks, sinks_for, std::move(position_keepers), numbers, process, log, stop, once, clock,
                         fetchers, commits, budget, config.max_inflight_batches, config.sink_retry_initial,
                         config.sink_retry_max, config.shutdown_timeout, config.progress_interval, needs_ecs(config)};
  // The shared pool and bound, for the operator sizing them.
  auto& memory_in_flight = metric_family(prometheus::BuildGauge(), process.registry(),
                                         "zendesk_forwarder_memory_in_flight_bytes",
                                         "Bytes of pages fetched and not yet acknowledged by every sink, all sources "
                                         "(pipeline.memory_limit_mib bounds it).")
                               .Add({});
  auto& memory_heap = metric_family(prometheus::BuildGauge(), process.registry(), "zendesk_forwarder_memory_heap_bytes",
                                    "What the allocator holds in RAM (jemalloc stats.resident): "
                                    "pipeline.memory_limit_mib bounds it while pages are fetched.")
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
  // Every run through its type (src/sources/source_types.h): what runs
  // offer each other first (a push source's delivered ids), then the runs.
  // With coordination, the polled sources are built when assigned instead.
  const bool coordinated = config.coordination.enabled;
  source::RunLinks links;
  for (const auto& s : config.sources)
    if (const auto& offer = source::type_of(*s).offer) offer(*s, links);
  std::vector<std::unique_ptr<source::Run>> started;
  std::vector<source::Run*> polled;  // of `started`, in config order
  for (const auto& s : config.sources) {
    const auto& type = source::type_of(*s);
    if (coordinated && type.polled) continue;
    started.push_back(type.build(*s, ctx, links, false));
    if (type.polled) polled.push_back(started.back().get());
  }

  // Coordination: the sources this replica owns now (owned_runs.h).
  std::unique_ptr<coord::CoordMetrics> coord_metrics;
  std::unique_ptr<coord::Coordinator> coordinator;
  std::unique_ptr<OwnedRuns> owned;
  if (coordinated) {
    std::vector<std::string> names;
    for (const auto& s : config.sources) names.push_back(s->name);
    coord_metrics = std::make_unique<coord::CoordMetrics>(process.registry(), config.coordination.group, names);
    owned = std::make_unique<OwnedRuns>(config, ctx, links, [&coordinator](const std::string& name) {
      return coordinator->may_poll(name, coord::Lease::Clock::now());
    });
    coord::CoordinatorCallbacks callbacks;
    callbacks.on_assigned = [&owned](std::vector<std::string> assigned) { owned->assign(assigned); };
    callbacks.on_revoked = [&owned](std::vector<std::string> revoked) { owned->revoke(revoked); };
    coordinator = std::make_unique<coord::Coordinator>(config.coordination, names, std::move(callbacks),
                                                       *coord_metrics, log);
  }
  // Reading a thousand accounts' config left its garbage in the arenas
  // (of glibc's allocator, in a build without jemalloc).
  malloc_trim(0);
  std::vector<source::Run*> runs;
  for (auto& r : started) runs.push_back(r.get());

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
      if (owned) owned->tick(clock.now_ms());
      memory_in_flight.Set(static_cast<double>(budget.used()));
      memory_waiting.Set(static_cast<double>(budget.waiting()));
      if (auto heap = budget.heap()) memory_heap.Set(static_cast<double>(*heap));
      // Pages are allocated on fetch workers and freed on sink and commit
      // threads, so glibc's per-thread arenas (in a build without jemalloc)
      // keep what a catch-up freed; giving it back keeps a thousand idle
      // accounts' RSS at what they hold.
      if (++ticks % 10 == 0) malloc_trim(0);
      process.tick();
    } while (ticker.stop.sleep_for(std::chrono::seconds(1)));
  });

  // Every polled source on the shared workers, their first polls spread so
  // a thousand accounts do not all ask in the same second; every other
  // source (pushes) on a thread of its own, at once.
  auto spread = config.startup_spread.value_or(
      std::min<std::chrono::milliseconds>(std::chrono::seconds(30), std::chrono::milliseconds(25) * polled.size()));
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < polled.size(); ++i)
    polled[i]->start(t0 + spread * static_cast<int64_t>(i) / static_cast<int64_t>(polled.size()), nullptr);
  for (auto* r : runs)
    if (std::find(polled.begin(), polled.end(), r) == polled.end()) r->start(t0, nullptr);
  if (polled.size() > 1)
    log.info("pull sources scheduled", {{"sources", polled.size()}, {"workers", fetchers.workers()},
                                        {"startup_spread_ms", spread.count()},
                                        {"memory_limit_mib", config.memory_limit_bytes >> 20}});

  bool coordination_failed = false;
  if (coordinated) {
    // Sources start when assigned; the replica runs until a stop.
    try {
      coordinator->start();
    } catch (const std::exception& e) {
      log.error("cannot join the coordination group", {{"error", e.what()}});
      stop.request();
      coordination_failed = true;
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
  auto jobs_stopped = std::chrono::steady_clock::now();
  fetchers.stop_jobs();
  // shutdown_timeout counts from when the last source stopped fetching.
  sched::SteadyTime stopping_since = coordinated ? jobs_stopped : sched::SteadyTime{};
  for (auto* r : runs) stopping_since = std::max(stopping_since, r->join(jobs_stopped));

  // Sinks may still acknowledge while they close: those commits must reach
  // the committers before they stop. Draining and closing share one
  // shutdown_timeout, counted from when the last source stopped fetching.
  auto left = [&] {
    return std::max(std::chrono::milliseconds(0),
                    config.shutdown_timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::steady_clock::now() - stopping_since));
  };
  for (auto* r : runs) r->finish_loop(left());
  // No batch is sent again once closing starts; acks still count.
  for (auto* r : runs) r->stop_retries();
  pipeline::close_all(sinks, left());
  bool ok = true;
  for (auto* r : runs) ok = r->finish() && ok;
  if (coordination_failed || (owned && owned->failed())) ok = false;
  return ok ? 0 : 1;
}

}  // namespace zf::app
