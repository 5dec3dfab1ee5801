#pragma once
// What the Kafka sink's clients share: its settings as read from the config,
// the topic naming, and how broker errors are classified and explained.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <stdexcept>
#include <map>
#include <memory>
#include <vector>
#include <optional>
#include <string>

#include "config/config_node.h"
#include "encode/encoder.h"

namespace zf::sinks::kafka {

// exactly_once: records and the source's position in one transaction.
struct ExactlyOnce {
  std::string transactional_id;  // "" = zendesk-forwarder-<source names, "+"-joined>
  std::string checkpoint_topic;
  size_t batches_per_transaction = 4;
  std::chrono::milliseconds transaction_timeout{60'000};
};

struct Settings {
  std::map<std::string, std::string> properties;  // everything handed to librdkafka
  std::string topic_template;                     // may contain {account}
  std::chrono::milliseconds flush_timeout{10'000};
  encode::Encoding encoding = encode::Encoding::EcsJson;
  std::optional<ExactlyOnce> exactly_once;
};

// Reads the `kafka` sink's section; throws ConfigError naming the key.
Settings read_settings(const ConfigNode& section);

// The one place properties become a librdkafka configuration: the config
// check, both producers and the readers' consumer build theirs here, so a
// property is accepted or refused alike everywhere.
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, void (*)(rd_kafka_conf_t*)>;
struct PropertyRejected : std::runtime_error {
  PropertyRejected(std::string property, const std::string& why)
      : std::runtime_error("kafka property " + property + ": " + why), property(std::move(property)), why(why) {}
  std::string property;
  std::string why;  // librdkafka's words
};
ConfPtr to_conf(const std::map<std::string, std::string>& properties);  // throws PropertyRejected
// The producer's configuration: the sink's properties, with the
// transactional id when exactly_once runs ("" = none).
ConfPtr producer_conf(const Settings& s, const std::string& transactional_id = "");
// Makes the client from `conf`, which it takes over even when it fails;
// throws std::runtime_error saying what could not be created.
rd_kafka_t* new_client(rd_kafka_type_t type, ConfPtr conf);

std::string topic_of(std::string topic_template, const std::string& account);
// Delivery errors that no retry can fix: the operator must act.
bool is_permanent(rd_kafka_resp_err_t err);
// What to do about `err`, for the error messages.
std::string advice(rd_kafka_resp_err_t err);
// A read_committed consumer with the sink's connection and security
// properties (the producer's own settings do not apply to it). Throws
// std::runtime_error.
rd_kafka_t* new_consumer(const Settings& s);
using ConsumerPtr = std::unique_ptr<rd_kafka_t, void (*)(rd_kafka_t*)>;
ConsumerPtr new_consumer_ptr(const Settings& s);  // closed and destroyed when it goes
// The partitions of `topic`; throws std::runtime_error naming the topic.
std::vector<int32_t> partitions_of(rd_kafka_t* rk, const std::string& topic);

}  // namespace zf::sinks::kafka
