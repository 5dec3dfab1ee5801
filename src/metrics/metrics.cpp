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

// Registered once per process: a second source's Metrics gets the same
// family back (same name, no constant labels) and adds its own series.
template <typename Builder>
auto& family(Builder&& b, prometheus::Registry& r, const std::string& name, const std::string& help) {
  return b.Name(name).Help(help).Register(r);
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

#define ZF_COUNTER(name, help) family(BuildCounter(), r, name, help).Add(labels_)
#define ZF_GAUGE(name, help) family(BuildGauge(), r, name, help).Add(labels_)

Metrics::Metrics(ProcessMetrics& process, std::string source, std::string account)
    : Metrics(process.registry(), {{"source", std::move(source)}, {"account", std::move(account)}}) {}

Metrics::Metrics(prometheus::Registry& r, prometheus::Labels labels)
    : labels_(std::move(labels)),
      api_request_duration(family(BuildHistogram(), r, "zendesk_forwarder_api_request_duration_seconds",
                                  "Latency of Access Logs API requests, including the body transfer.")
                               .Add(labels_, prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60})),
      rate_limit_hits(ZF_COUNTER("zendesk_forwarder_rate_limit_hits_total", "429 responses received from the API.")),
      rate_limit_wait_reset(family(BuildCounter(), r, "zendesk_forwarder_rate_limit_wait_seconds_total",
                                   "Seconds spent waiting on the rate limit, by cause.")
                                .Add(with({{"cause", "reset"}}))),
      rate_limit_wait_budget(family(BuildCounter(), r, "zendesk_forwarder_rate_limit_wait_seconds_total",
                                    "Seconds spent waiting on the rate limit, by cause.")
                                 .Add(with({{"cause", "budget"}}))),
      rate_limit_budget(ZF_GAUGE("zendesk_forwarder_rate_limit_budget_requests",
                                 "Requests the forwarder allows itself per rate-limit period.")),
      rate_limit_period(ZF_GAUGE("zendesk_forwarder_rate_limit_period_seconds", "Length of the rate-limit period.")),
      rate_limit_in_use(ZF_GAUGE("zendesk_forwarder_rate_limit_requests_in_period",
                                 "Requests made within the current rate-limit period.")),
      events_fetched(ZF_COUNTER("zendesk_forwarder_events_fetched_total", "Access events received from the API.")),
      duplicates_dropped(ZF_COUNTER("zendesk_forwarder_duplicates_dropped_total",
                                    "Events a late read (or a re-read after a restart) dropped: their id was already shipped.")),
      page_events(family(BuildHistogram(), r, "zendesk_forwarder_page_events", "Events per fetched page.")
                      .Add(labels_, prometheus::Histogram::BucketBoundaries{0, 1, 10, 100, 500, 1000, 2000, 2500})),
      last_fetch_success_ts(ZF_GAUGE("zendesk_forwarder_last_fetch_success_timestamp_seconds",
                                     "When the last API page was fetched successfully.")),
      backfill_position_ts(ZF_GAUGE("zendesk_forwarder_position_timestamp_seconds",
                                    "Start of the time window being read.")),
      backfill_remaining(ZF_GAUGE("zendesk_forwarder_backfill_remaining_seconds",
                                  "Seconds of event time between the read position and now.")),
      retention_margin(ZF_GAUGE("zendesk_forwarder_retention_margin_seconds",
                                "Seconds until the read position falls out of the API's 90-day retention.")),
      late_read_skipped_events(ZF_COUNTER("zendesk_forwarder_late_read_skipped_events_total",
                                          "First-read events in windows whose late read was given up.")),
      late_events(ZF_COUNTER("zendesk_forwarder_late_events_total",
                             "Events found only by a late read: they appeared after their window's first read.")),
      late_read_pending_windows(ZF_GAUGE("zendesk_forwarder_late_read_pending_windows",
                                         "Windows read once and awaiting their late read.")),
      late_read_backlog_seconds(ZF_GAUGE("zendesk_forwarder_late_read_backlog_seconds",
                                         "How long the oldest pending late read is overdue (0 when on time).")),
      late_read_coverage_ratio(ZF_GAUGE("zendesk_forwarder_late_read_coverage_ratio",
                                        "Share of event time due a late read that was re-read since start; overdue "
                                        "and given-up windows count as not re-read (1 when none is).")),
      inflight_batches(ZF_GAUGE("zendesk_forwarder_inflight_batches",
                                "Batches sent to the sinks and not yet acknowledged by all of them.")),
      newest_delivered_event_ts(ZF_GAUGE("zendesk_forwarder_newest_delivered_event_timestamp_seconds",
                                         "Timestamp of the newest event acknowledged by every sink.")),
      lag(ZF_GAUGE("zendesk_forwarder_lag_seconds", "Seconds between now and the newest event delivered to every sink.")),
      page_commit_latency(family(BuildHistogram(), r, "zendesk_forwarder_page_commit_latency_seconds",
                                 "Seconds from a page's body received to the checkpoint covering it committed.")
                              .Add(labels_, prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
      webhook_ack_latency(family(BuildHistogram(), r, "zendesk_forwarder_webhook_ack_latency_seconds",
                                 "Seconds from a webhook request received to every sink acknowledging its events.")
                              .Add(labels_, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})),
      events_invalid(ZF_COUNTER("zendesk_forwarder_events_invalid_total",
                                "Events without a usable id; logged in full at error level instead of shipped.")),
      checkpoint_commits(ZF_COUNTER("zendesk_forwarder_checkpoint_commits_total", "Checkpoint writes that succeeded.")),
      checkpoint_failures(ZF_COUNTER("zendesk_forwarder_checkpoint_failures_total", "Checkpoint writes that failed.")),
      checkpoint_last_commit_ts(ZF_GAUGE("zendesk_forwarder_checkpoint_last_commit_timestamp_seconds",
                                         "When the checkpoint was last committed.")),
      checkpoint_age(ZF_GAUGE("zendesk_forwarder_checkpoint_age_seconds", "Seconds since the last checkpoint commit.")),
      checkpoint_write_duration(
          family(BuildHistogram(), r, "zendesk_forwarder_checkpoint_write_duration_seconds",
                 "Seconds per checkpoint commit: state written and synced (ids are written when their page is fetched).")
              .Add(labels_, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                               0.25, 1})),
      checkpoint_write_bytes(family(BuildHistogram(), r, "zendesk_forwarder_checkpoint_write_bytes",
                                    "Bytes of checkpoint state written per commit (the ids late reads need are "
                                    "written when their page is fetched, not counted here).")
                                 .Add(labels_, prometheus::Histogram::BucketBoundaries{256, 1024, 4096, 16384, 65536,
                                                                                  262144, 1048576})),
      api_requests_family_(family(BuildCounter(), r, "zendesk_forwarder_api_requests_total",
                                  "Access Logs API requests by HTTP status class.")),
      api_page_requests_family_(family(BuildCounter(), r, "zendesk_forwarder_api_page_requests_total",
                                       "Access Logs API page requests by read: first or late.")),
      late_read_windows_family_(family(BuildCounter(), r, "zendesk_forwarder_late_read_windows_total",
                                       "Windows whose late read was done (reread) or given up (skipped).")),
      api_retries_family_(family(BuildCounter(), r, "zendesk_forwarder_api_retries_total",
                                 "API requests retried, by reason.")),
      api_errors_family_(family(BuildCounter(), r, "zendesk_forwarder_api_errors_total",
                                "API answers that need an operator (auth, permission, add-on, bad setting).")),
      enrich_records_family_(family(BuildCounter(), r, "zendesk_forwarder_enrich_records_total",
                                    "Records shipped with the actor's name (named) or without it (unnamed: the Users "
                                    "API was down, slow or out of budget).")),
      enrich_cache_family_(family(BuildCounter(), r, "zendesk_forwarder_enrich_cache_lookups_total",
                                  "User ids looked up in the name cache, by result (hit, miss).")),
      users_api_family_(family(BuildCounter(), r, "zendesk_forwarder_users_api_requests_total",
                               "Users API requests (show_many) by outcome (ok, failed, rate_limited).")),
      webhook_family_(family(BuildCounter(), r, "zendesk_forwarder_webhook_requests_total",
                             "Webhook requests by outcome: accepted, duplicate, bad_signature, stale, too_large, "
                             "bad_request, backpressure, not_acknowledged.")),
      webhook_missed_family_(family(BuildCounter(), r, "zendesk_forwarder_webhook_missed_total",
                                    "Events a pull source found that its push source (dedup_with) had not delivered: "
                                    "the measured push loss.")),
      delivered_family_(family(BuildCounter(), r, "zendesk_forwarder_events_delivered_total",
                               "Events acknowledged by a sink.")),
      failed_family_(family(BuildCounter(), r, "zendesk_forwarder_events_failed_total",
                            "Events in batches a sink failed to deliver (they are retried, not dropped).")),
      sink_retries_family_(family(BuildCounter(), r, "zendesk_forwarder_sink_batch_retries_total",
                                  "Batches sent again to a sink after a retriable failure.")),
      sink_inflight_family_(family(BuildGauge(), r, "zendesk_forwarder_sink_inflight_batches",
                                   "Batches sent to a sink and not yet acknowledged by it.")),
      sink_last_delivery_family_(family(BuildGauge(), r, "zendesk_forwarder_sink_last_delivery_timestamp_seconds",
                                        "When a sink last acknowledged a batch as delivered.")) {}

#undef ZF_COUNTER
#undef ZF_GAUGE

prometheus::Counter& Metrics::api_requests(const std::string& status_class) {
  return api_requests_family_.Add(with({{"status_class", status_class}}));
}
prometheus::Counter& Metrics::api_retries(const std::string& reason) {
  return api_retries_family_.Add(with({{"reason", reason}}));
}
prometheus::Counter& Metrics::api_page_requests(const std::string& read) {
  return api_page_requests_family_.Add(with({{"read", read}}));
}
prometheus::Counter& Metrics::late_read_windows(const std::string& outcome) {
  return late_read_windows_family_.Add(with({{"outcome", outcome}}));
}
prometheus::Counter& Metrics::api_errors(const std::string& kind) { return api_errors_family_.Add(with({{"kind", kind}})); }
prometheus::Counter& Metrics::enrich_records(const std::string& outcome) {
  return enrich_records_family_.Add(with({{"outcome", outcome}}));
}
prometheus::Counter& Metrics::enrich_cache_lookups(const std::string& result) {
  return enrich_cache_family_.Add(with({{"result", result}}));
}
prometheus::Counter& Metrics::users_api_requests(const std::string& outcome) {
  return users_api_family_.Add(with({{"outcome", outcome}}));
}
prometheus::Counter& Metrics::webhook_requests(const std::string& outcome) {
  return webhook_family_.Add(with({{"outcome", outcome}}));
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
