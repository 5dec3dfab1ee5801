// Sends N realistic records through the syslog sink (TCP, RFC 5424,
// octet counting) and reports messages per second once every batch is
// acknowledged, and the average message size (for loggen's --size).
// usage: bench_syslog_sink HOST PORT N
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <sstream>

#include "config/config_node.h"
#include "log/logger.h"
#include "metrics/metrics.h"
#include "syslog/format.h"
#include "syslog/syslog_sink.h"
#include "tools/bench_records.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: bench_syslog_sink HOST PORT N\n";
    return 2;
  }
  size_t n = std::stoul(argv[3]);
  auto batches = zf::bench::make_batches(n);
  size_t bytes = 0;
  zf::sinks::syslog::FormatSettings fs;
  for (const auto& b : batches)
    for (const auto& r : b->records) bytes += zf::sinks::syslog::format_message(r, fs).size();

  std::ostringstream logs;
  zf::Logger log(logs, zf::LogLevel::Warn);
  zf::ProcessMetrics process_metrics("bench");
  auto build = zf::sinks::syslog::configure(zf::ConfigNode::load_string(
      std::string("host: ") + argv[1] + "\nport: " + argv[2] + "\ntransport: tcp\n"));
  auto sink = build(zf::SinkContext{"syslog", log, process_metrics.registry()});
  auto run = zf::bench::drive(*sink, batches, 4);
  double secs = run.seconds;
  size_t failed = run.failed_batches;
  sink->close(std::chrono::seconds(5));
  std::cout << n << " " << secs << " " << failed << " " << bytes / n << "\n";
  return failed ? 1 : 0;
}
