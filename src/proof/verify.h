#pragma once
// `verify`: is every access event Zendesk holds for a period in the sinks?
// Lists the API's events for [since, until) within a share of each
// source's request budget, reads back what each sink holds (jsonl files
// with their rotations, Kafka topics; syslog cannot be read back), and
// reports what is missing, duplicated or unknown. `repair` ships the
// missing events to the sinks that lack them, through the normal pipeline.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "app/app_config.h"
#include "core/stop_signal.h"
#include "log/logger.h"

namespace zf::app {

struct VerifyOptions {
  int64_t since_s = 0, until_s = 0;  // [since, until), unix seconds
  bool repair = false;
  // Compare the API's listing with the delivery ledger minute by minute
  // and read the sinks only for the minutes that differ.
  bool ledger = false;
  // Continue the API listing an interrupted verify of the same period left.
  bool resume = false;
  std::string state_dir;  // for interrupted listings; "" = beside each checkpoint
  std::string report_path;           // the report as JSON; "" = none
  double budget_share = 0.5;         // of each source's rate_limit.requests
  // The outcome as Prometheus metrics: written to a file (node_exporter's
  // textfile collector) and/or PUT to a Pushgateway (a CronJob has no
  // endpoint to scrape). "" = not.
  std::string metrics_file;
  std::string pushgateway_url;
  // The sinks whose holding is to be proved (--sink); empty = every sink.
  // A sink that cannot be read back is never proved: leaving it out is how
  // a verify proves the others alone.
  std::vector<std::string> sinks;
};

// Why verify must not start with these options (exit 2), naming the sink or
// option and what to do instead; "" when it may.
std::string verify_refusal(const AppConfig& config, const VerifyOptions& options);

// 0 only when the period is proved: every source's events listed by the
// API and found in every chosen sink (or repaired). 1 when events are
// missing, or when something could not be verified (a sink that cannot be
// read back, a webhook source whose account has no API credentials in the
// config): never a pass that checked nothing.
int run_verify(const AppConfig& config, const VerifyOptions& options, Logger& log, StopSignal& stop);

}  // namespace zf::app
