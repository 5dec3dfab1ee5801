#pragma once
// Every metric the forwarder exports, on one registry that the process owns
// (no global registry). ProcessMetrics owns it and the process_* gauges;
// each source gets its own Metrics, whose series carry its `source` and
// `account` labels, so several accounts in one process are told apart.
// Names follow Prometheus conventions: base units, `_total` counters, the
// `zendesk_forwarder_` prefix, and only low-cardinality labels (source,
// account, sink, status_class, reason).
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace zf {

// Registered once per process: a second source's series go to the same
// family (same name, no constant labels) as the first's.
template <typename Builder>
auto& metric_family(Builder&& b, prometheus::Registry& r, const std::string& name, const std::string& help) {
  return b.Name(name).Help(help).Register(r);
}

struct SinkMetrics {
  prometheus::Counter& events_delivered;   // zendesk_forwarder_events_delivered_total
  prometheus::Counter& events_failed;      // zendesk_forwarder_events_failed_total
  prometheus::Counter& batches_retried;    // zendesk_forwarder_sink_batch_retries_total
  prometheus::Gauge& inflight_batches;     // zendesk_forwarder_sink_inflight_batches
  prometheus::Gauge& last_delivery_ts;     // zendesk_forwarder_sink_last_delivery_timestamp_seconds
};

// The labels of histograms every source shares, when per-source ones are
// off: a thousand accounts would otherwise export 60 bucket series each.
inline prometheus::Labels all_sources() { return {{"source", "_all"}, {"account", "_all"}}; }

// The registry /metrics serves, build info and the process_* metrics.
class ProcessMetrics {
  std::shared_ptr<prometheus::Registry> registry_;  // first: the gauges below live on it

 public:
  explicit ProcessMetrics(std::string version);
  prometheus::Registry& registry() { return *registry_; }
  // Memory, CPU and file descriptors; called about once a second (one thread).
  void tick();
  // Whether each source gets its own histogram series (metrics.
  // per_source_histograms); set before the sources' metrics are made.
  bool per_source_histograms() const { return per_source_histograms_; }
  void set_per_source_histograms(bool on) { per_source_histograms_ = on; }

 private:
  prometheus::Gauge& process_rss_;
  prometheus::Counter& process_cpu_;  // advanced by the CPU time read each tick
  double process_cpu_seen_ = 0;
  prometheus::Gauge& process_fds_;
  prometheus::Gauge& process_start_;
  bool per_source_histograms_ = true;
};

// One source's metrics, whatever its type: what it handed the pipeline, its
// batches to each sink, its commits. A source type's own series live with
// it (the pull source's in source/pull_metrics.h); the webhook source's few
// are made on first use, so only a push source exports them.
class Metrics {
  prometheus::Labels labels_;  // first: {source, account} on every series below
  prometheus::Labels histogram_labels_;  // labels_, or all_sources() when histograms are per process

 public:
  Metrics(ProcessMetrics& process, std::string source, std::string account);

  // The webhook source: requests by outcome (accepted, duplicate,
  // bad_signature, stale, too_large, bad_request, backpressure,
  // not_acknowledged) and push received -> every sink acknowledged.
  prometheus::Counter& webhook_requests(const std::string& outcome);
  prometheus::Histogram& webhook_ack_latency();  // seconds

  // --- what the source handed the pipeline ---
  prometheus::Counter& events_fetched;
  prometheus::Histogram& page_events;            // events per page

  // --- delivery and checkpoint ---
  SinkMetrics& sink(const std::string& name);
  prometheus::Gauge& inflight_batches;           // batches sent and not yet acknowledged by all sinks
  prometheus::Gauge& newest_delivered_event_ts;  // unix seconds of the newest event delivered to all sinks
  prometheus::Gauge& lag;                        // now - newest_delivered_event_ts
  prometheus::Histogram& page_commit_latency;    // seconds from page body received to checkpoint committed
  prometheus::Counter& events_invalid;           // events without a usable id: logged in full, not shipped
  prometheus::Counter& checkpoint_commits;
  prometheus::Counter& checkpoint_failures;
  prometheus::Gauge& checkpoint_last_commit_ts;
  prometheus::Gauge& checkpoint_age;             // now - last commit
  prometheus::Histogram& checkpoint_write_duration;  // seconds per commit (state written and synced, retired id files removed)
  prometheus::Histogram& checkpoint_write_bytes;     // bytes of state per commit (ids are written at fetch, not here)

  // Recomputes the *_age / lag gauges from the pipeline's own state (not
  // from other gauges); called about once a second by the ticker.
  void tick(int64_t newest_delivered_event_ms, int64_t last_commit_ms);

 private:
  prometheus::Family<prometheus::Histogram>& webhook_latency_family_;
  prometheus::Family<prometheus::Counter>& webhook_family_;
  prometheus::Family<prometheus::Counter>& delivered_family_;
  prometheus::Family<prometheus::Counter>& failed_family_;
  prometheus::Family<prometheus::Counter>& sink_retries_family_;
  prometheus::Family<prometheus::Gauge>& sink_inflight_family_;
  prometheus::Family<prometheus::Gauge>& sink_last_delivery_family_;
  Metrics(prometheus::Registry& registry, prometheus::Labels labels, bool per_source_histograms = true);
  prometheus::Labels with(prometheus::Labels more) const;
  std::mutex sinks_mu_;
  std::map<std::string, std::unique_ptr<SinkMetrics>> sinks_;
};

}  // namespace zf
