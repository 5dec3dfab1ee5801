// The Kafka sink's side of the sink contract, against librdkafka's
// in-process mock cluster: one acknowledgement per batch, from delivery
// reports only; nothing Delivered while the brokers are down; a bounded
// close that hands every unacknowledged batch back as Retriable; permanent
// broker errors reported as Permanent with their cause.
#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <sstream>

#include "config/config_node.h"
#include "kafka/kafka_settings.h"
#include "kafka/kafka_sink.h"
#include "log/logger.h"
#include "metrics/metrics.h"
#include "test_batches.h"

using namespace zf;
using zf::testing::make_batch;
using namespace std::chrono_literals;

namespace {

class MockCluster {
 public:
  MockCluster() {
    rk_ = sinks::kafka::new_client(RD_KAFKA_PRODUCER,
                                   sinks::kafka::to_conf({{"test.mock.num.brokers", "3"}, {"log_level", "0"}}));
    mc_ = rd_kafka_handle_mock_cluster(rk_);
    rd_kafka_mock_topic_create(mc_, "events", 3, 3);
  }
  ~MockCluster() { rd_kafka_destroy(rk_); }
  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(mc_); }
  void set_all_brokers(bool up) {
    for (int b = 1; b <= 3; ++b) up ? rd_kafka_mock_broker_set_up(mc_, b) : rd_kafka_mock_broker_set_down(mc_, b);
  }
  void push_produce_errors(int count, rd_kafka_resp_err_t err) {
    std::vector<rd_kafka_resp_err_t> errs(count, err);
    rd_kafka_mock_push_request_errors_array(mc_, 0 /* Produce */, errs.size(), errs.data());
  }

 private:
  rd_kafka_t* rk_;
  rd_kafka_mock_cluster_t* mc_;
};

// Acknowledgements as the pipeline would see them, from any thread.
struct Acks {
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, std::vector<Ack>> by_seq;
  AckCallback callback() {
    return [this](Ack a) {
      std::lock_guard lock(mu);
      by_seq[a.seq].push_back(std::move(a));
      cv.notify_all();
    };
  }
  bool wait_for(size_t batches, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return by_seq.size() >= batches; });
  }
  size_t count() {
    std::lock_guard lock(mu);
    return by_seq.size();
  }
};

struct Harness {
  MockCluster cluster;
  std::ostringstream logs;
  Logger log{logs, LogLevel::Warn};
  ProcessMetrics process_metrics{"test"};
  std::unique_ptr<Sink> sink;
  explicit Harness(const std::string& extra = "") {
    auto build = sinks::kafka::configure(ConfigNode::load_string(
        "brokers: " + cluster.bootstrap() + "\ntopic: events\nmessage_timeout_ms: 30000\n" + extra));
    sink = build(SinkContext{"kafka", log, process_metrics.registry()});
  }
};

}  // namespace

TEST_CASE("kafka sink: every batch, empty ones too, is acknowledged once, Delivered, under its own seq") {
  Harness h;
  Acks acks;
  for (uint64_t seq = 1; seq <= 5; ++seq) h.sink->send(make_batch(seq, seq == 3 ? 0 : 50), acks.callback());
  REQUIRE(acks.wait_for(5, 20s));
  REQUIRE(h.sink->flush(1s));
  for (auto& [seq, list] : acks.by_seq) {
    uint64_t batch = seq;  // CAPTURE cannot take a structured binding under clang
    CAPTURE(batch);
    REQUIRE(list.size() == 1);
    CHECK(list[0].status == DeliveryStatus::Delivered);
    CHECK(list[0].error.empty());
  }
}

TEST_CASE("kafka sink: nothing is Delivered while every broker is down; close is bounded and hands batches back") {
  Harness h;
  Acks warmup;
  h.sink->send(make_batch(1, 10), warmup.callback());  // connected, topic known
  REQUIRE(warmup.wait_for(1, 20s));
  h.cluster.set_all_brokers(false);
  Acks acks;
  h.sink->send(make_batch(2, 100), acks.callback());
  h.sink->send(make_batch(3, 100), acks.callback());
  CHECK_FALSE(h.sink->flush(1500ms));
  CHECK(acks.count() == 0);

  auto t0 = std::chrono::steady_clock::now();
  h.sink->close(500ms);
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < 5s);
  REQUIRE(acks.count() == 2);
  for (auto& [seq, list] : acks.by_seq) {
    uint64_t batch = seq;
    CAPTURE(batch);
    REQUIRE(list.size() == 1);
    CHECK(list[0].status == DeliveryStatus::Retriable);
    CHECK(list[0].error.find("closed before delivery completed") != std::string::npos);
  }

  Acks late;
  h.sink->send(make_batch(4, 1), late.callback());
  REQUIRE(late.count() == 1);
  CHECK(late.by_seq[4][0].status == DeliveryStatus::Retriable);
}

TEST_CASE("kafka sink: a permanent broker error fails the batch as Permanent, naming the cause") {
  Harness h;
  Acks warmup;
  h.sink->send(make_batch(1, 1), warmup.callback());
  REQUIRE(warmup.wait_for(1, 20s));
  h.cluster.push_produce_errors(100, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  Acks acks;
  h.sink->send(make_batch(2, 20), acks.callback());
  REQUIRE(acks.wait_for(1, 20s));
  auto& ack = acks.by_seq[2].at(0);
  CHECK(ack.status == DeliveryStatus::Permanent);
  CHECK(ack.error.find("TOPIC_AUTHORIZATION_FAILED") != std::string::npos);
  CHECK(ack.error.find("grant this client Write") != std::string::npos);
}

TEST_CASE("kafka sink (#13): encoding: cef ships each record as one CEF event, keyed by its id") {
  Harness h("encoding: cef\n");
  Acks acks;
  h.sink->send(make_batch(1, 20), acks.callback());
  REQUIRE(acks.wait_for(1, 20s));
  REQUIRE(acks.by_seq[1][0].status == DeliveryStatus::Delivered);

  rd_kafka_t* consumer = sinks::kafka::new_client(
      RD_KAFKA_CONSUMER,
      sinks::kafka::to_conf({{"bootstrap.servers", h.cluster.bootstrap()}, {"group.id", "cef-test"}, {"log_level", "0"}}));
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(3);
  for (int p = 0; p < 3; ++p)
    rd_kafka_topic_partition_list_add(parts, "events", p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(consumer, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::map<std::string, std::string> by_key;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (by_key.size() < 20 && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 200);
    if (!m) continue;
    if (!m->err)
      by_key[std::string(static_cast<const char*>(m->key), m->key_len)] =
          std::string(static_cast<const char*>(m->payload), m->len);
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  REQUIRE(by_key.size() == 20);
  for (const auto& [key, value] : by_key) {
    const std::string& message = value;
    CAPTURE(message);
    CHECK(value.rfind("CEF:0|Zendesk|Access Logs|2|", 0) == 0);
    CHECK(value.find("externalId=" + key) != std::string::npos);
    CHECK(value.find("cs3=acme") != std::string::npos);
  }
}
