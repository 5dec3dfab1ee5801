// Produces N realistic normalized records through the Kafka sink and
// reports messages per second; also writes the same records as
// "key<TAB>value" lines so `kcat -P` can produce them for the baseline.
// usage: bench_kafka_sink BOOTSTRAP TOPIC N KCAT_INPUT_FILE
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include "config/config_node.h"
#include "kafka/kafka_sink.h"
#include "log/logger.h"
#include "metrics/metrics.h"
#include "tools/bench_records.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: bench_kafka_sink BOOTSTRAP TOPIC N KCAT_INPUT_FILE\n";
    return 2;
  }
  std::string bootstrap = argv[1], topic = argv[2];
  size_t n = std::stoul(argv[3]);
  const size_t batch_size = 2500;
  // As pipeline.max_inflight_batches; ZF_BENCH_INFLIGHT overrides.
  const size_t max_inflight = getenv("ZF_BENCH_INFLIGHT") ? std::stoul(getenv("ZF_BENCH_INFLIGHT")) : 4;

  auto batches = zf::bench::make_batches(n, batch_size);
  std::ofstream kcat(argv[4]);
  for (const auto& b : batches)
    for (const auto& r : b->records) kcat << r.id << '\t' << r.json << '\n';
  kcat.close();

  std::ostringstream logs;
  zf::Logger log(logs, zf::LogLevel::Warn);
  zf::Metrics metrics("acme", "bench");
  auto build = zf::sinks::kafka::configure(
      zf::ConfigNode::load_string("brokers: " + bootstrap + "\ntopic: " + topic + "\n" +
                                  (getenv("ZF_BENCH_LINGER_MS") ? std::string("linger_ms: ") + getenv("ZF_BENCH_LINGER_MS") + "\n" : "")));
  auto sink = build(zf::SinkContext{"kafka", log, metrics.registry()});

  auto run = zf::bench::drive(*sink, batches, max_inflight);
  double secs = run.seconds;
  size_t failed = run.failed_batches;
  sink->close(std::chrono::seconds(5));
  std::cout << n << " " << secs << " " << failed << "\n";
  return failed ? 1 : 0;
}
