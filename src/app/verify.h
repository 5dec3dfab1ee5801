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
};

// The event id and time (unix ms) of one record as a sink holds it, in the
// sink's encoding; nullopt when it is not one of ours.
struct RecordKey {
  std::string id;
  int64_t time_ms = 0;
};
std::optional<RecordKey> key_of(encode::Encoding encoding, std::string_view record, simdjson::dom::parser& parser);

// 0 when nothing is missing (or everything missing was repaired), 1 when
// events are missing or a sink could not be read.
int run_verify(const AppConfig& config, const VerifyOptions& options, Logger& log, StopSignal& stop);

}  // namespace zf::app
