#include "sources/zendesk_pull/pull_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

namespace zf {

namespace {
using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

}  // namespace

#define ZF_COUNTER(name, help) metric_family(BuildCounter(), r, name, help).Add(labels_)
#define ZF_GAUGE(name, help) metric_family(BuildGauge(), r, name, help).Add(labels_)

PullMetrics::PullMetrics(ProcessMetrics& process, std::string source, std::string account)
    : PullMetrics(process.registry(), {{"source", std::move(source)}, {"account", std::move(account)}},
              process.per_source_histograms()) {}

PullMetrics::PullMetrics(prometheus::Registry& r, prometheus::Labels labels, bool per_source_histograms)
    : labels_(std::move(labels)),
      histogram_labels_(per_source_histograms ? labels_ : all_sources()),
      api_request_duration(metric_family(BuildHistogram(), r, "zendesk_forwarder_api_request_duration_seconds",
                                  "Latency of Access Logs API requests, including the body transfer.")
                               .Add(histogram_labels_, prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60})),
      rate_limit_hits(ZF_COUNTER("zendesk_forwarder_rate_limit_hits_total", "429 responses received from the API.")),
      rate_limit_wait_reset(metric_family(BuildCounter(), r, "zendesk_forwarder_rate_limit_wait_seconds_total",
                                   "Seconds spent waiting on the rate limit, by cause.")
                                .Add(with({{"cause", "reset"}}))),
      rate_limit_wait_budget(metric_family(BuildCounter(), r, "zendesk_forwarder_rate_limit_wait_seconds_total",
                                    "Seconds spent waiting on the rate limit, by cause.")
                                 .Add(with({{"cause", "budget"}}))),
      rate_limit_budget(ZF_GAUGE("zendesk_forwarder_rate_limit_budget_requests",
                                 "Requests the forwarder allows itself per rate-limit period.")),
      rate_limit_period(ZF_GAUGE("zendesk_forwarder_rate_limit_period_seconds", "Length of the rate-limit period.")),
      rate_limit_in_use(ZF_GAUGE("zendesk_forwarder_rate_limit_requests_in_period",
                                 "Requests made within the current rate-limit period.")),
      duplicates_dropped(ZF_COUNTER("zendesk_forwarder_duplicates_dropped_total",
                                    "Events a late read (or a re-read after a restart) dropped: their id was already shipped.")),
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
      api_requests_family_(metric_family(BuildCounter(), r, "zendesk_forwarder_api_requests_total",
                                  "Access Logs API requests by HTTP status class.")),
      api_page_requests_family_(metric_family(BuildCounter(), r, "zendesk_forwarder_api_page_requests_total",
                                       "Access Logs API page requests by read: first or late.")),
      late_read_windows_family_(metric_family(BuildCounter(), r, "zendesk_forwarder_late_read_windows_total",
                                       "Windows whose late read was done (reread) or given up (skipped).")),
      api_retries_family_(metric_family(BuildCounter(), r, "zendesk_forwarder_api_retries_total",
                                 "API requests retried, by reason.")),
      api_errors_family_(metric_family(BuildCounter(), r, "zendesk_forwarder_api_errors_total",
                                "API answers that need an operator (auth, permission, add-on, bad setting).")),
      enrich_records_family_(metric_family(BuildCounter(), r, "zendesk_forwarder_enrich_records_total",
                                    "Records shipped with the actor's name (named) or without it (unnamed: the Users "
                                    "API was down, slow or out of budget).")),
      enrich_cache_family_(metric_family(BuildCounter(), r, "zendesk_forwarder_enrich_cache_lookups_total",
                                  "User ids looked up in the name cache, by result (hit, miss).")),
      users_api_family_(metric_family(BuildCounter(), r, "zendesk_forwarder_users_api_requests_total",
                               "Users API requests (show_many) by outcome (ok, failed, rate_limited).")),
      webhook_missed_family_(metric_family(BuildCounter(), r, "zendesk_forwarder_webhook_missed_total",
                                    "Events a pull source found that its push source (dedup_with) had not delivered: "
                                    "the measured push loss.")) {}

#undef ZF_COUNTER
#undef ZF_GAUGE

prometheus::Counter& PullMetrics::api_requests(const std::string& status_class) {
  return api_requests_family_.Add(with({{"status_class", status_class}}));
}
prometheus::Counter& PullMetrics::api_retries(const std::string& reason) {
  return api_retries_family_.Add(with({{"reason", reason}}));
}
prometheus::Counter& PullMetrics::api_page_requests(const std::string& read) {
  return api_page_requests_family_.Add(with({{"read", read}}));
}
prometheus::Counter& PullMetrics::late_read_windows(const std::string& outcome) {
  return late_read_windows_family_.Add(with({{"outcome", outcome}}));
}
prometheus::Counter& PullMetrics::api_errors(const std::string& kind) { return api_errors_family_.Add(with({{"kind", kind}})); }
prometheus::Counter& PullMetrics::enrich_records(const std::string& outcome) {
  return enrich_records_family_.Add(with({{"outcome", outcome}}));
}
prometheus::Counter& PullMetrics::enrich_cache_lookups(const std::string& result) {
  return enrich_cache_family_.Add(with({{"result", result}}));
}
prometheus::Counter& PullMetrics::users_api_requests(const std::string& outcome) {
  return users_api_family_.Add(with({{"outcome", outcome}}));
}
prometheus::Counter& PullMetrics::webhook_missed() { return webhook_missed_family_.Add(labels_); }

prometheus::Labels PullMetrics::with(prometheus::Labels more) const {
  more.insert(labels_.begin(), labels_.end());
  return more;
}

}  // namespace zf
