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
#include "emulator/dataset.h"
#include "kafka/kafka_sink.h"
#include "log/logger.h"
#include "metrics/metrics.h"
#include "normalize/normalizer.h"

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

  std::mt19937_64 rng(7);
  zf::normalize::Normalizer normalizer({"acme", false});
  std::vector<zf::BatchPtr> batches;
  std::ofstream kcat(argv[4]);
  int64_t ts = 1795000000000;
  for (size_t i = 0; i < n;) {
    auto b = std::make_shared<zf::Batch>();
    b->seq = batches.size() + 1;
    b->account = "acme";
    for (size_t k = 0; k < batch_size && i < n; ++k, ++i) {
      auto event = zf::emulator::make_event(ts + static_cast<int64_t>(i), rng, false);
      auto r = std::get<zf::Record>(normalizer.normalize_json(event.json));
      kcat << r.id << '\t' << r.json << '\n';
      b->records.push_back(std::move(r));
    }
    batches.push_back(b);
  }
  kcat.close();

  std::ostringstream logs;
  zf::Logger log(logs, zf::LogLevel::Warn);
  zf::Metrics metrics("acme", "bench");
  auto build = zf::sinks::kafka::configure(
      zf::ConfigNode::load_string("brokers: " + bootstrap + "\ntopic: " + topic + "\n"));
  auto sink = build(zf::SinkContext{"kafka", log, metrics.registry()});

  std::mutex mu;
  std::condition_variable cv;
  size_t acked = 0, failed = 0, inflight = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& b : batches) {
    {
      // The pipeline's bound on batches in flight (pipeline.max_inflight_batches).
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return inflight < max_inflight; });
      ++inflight;
    }
    sink->send(b, [&](zf::Ack a) {
      std::lock_guard lock(mu);
      --inflight;
      ++acked;
      if (a.status != zf::DeliveryStatus::Delivered) ++failed;
      cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return acked == batches.size(); });
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sink->close(std::chrono::seconds(5));
  std::cout << n << " " << secs << " " << failed << "\n";
  return failed ? 1 : 0;
}
