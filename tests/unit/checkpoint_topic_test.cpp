// How a start finds its position and pieces in the checkpoint topic
// (sinks/kafka/checkpoint_topic.cpp), against librdkafka's in-process mock
// cluster: the newest value of each key wins across and within the reads,
// tombstones delete, and the starts that follow within the reader's memory
// read only what was committed since.
#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <optional>
#include <string>

#include "config/config_node.h"
#include "kafka/kafka_settings.h"
#include "kafka/kafka_sink.h"

using namespace zf;

namespace {

class CheckpointTopic {
 public:
  CheckpointTopic() {
    rk_ = sinks::kafka::new_client(RD_KAFKA_PRODUCER,
                                   sinks::kafka::to_conf({{"test.mock.num.brokers", "1"}, {"log_level", "0"}}));
    rd_kafka_mock_topic_create(rd_kafka_handle_mock_cluster(rk_), "checkpoints", 1, 1);
    bootstrap_ = rd_kafka_mock_cluster_bootstraps(rd_kafka_handle_mock_cluster(rk_));
    producer_ = sinks::kafka::new_client(RD_KAFKA_PRODUCER, sinks::kafka::to_conf({{"bootstrap.servers", bootstrap_},
                                                                                  {"log_level", "0"}}));
  }
  ~CheckpointTopic() {
    rd_kafka_destroy(producer_);
    rd_kafka_destroy(rk_);
  }
  // nullopt: a tombstone.
  void put(const std::string& key, const std::optional<std::string>& value) {
    char* data = value ? const_cast<char*>(value->data()) : nullptr;
    size_t size = value ? value->size() : 0;
    REQUIRE(rd_kafka_producev(producer_, RD_KAFKA_V_TOPIC("checkpoints"), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(data, size),
                              RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void fillers(int n) {
    for (int i = 0; i < n; ++i) put("other", "position " + std::to_string(i));
  }
  void flush() { REQUIRE(rd_kafka_flush(producer_, 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR); }
  PositionReader reader() const {
    return sinks::kafka::position_reader(ConfigNode::load_string(
        "brokers: " + bootstrap_ + "\ntopic: events\nexactly_once: true\ncheckpoint_topic: checkpoints\n"));
  }

 private:
  rd_kafka_t* rk_;
  rd_kafka_t* producer_;
  std::string bootstrap_;
};

}  // namespace

TEST_CASE("checkpoint topic (#30): pieces further back than the tail are found, newest value first; "
          "the next starts read only what came since") {
  CheckpointTopic topic;
  topic.fillers(50);
  topic.put("acme/ids/w1/0", "older");
  topic.fillers(50);
  topic.put("acme/ids/w1/0", "newer");  // in the same older stretch as "older": it must win there too
  topic.put("acme/ids/w1/1", "deleted");
  topic.put("acme/ids/w1/1", std::nullopt);
  topic.fillers(700);  // further back than one tail of 512
  topic.put("acme", "position of acme");
  topic.flush();

  PositionReader read = topic.reader();
  std::set<std::string> asked;
  auto kept = read("acme", [&](const std::string& position) {
    asked.insert(position);
    return std::set<std::string>{"ids/w1/0", "ids/w1/1"};
  });
  REQUIRE(kept);
  CHECK(kept->position == "position of acme");
  CHECK(asked == std::set<std::string>{"position of acme"});
  CHECK(kept->pieces == std::map<std::string, std::string>{{"ids/w1/0", "newer"}});  // w1/1 was deleted
  CHECK(kept->cost.rounds == 2);  // the tail, then the stretch before it: the topic's start
  CHECK(kept->cost.messages == 805);

  // Another account's start a moment later: nothing was committed since.
  auto other = read("other", nullptr);
  REQUIRE(other);
  CHECK(other->position == "position 699");
  CHECK(other->cost.messages == 0);
  // A position committed since is read, and only it.
  topic.put("other", "moved on");
  topic.flush();
  other = read("other", nullptr);
  REQUIRE(other);
  CHECK(other->position == "moved on");
  CHECK(other->cost.messages == 1);
  // A source with no position reads to the topic's start: all of it was read.
  CHECK_FALSE(read("globex", nullptr));
}
