#include "metrics/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

namespace zf {

namespace {
using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

ProcessMetrics::ProcessMetrics(std::string version)
    : registry_(std::make_shared<prometheus::Registry>()),
      process_rss_(BuildGauge().Name("process_resident_memory_bytes").Help("Resident memory size in bytes.").Register(*registry_).Add({})),
      process_cpu_(BuildCounter().Name("process_cpu_seconds_total").Help("Total user and system CPU time spent in seconds.").Register(*registry_).Add({})),
      process_fds_(BuildGauge().Name("process_open_fds").Help("Number of open file descriptors.").Register(*registry_).Add({})),
      process_start_(BuildGauge().Name("process_start_time_seconds").Help("Start time of the process since unix epoch in seconds.").Register(*registry_).Add({})) {
  BuildGauge()
      .Name("zendesk_forwarder_build_info")
      .Help("Always 1; the labels say which build is running.")
      .Register(*registry_)
      .Add({{"version", version}})
      .Set(1);
  process_start_.Set(now_seconds());
}

#define ZF_COUNTER(name, help) metric_family(BuildCounter(), r, name, help).Add(labels_)
#define ZF_GAUGE(name, help) metric_family(BuildGauge(), r, name, help).Add(labels_)

Metrics::Metrics(ProcessMetrics& process, std::string source, std::string account)
    : Metrics(process.registry(), {{"source", std::move(source)}, {"account", std::move(account)}},
              process.per_source_histograms()) {}

Metrics::Metrics(prometheus::Registry& r, prometheus::Labels labels, bool per_source_histograms)
    : labels_(std::move(labels)),
      histogram_labels_(per_source_histograms ? labels_ : all_sources()),
      events_fetched(ZF_COUNTER("zendesk_forwarder_events_fetched_total", "Access events received from the API.")),
      page_events(metric_family(BuildHistogram(), r, "zendesk_forwarder_page_events", "Events per fetched page.")
                      .Add(histogram_labels_, prometheus::Histogram::BucketBoundaries{0, 1, 10, 100, 500, 1000, 2000, 2500})),
      inflight_batches(ZF_GAUGE("zendesk_forwarder_inflight_batches",
                                "Batches sent to the sinks and not yet acknowledged by all of them.")),
      newest_delivered_event_ts(ZF_GAUGE("zendesk_forwarder_newest_delivered_event_timestamp_seconds",
                                         "Timestamp of the newest event acknowledged by every sink.")),
      lag(ZF_GAUGE("zendesk_forwarder_lag_seconds", "Seconds between now and the newest event delivered to every sink.")),
      page_commit_latency(metric_family(BuildHistogram(), r, "zendesk_forwarder_page_commit_latency_seconds",
                                 "Seconds from a page's body received to the checkpoint covering it committed.")
                              .Add(histogram_labels_, prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
      events_invalid(ZF_COUNTER("zendesk_forwarder_events_invalid_total",
                                "Events without a usable id; logged in full at error level instead of shipped.")),
      checkpoint_commits(ZF_COUNTER("zendesk_forwarder_checkpoint_commits_total", "Checkpoint writes that succeeded.")),
      checkpoint_failures(ZF_COUNTER("zendesk_forwarder_checkpoint_failures_total", "Checkpoint writes that failed.")),
      checkpoint_last_commit_ts(ZF_GAUGE("zendesk_forwarder_checkpoint_last_commit_timestamp_seconds",
                                         "When the checkpoint was last committed.")),
      checkpoint_age(ZF_GAUGE("zendesk_forwarder_checkpoint_age_seconds", "Seconds since the last checkpoint commit.")),
      checkpoint_write_duration(
          metric_family(BuildHistogram(), r, "zendesk_forwarder_checkpoint_write_duration_seconds",
                 "Seconds per checkpoint commit: state written and synced (ids are written when their page is fetched).")
              .Add(histogram_labels_, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                               0.25, 1})),
      checkpoint_write_bytes(metric_family(BuildHistogram(), r, "zendesk_forwarder_checkpoint_write_bytes",
                                    "Bytes of checkpoint state written per commit (the ids late reads need are "
                                    "written when their page is fetched, not counted here).")
                                 .Add(histogram_labels_, prometheus::Histogram::BucketBoundaries{256, 1024, 4096, 16384, 65536,
                                                                                  262144, 1048576})),
      webhook_latency_family_(metric_family(BuildHistogram(), r, "zendesk_forwarder_webhook_ack_latency_seconds",
                                     "Seconds from a webhook request received to every sink acknowledging its events.")),
      webhook_family_(metric_family(BuildCounter(), r, "zendesk_forwarder_webhook_requests_total",
                             "Webhook requests by outcome: accepted, duplicate, bad_signature, stale, too_large, "
                             "bad_request, backpressure, not_acknowledged.")),
      delivered_family_(metric_family(BuildCounter(), r, "zendesk_forwarder_events_delivered_total",
                               "Events acknowledged by a sink.")),
      failed_family_(metric_family(BuildCounter(), r, "zendesk_forwarder_events_failed_total",
                            "Events in batches a sink failed to deliver (they are retried, not dropped).")),
      sink_retries_family_(metric_family(BuildCounter(), r, "zendesk_forwarder_sink_batch_retries_total",
                                  "Batches sent again to a sink after a retriable failure.")),
      sink_inflight_family_(metric_family(BuildGauge(), r, "zendesk_forwarder_sink_inflight_batches",
                                   "Batches sent to a sink and not yet acknowledged by it.")),
      sink_last_delivery_family_(metric_family(BuildGauge(), r, "zendesk_forwarder_sink_last_delivery_timestamp_seconds",
                                        "When a sink last acknowledged a batch as delivered.")) {}

#undef ZF_COUNTER
#undef ZF_GAUGE

prometheus::Counter& Metrics::webhook_requests(const std::string& outcome) {
  return webhook_family_.Add(with({{"outcome", outcome}}));
}

prometheus::Histogram& Metrics::webhook_ack_latency() {
  return webhook_latency_family_.Add(
      histogram_labels_, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
}

SinkMetrics& Metrics::sink(const std::string& name) {
  std::lock_guard lock(sinks_mu_);
  auto& slot = sinks_[name];
  if (!slot) {
    slot.reset(new SinkMetrics{delivered_family_.Add(with({{"sink", name}})), failed_family_.Add(with({{"sink", name}})),
                               sink_retries_family_.Add(with({{"sink", name}})), sink_inflight_family_.Add(with({{"sink", name}})),
                               sink_last_delivery_family_.Add(with({{"sink", name}}))});
  }
  return *slot;
}

prometheus::Labels Metrics::with(prometheus::Labels more) const {
  more.insert(labels_.begin(), labels_.end());
  return more;
}

void Metrics::tick(int64_t newest_delivered_event_ms, int64_t last_commit_ms) {
  double now = now_seconds();
  if (newest_delivered_event_ms > 0) lag.Set(now - newest_delivered_event_ms / 1000.0);
  if (last_commit_ms > 0) checkpoint_age.Set(now - last_commit_ms / 1000.0);
}

void ProcessMetrics::tick() {

  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_rss = 0;
  if (statm >> pages_total >> pages_rss) process_rss_.Set(static_cast<double>(pages_rss) * sysconf(_SC_PAGESIZE));
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; rest >> field; ++i) {
      if (i == 14) utime = std::stod(field);
      if (i == 15) { stime = std::stod(field); break; }
    }
    double cpu = (utime + stime) / sysconf(_SC_CLK_TCK);
    if (cpu > process_cpu_seen_) {
      process_cpu_.Increment(cpu - process_cpu_seen_);
      process_cpu_seen_ = cpu;
    }
  }
  int fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++fds;
    closedir(d);
    process_fds_.Set(fds - 2);
  }
}

}  // namespace zf
