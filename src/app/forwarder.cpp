#include "app/forwarder.h"

#include <algorithm>
#include <thread>

#include "core/errors.h"
#include "metrics/http_endpoint.h"
#include "metrics/metrics.h"
#include "normalize/normalizer.h"
#include "pipeline/committer.h"
#include "pipeline/delivery.h"
#include "pipeline/pipeline.h"
#include "core/time_format.h"
#include "source/pull_checkpoint.h"

namespace zf::app {

namespace {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

std::vector<pipeline::NamedSink> build_sinks(const AppConfig& config, Logger& log, Metrics& metrics) {
  std::vector<pipeline::NamedSink> sinks;
  for (const auto& s : config.sinks) {
    SinkContext ctx{s.name, log, metrics.registry()};
    try {
      sinks.push_back({s.name, s.build(ctx)});
    } catch (const std::exception& e) {
      throw FatalError("cannot start sink \"" + s.name + "\" (" + s.type + "): " + e.what());
    }
  }
  return sinks;
}

}  // namespace

int run_forwarder(const AppConfig& config, bool once, Logger& log, StopSignal& stop, const Clock& clock) {
  Metrics metrics(config.account, ZF_VERSION);
  HealthState health;
  health.started_ms = clock.now_ms();
  std::unique_ptr<HttpEndpoint> endpoint;
  if (!config.health.listen.empty()) {
    EndpointLimits limits;
    limits.metrics_token = config.health.metrics_token;
    endpoint = std::make_unique<HttpEndpoint>(
        metrics, health, ReadinessRules{config.health.max_fetch_age, config.health.max_delivery_age}, limits, clock);
    log.info("metrics endpoint listening", {{"address", endpoint->start(config.health.listen)}});
  }

  source::PullCheckpoint store(config.checkpoint_path);
  source::HttpClient http(config.http);
  // A small margin on every budget wait: the server stamps arrivals a
  // little after we stamp sends.
  auto margin = std::max(std::chrono::milliseconds(20), config.rate_limit_period / 500);
  source::RateLimiter limiter(config.rate_limit_requests, config.rate_limit_period, margin);
  metrics.rate_limit_budget.Set(config.rate_limit_requests);
  metrics.rate_limit_period.Set(config.rate_limit_period.count() / 1000.0);
  source::AccessLogSource source(config.source, http, limiter, store, log, metrics, stop, clock);
  source.on_problem([&health, &clock](const std::string& why) {
    health.set_fetch_problem(why);
    if (why.empty()) health.last_fetch_ok_ms = clock.now_ms();  // "" = a page was served
  });
  source.open(config.account, config.start.resolve(clock.now_s()));

  auto sinks = build_sinks(config, log, metrics);
  pipeline::Committer committer([&source](uint64_t token) { return source.commit(token); }, config.checkpoint_path,
                                log, metrics, clock);
  pipeline::Delivery delivery(std::move(sinks), config.max_inflight_batches, config.sink_retry_initial,
                              config.sink_retry_max, log, metrics,
                              [&committer](const pipeline::Commit& c) { committer.submit(c); });
  normalize::Normalizer normalizer({config.account, config.keep_original});

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
    do {
      health.heartbeat_ms = clock.now_ms();
      health.inflight_batches = static_cast<int64_t>(delivery.inflight());
      health.last_commit_ms = committer.last_commit_ms();
      metrics.tick(delivery.newest_delivered_event_ms(), committer.last_commit_ms());
    } while (ticker.stop.sleep_for(std::chrono::seconds(1)));
  });

  pipeline::Pipeline loop(source, normalizer, delivery, log, metrics, stop,
                          {once, config.account, config.shutdown_timeout, config.progress_interval}, clock);
  auto t0 = std::chrono::steady_clock::now();
  pipeline::RunResult result = loop.run();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  health.running = false;

  // Sinks may still acknowledge while they close: those commits must reach
  // the committer before it stops. Draining and closing share one
  // shutdown_timeout, so SIGTERM is answered within it.
  auto left = config.shutdown_timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now() - result.stopping_since);
  delivery.close(std::max(left, std::chrono::milliseconds(0)));
  committer.finish();

  auto latencies = committer.latency_samples();
  std::vector<double> write_ms, write_bytes;
  for (const auto& c : committer.write_costs()) {
    write_ms.push_back(c.ms);
    write_bytes.push_back(static_cast<double>(c.bytes));
  }
  if (result.ok && !committer.last_write_ok()) {
    result.ok = false;
    result.error = "the last checkpoint write failed (see the errors above): what was delivered since the last good "
                   "write will be shipped again on the next start. Check that " + config.checkpoint_path +
                   " is on a writable volume with free space.";
  }
  log.info(result.ok ? "stopped" : "stopped on error",
           {{"pages", result.pages},
            {"events_fetched", result.events_fetched},
            {"events_shipped", result.events_shipped},
            {"duplicates_dropped", result.duplicates},
            {"late_events", metrics.late_events.Value()},
            {"late_reads_done", metrics.late_read_windows("reread").Value()},
            {"late_reads_given_up", metrics.late_read_windows("skipped").Value()},
            {"invalid_events", result.invalid},
            {"all_acknowledged", result.drained},
            {"seconds", secs},
            {"events_per_second", secs > 0 ? result.events_shipped / secs : 0},
            {"page_to_commit_ms_p50", percentile(latencies, 0.50)},
            {"page_to_commit_ms_p99", percentile(latencies, 0.99)},
            {"checkpoint_writes", write_ms.size()},
            {"checkpoint_write_ms_p99", percentile(write_ms, 0.99)},
            {"checkpoint_write_bytes_p99", percentile(write_bytes, 0.99)},
            {"checkpoint_write_bytes_max", percentile(write_bytes, 1.0)},
            {"events_delivered_total", source.events_delivered()},
            {"checkpoint", config.checkpoint_path}});
  if (!result.ok) {
    log.error(result.error);
    return 1;
  }
  return 0;
}

}  // namespace zf::app
