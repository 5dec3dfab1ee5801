#pragma once
// The pull source's own series (the Access Logs API, its budget, windows
// and late reads, enrichment, push dedup): only a zendesk_pull source makes
// them, so a process without one exports none of them (a webhook-only
// config must not show a retention margin of 0 and fire RetentionEdge).
// Same labels as the source's Metrics: {source, account}.
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "metrics/metrics.h"

namespace zf {

class PullMetrics {
  prometheus::Labels labels_;  // first: on every series below
  prometheus::Labels histogram_labels_;  // labels_, or all_sources() when histograms are per process

 public:
  PullMetrics(ProcessMetrics& process, std::string source, std::string account);

  // status_class: 2xx, 3xx, 4xx, 429, 5xx, transport (no HTTP status).
  prometheus::Counter& api_requests(const std::string& status_class);
  prometheus::Histogram& api_request_duration;  // seconds
  // reason: 429, 5xx, transport, body, auth
  prometheus::Counter& api_retries(const std::string& reason);
  // kind: auth (401), forbidden (403), not_found (404), bad_request (400)
  prometheus::Counter& api_errors(const std::string& kind);
  // read: first (a window as it closes), late (the same window late_read_delay later)
  prometheus::Counter& api_page_requests(const std::string& read);
  // Enrichment (enrich.users): records shipped named or unnamed, the name
  // cache's hits and misses, and Users API requests by outcome.
  prometheus::Counter& enrich_records(const std::string& outcome);
  prometheus::Counter& enrich_cache_lookups(const std::string& result);
  prometheus::Counter& users_api_requests(const std::string& outcome);
  // Beside a push source (dedup_with): events only the pull found.
  prometheus::Counter& webhook_missed();
  prometheus::Counter& rate_limit_hits;          // 429 responses
  prometheus::Counter& rate_limit_wait_reset;    // seconds waited for ratelimit-reset
  prometheus::Counter& rate_limit_wait_budget;   // seconds waited pacing to our own budget
  prometheus::Gauge& rate_limit_budget;          // configured requests per period
  prometheus::Gauge& rate_limit_period;          // configured period, seconds
  prometheus::Gauge& rate_limit_in_use;          // requests made within the current period
  prometheus::Counter& duplicates_dropped;
  prometheus::Gauge& last_fetch_success_ts;      // unix seconds
  prometheus::Gauge& backfill_position_ts;       // start of the window being read
  prometheus::Gauge& backfill_remaining;         // seconds between position and the window end target
  prometheus::Gauge& retention_margin;           // seconds before the position falls out of 90-day retention
  // outcome: reread (late read done), skipped (given up past late_read_max_backlog)
  prometheus::Counter& late_read_windows(const std::string& outcome);
  prometheus::Counter& late_read_skipped_events;  // first-read events of windows never read again
  prometheus::Counter& late_events;               // events only a late read found
  prometheus::Gauge& late_read_pending_windows;
  prometheus::Gauge& late_read_backlog_seconds;   // how overdue the oldest pending late read is
  prometheus::Gauge& late_read_coverage_ratio;    // event time re-read / event time due a late read

 private:
  PullMetrics(prometheus::Registry& registry, prometheus::Labels labels, bool per_source_histograms = true);
  prometheus::Labels with(prometheus::Labels more) const;
  prometheus::Family<prometheus::Counter>& api_requests_family_;
  prometheus::Family<prometheus::Counter>& api_page_requests_family_;
  prometheus::Family<prometheus::Counter>& late_read_windows_family_;
  prometheus::Family<prometheus::Counter>& api_retries_family_;
  prometheus::Family<prometheus::Counter>& api_errors_family_;
  prometheus::Family<prometheus::Counter>& enrich_records_family_;
  prometheus::Family<prometheus::Counter>& enrich_cache_family_;
  prometheus::Family<prometheus::Counter>& users_api_family_;
  prometheus::Family<prometheus::Counter>& webhook_missed_family_;
};

}  // namespace zf
