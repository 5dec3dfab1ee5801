#include "app/forwarder.h"

#include <algorithm>
#include <thread>

#include "core/errors.h"
#include "metrics/http_endpoint.h"
#include "metrics/metrics.h"
#include "normalize/normalizer.h"
#include "pipeline/checkpoint.h"
#include "pipeline/committer.h"
#include "pipeline/delivery.h"
#include "pipeline/pipeline.h"
#include "core/time_format.h"

namespace zf::app {

namespace {

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

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

int run_forwarder(const AppConfig& config, bool once, Logger& log, StopSignal& stop) {
  Metrics metrics(config.account, ZF_VERSION);
  HealthState health;
  health.started_ms = now_s() * 1000;
  std::unique_ptr<HttpEndpoint> endpoint;
  if (!config.health.listen.empty()) {
    endpoint = std::make_unique<HttpEndpoint>(metrics, health,
                                              ReadinessRules{config.health.max_fetch_age, config.health.max_delivery_age});
    log.info("metrics endpoint listening", {{"address", endpoint->start(config.health.listen)}});
  }

  pipeline::CheckpointStore store(config.checkpoint_path);
  source::Position position;
  source::RecentIds recent(config.dedup_max_ids);
  uint64_t delivered_before = 0;
  if (auto cp = store.load()) {
    if (cp->account != config.account)
      throw FatalError("checkpoint " + config.checkpoint_path + " belongs to account \"" + cp->account +
                       "\", but the config is for \"" + config.account +
                       "\". Use a separate checkpoint.path per account.");
    position = cp->position;
    recent.restore(cp->recent_ids);
    delivered_before = cp->events_delivered;
    log.info("resuming from checkpoint",
             {{"path", config.checkpoint_path}, {"window_start", format_utc_seconds(position.window_start)},
              {"mid_window", position.window_end != 0}, {"recent_ids", cp->recent_ids.size()}});
  } else {
    position.window_start = config.start.resolve(now_s());
    log.info("no checkpoint yet; starting backfill",
             {{"path", config.checkpoint_path}, {"start", format_utc_seconds(position.window_start)}});
  }

  auto sinks = build_sinks(config, log, metrics);
  pipeline::Committer committer(store, recent, config.account, delivered_before, log, metrics);
  pipeline::Delivery delivery(std::move(sinks), config.max_inflight_batches, config.sink_retry_initial,
                              config.sink_retry_max, log, metrics,
                              [&committer](const pipeline::Commit& c) { committer.submit(c); });

  source::HttpClient http(config.http);
  // A small margin on every budget wait: the server stamps arrivals a
  // little after we stamp sends.
  auto margin = std::max(std::chrono::milliseconds(20), config.rate_limit_period / 500);
  source::RateLimiter limiter(config.rate_limit_requests, config.rate_limit_period, margin);
  metrics.rate_limit_budget.Set(config.rate_limit_requests);
  metrics.rate_limit_period.Set(config.rate_limit_period.count() / 1000.0);
  source::AccessLogSource source(config.source, http, limiter, log, metrics, stop);
  source.resume(position);
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
      health.heartbeat_ms = now_s() * 1000;
      metrics.tick();
    } while (ticker.stop.sleep_for(std::chrono::seconds(1)));
  });

  pipeline::Pipeline loop(source, normalizer, delivery, recent, log, metrics, stop,
                          {once, config.account, config.shutdown_timeout, config.progress_interval});
  auto t0 = std::chrono::steady_clock::now();
  pipeline::RunResult result = loop.run();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  health.running = false;

  committer.finish();
  delivery.close(config.shutdown_timeout);

  auto latencies = committer.latency_samples();
  log.info(result.ok ? "stopped" : "stopped on error",
           {{"pages", result.pages},
            {"events_fetched", result.events_fetched},
            {"events_shipped", result.events_shipped},
            {"duplicates_dropped", result.duplicates},
            {"invalid_events", result.invalid},
            {"all_acknowledged", result.drained},
            {"seconds", secs},
            {"events_per_second", secs > 0 ? result.events_shipped / secs : 0},
            {"page_to_commit_ms_p50", percentile(latencies, 0.50)},
            {"page_to_commit_ms_p99", percentile(latencies, 0.99)},
            {"checkpoint", config.checkpoint_path}});
  if (!result.ok) {
    log.error(result.error);
    return 1;
  }
  return 0;
}

}  // namespace zf::app
