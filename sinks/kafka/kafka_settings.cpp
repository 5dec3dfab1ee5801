#include "kafka/kafka_settings.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace zf::sinks::kafka {

namespace {

bool looks_secret(const std::string& property) {
  for (const char* word : {"password", "secret", "token", "key"})
    if (property.find(word) != std::string::npos && property != "ssl.key.location" && property != "ssl.keystore.location")
      return true;
  return false;
}

}  // namespace

std::string topic_of(std::string topic_template, const std::string& account) {
  for (size_t pos = topic_template.find("{account}"); pos != std::string::npos; pos = topic_template.find("{account}"))
    topic_template.replace(pos, 9, account);
  return topic_template;
}

bool is_permanent(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return true;
    default:
      return false;
  }
}

std::string advice(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
      return "raise the topic's max.message.bytes (and message.max.bytes in properties)";
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return "grant this client Write (and IdempotentWrite) on the topic";
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
      return "check the sasl.* / ssl.* properties";
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return "create the topic, or fix the sink's topic";
    default:
      return "the batch is sent again; check broker health";
  }
}

Settings read_settings(const ConfigNode& section) {
  Settings s;
  std::string brokers = section.require_string("brokers");
  s.topic_template = section.require_string("topic");
  s.encoding = encode::configure(section);
  std::string compression = section.get_enum("compression", {"none", "gzip", "snappy", "lz4", "zstd"}, "zstd");
  // The pipeline hands over whole pages, so batches fill at once; a long
  // linger would only delay the tail of each page (measured: 20 ms halves
  // throughput at 4 batches in flight).
  int64_t linger = section.get_int("linger_ms", 0, 60'000, 5);
  int64_t batch_size = section.get_int("batch_size", 1, 100'000'000, 1'000'000);
  int64_t timeout = section.get_int("message_timeout_ms", 1000, 86'400'000, 300'000);
  s.flush_timeout = section.get_duration("flush_timeout", std::chrono::milliseconds(100), std::chrono::minutes(10),
                                         s.flush_timeout);
  // Defaults first; `properties` may override any of them (documented).
  s.properties = {{"bootstrap.servers", brokers},
                  {"enable.idempotence", "true"},
                  {"acks", "all"},
                  {"compression.type", compression},
                  {"linger.ms", std::to_string(linger)},
                  {"batch.size", std::to_string(batch_size)},
                  {"batch.num.messages", "10000"},
                  {"message.timeout.ms", std::to_string(timeout)},
                  {"client.id", "zendesk-forwarder"}};
  if (section.get_bool("exactly_once", false)) {
    ExactlyOnce x;
    x.transactional_id = section.get_string("transactional_id", "");
    x.checkpoint_topic = section.get_string("checkpoint_topic", "zendesk-forwarder-checkpoints");
    x.batches_per_transaction =
        static_cast<size_t>(section.get_int("batches_per_transaction", 1, 1000, static_cast<int64_t>(x.batches_per_transaction)));
    x.transaction_timeout = section.get_duration("transaction_timeout", std::chrono::seconds(5), std::chrono::minutes(15),
                                                 x.transaction_timeout);
    // librdkafka requires a message to time out within its transaction.
    s.properties["transaction.timeout.ms"] = std::to_string(x.transaction_timeout.count());
    s.properties["message.timeout.ms"] = std::to_string(std::min<int64_t>(timeout, x.transaction_timeout.count()));
    s.exactly_once = x;
  } else {
    for (const char* key : {"transactional_id", "checkpoint_topic", "batches_per_transaction", "transaction_timeout"})
      if (section.has(key)) section.fail(key, "applies only with exactly_once: true");
  }
  for (const auto& [k, v] : section.get_string_map("properties")) {
    s.properties[k] = v;
    if (looks_secret(k)) section.add_secret(v);
  }
  // Secrets kept in files (Kubernetes Secrets mounted as volumes).
  for (const auto& [k, path] : section.get_string_map("property_files")) {
    std::ifstream in(path);
    if (!in) section.fail("property_files." + k, "cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string v = ss.str();
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
    s.properties[k] = v;
    section.add_secret(v);
  }
  // Reject unknown or invalid properties now, without connecting.
  try {
    producer_conf(s);
  } catch (const PropertyRejected& e) {
    section.fail("properties." + e.property, "librdkafka rejects it: " + e.why);
  }
  return s;
}


ConfPtr to_conf(const std::map<std::string, std::string>& properties) {
  ConfPtr conf(rd_kafka_conf_new(), rd_kafka_conf_destroy);
  char err[512];
  for (const auto& [k, v] : properties)
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      throw PropertyRejected(k, err);
  return conf;
}

ConfPtr producer_conf(const Settings& s, const std::string& transactional_id) {
  if (transactional_id.empty()) return to_conf(s.properties);
  auto properties = s.properties;
  properties["transactional.id"] = transactional_id;
  return to_conf(properties);
}

rd_kafka_t* new_client(rd_kafka_type_t type, ConfPtr conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (!rk)
    throw std::runtime_error(std::string(type == RD_KAFKA_PRODUCER ? "cannot create the Kafka producer: "
                                                                   : "cannot create a Kafka consumer: ") +
                             err);
  conf.release();  // rd_kafka_new owns it now
  return rk;
}

// A consumer with the sink's connection and security properties; the
// producer's own settings (acks, linger...) do not apply to it.
rd_kafka_t* new_consumer(const Settings& s) {
  std::map<std::string, std::string> properties;
  for (const auto& [k, v] : s.properties) {
    bool connection = k == "bootstrap.servers" || k == "client.id" || k.rfind("security.", 0) == 0 ||
                      k.rfind("sasl.", 0) == 0 || k.rfind("ssl.", 0) == 0 || k.rfind("socket.", 0) == 0;
    if (connection) properties[k] = v;
  }
  properties["group.id"] = "zendesk-forwarder-verify";
  properties["enable.auto.commit"] = "false";
  properties["isolation.level"] = "read_committed";
  properties["enable.partition.eof"] = "true";
  // Readers stop at the end: a fetch waiting for data that will not come
  // only delays them.
  properties["fetch.wait.max.ms"] = "20";
  return new_client(RD_KAFKA_CONSUMER, to_conf(properties));
}

ConsumerPtr new_consumer_ptr(const Settings& s) {
  return ConsumerPtr(new_consumer(s), [](rd_kafka_t* k) {
    rd_kafka_consumer_close(k);
    rd_kafka_destroy(k);
  });
}

std::vector<int32_t> partitions_of(rd_kafka_t* rk, const std::string& topic) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10'000);
  rd_kafka_topic_destroy(rkt);
  if (err) throw std::runtime_error("cannot read topic " + topic + "'s metadata: " + rd_kafka_err2str(err));
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> guard(md, rd_kafka_metadata_destroy);
  if (md->topic_cnt != 1 || md->topics[0].err)
    throw std::runtime_error("topic " + topic + ": " +
                             rd_kafka_err2str(md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
  std::vector<int32_t> out;
  for (int i = 0; i < md->topics[0].partition_cnt; ++i) out.push_back(md->topics[0].partitions[i].id);
  return out;
}

}  // namespace zf::sinks::kafka
