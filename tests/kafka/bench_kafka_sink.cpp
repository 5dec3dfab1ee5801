// The Kafka sink's half of tests/kafka/bench_kafka.sh.
//   bench_kafka_sink write N FILE
//       N realistic normalized records as "key<TAB>value" lines: the input
//       of both the sink and `kcat -P -K '\t'`, so both send the same bytes.
//   bench_kafka_sink produce BOOTSTRAP TOPIC FILE
//       Sends FILE through the Kafka sink in pipeline-sized batches and
//       prints "messages seconds failed_batches". The clock runs from
//       building the sink (the producer connects) to close() returning, as
//       kcat's runs from its start to its exit.
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "config/config_node.h"
#include "kafka/kafka_sink.h"
#include "log/logger.h"
#include "metrics/metrics.h"
#include "tools/bench_records.h"

namespace {

std::vector<zf::BatchPtr> read_batches(const std::string& path, size_t batch_size) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<zf::BatchPtr> batches;
  std::shared_ptr<zf::Batch> batch;
  std::string line;
  while (std::getline(in, line)) {
    if (!batch || batch->records.size() == batch_size) {
      batch = std::make_shared<zf::Batch>();
      batch->seq = batches.size() + 1;
      batch->account = "acme";
      batches.push_back(batch);
    }
    size_t tab = line.find('\t');
    if (tab == std::string::npos) throw std::runtime_error(path + ": a line without a tab");
    zf::Record r;
    r.event.id = line.substr(0, tab);
    r.json = line.substr(tab + 1);
    batch->records.push_back(std::move(r));
  }
  return batches;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "write" && argc == 4) {
    std::ofstream out(argv[3]);
    for (const auto& b : zf::bench::make_batches(std::stoul(argv[2])))
      for (const auto& r : b->records) out << r.event.id << '\t' << r.json << '\n';
    return out ? 0 : 1;
  }
  if (mode != "produce" || argc != 5) {
    std::cerr << "usage: bench_kafka_sink write N FILE | produce BOOTSTRAP TOPIC FILE\n";
    return 2;
  }
  std::string bootstrap = argv[2], topic = argv[3];
  // As pipeline.max_inflight_batches and a full page. Knobs to explore:
  // ZF_BENCH_INFLIGHT, ZF_BENCH_LINGER_MS, and ZF_BENCH_DEBUG (librdkafka
  // debug contexts, logged to stderr).
  auto env = [](const char* name) { return std::string(getenv(name) ? getenv(name) : ""); };
  const size_t max_inflight = env("ZF_BENCH_INFLIGHT").empty() ? 4 : std::stoul(env("ZF_BENCH_INFLIGHT"));
  auto batches = read_batches(argv[4], 2500);
  size_t n = 0;
  for (const auto& b : batches) n += b->records.size();

  std::string config = "brokers: " + bootstrap + "\ntopic: " + topic + "\n";
  if (!env("ZF_BENCH_LINGER_MS").empty()) config += "linger_ms: " + env("ZF_BENCH_LINGER_MS") + "\n";
  if (!env("ZF_BENCH_DEBUG").empty()) config += "properties: {debug: \"" + env("ZF_BENCH_DEBUG") + "\"}\n";
  std::ostringstream quiet;
  const bool debug = !env("ZF_BENCH_DEBUG").empty();
  zf::Logger log(debug ? static_cast<std::ostream&>(std::cerr) : quiet, debug ? zf::LogLevel::Debug : zf::LogLevel::Warn);
  zf::ProcessMetrics process_metrics("bench");
  auto build = zf::sinks::kafka::configure(zf::ConfigNode::load_string(config));
  auto t0 = std::chrono::steady_clock::now();
  auto sink = build(zf::SinkContext{"kafka", log, process_metrics.registry()});
  auto run = zf::bench::drive(*sink, batches, max_inflight);
  sink->close(std::chrono::seconds(5));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << n << " " << secs << " " << run.failed_batches << "\n";
  return run.failed_batches ? 1 : 0;
}
