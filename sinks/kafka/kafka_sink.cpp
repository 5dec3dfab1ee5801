// Kafka sink: every record becomes one message (key = event id, value = the
// normalized record, headers = account, schema version, source). A batch is
// acknowledged from librdkafka's delivery reports only: Delivered once every
// message of it is in the log with acks=all, never on enqueue.
#include "kafka/kafka_sink.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "log/logger.h"

namespace zf::sinks::kafka {

namespace {

struct Settings {
  std::map<std::string, std::string> properties;  // everything handed to librdkafka
  std::string topic_template;                     // may contain {account}
  std::chrono::milliseconds flush_timeout{10'000};
};

// Delivery errors that no retry can fix: the operator must act.
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

class KafkaSink final : public Sink {
 public:
  KafkaSink(const Settings& s, const SinkContext& ctx) : settings_(s), log_(ctx.log), name_(ctx.name) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    for (const auto& [k, v] : s.properties)
      if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        throw std::runtime_error(std::string("kafka property ") + k + ": " + err);
      }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaSink::on_delivery);
    rd_kafka_conf_set_log_cb(conf, &KafkaSink::on_log);
    rd_kafka_conf_set_error_cb(conf, &KafkaSink::on_error);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk_) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(std::string("cannot create the Kafka producer: ") + err);
    }
    poller_ = std::thread([this] {
      while (!closing_) rd_kafka_poll(rk_, 100);
    });
  }

  ~KafkaSink() override { close(settings_.flush_timeout); }

  void send(BatchPtr batch, AckCallback on_ack) override {
    auto* pending = new Pending{batch, std::move(on_ack), {batch->records.size()}, DeliveryStatus::Delivered, "", false};
    {
      std::lock_guard lock(mu_);
      pending_[pending->batch->seq] = pending;
    }
    std::string topic = topic_for(batch->account);
    std::string schema = std::to_string(kSchemaVersion);
    for (const Record& r : batch->records) {
      for (;;) {
        // The payload is not copied: the batch outlives every delivery report.
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(0),
            RD_KAFKA_V_KEY(r.id.data(), r.id.size()), RD_KAFKA_V_VALUE(const_cast<char*>(r.json.data()), r.json.size()),
            RD_KAFKA_V_HEADER("zendesk-account", batch->account.data(), static_cast<ssize_t>(batch->account.size())),
            RD_KAFKA_V_HEADER("schema-version", schema.data(), static_cast<ssize_t>(schema.size())),
            RD_KAFKA_V_HEADER("source", kProduct, -1), RD_KAFKA_V_OPAQUE(pending), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !closing_) {
          rd_kafka_poll(rk_, 50);  // the local queue drains as brokers acknowledge
          continue;
        }
        message_done(pending, err);
        break;
      }
    }
    if (batch->records.empty()) message_done(pending, RD_KAFKA_RESP_ERR_NO_ERROR, /*count=*/0);
  }

  bool flush(std::chrono::milliseconds timeout) override {
    rd_kafka_flush(rk_, static_cast<int>(timeout.count()));
    std::unique_lock lock(mu_);
    return done_cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return pending_.empty(); });
  }

  void close(std::chrono::milliseconds timeout) override {
    if (!rk_) return;
    flush(timeout);
    closing_ = true;
    if (poller_.joinable()) poller_.join();
    std::map<uint64_t, Pending*> left;
    {
      std::lock_guard lock(mu_);
      left.swap(pending_);
    }
    // Messages still in librdkafka's queue are purged; their delivery
    // reports come back as purged and must not ack anything twice.
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk_, 0);
    for (auto& [seq, p] : left) {
      p->ack(Ack{seq, DeliveryStatus::Retriable, "kafka sink \"" + name_ + "\" closed before delivery completed"});
      p->orphaned = true;
    }
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
    for (auto& [seq, p] : left) delete p;
  }

 private:
  struct Pending {
    BatchPtr batch;
    AckCallback ack;
    std::atomic<size_t> remaining;  // delivery reports still to come
    DeliveryStatus status;          // guarded by mu_
    std::string error;              // guarded by mu_
    bool orphaned = false;          // guarded by mu_
  };

  std::string topic_for(const std::string& account) const {
    std::string t = settings_.topic_template;
    for (size_t pos = t.find("{account}"); pos != std::string::npos; pos = t.find("{account}"))
      t.replace(pos, 9, account);
    return t;
  }

  void message_done(Pending* p, rd_kafka_resp_err_t err, size_t count = 1) {
    // Delivery reports arrive once per message: the common case (success,
    // not the batch's last message) takes no lock.
    bool last = count == 0 || p->remaining.fetch_sub(count) == count;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) record_error(p, err);
    if (!last) return;
    Ack ack;
    AckCallback cb;
    {
      std::lock_guard lock(mu_);
      if (p->orphaned) return;
      pending_.erase(p->batch->seq);
      ack = Ack{p->batch->seq, p->status, p->status == DeliveryStatus::Delivered ? "" : "kafka: " + p->error};
      cb = std::move(p->ack);
    }
    done_cv_.notify_all();
    delete p;
    cb(std::move(ack));
  }

  void record_error(Pending* p, rd_kafka_resp_err_t err) {
    std::lock_guard lock(mu_);
    if (p->status == DeliveryStatus::Permanent) return;
    p->status = is_permanent(err) ? DeliveryStatus::Permanent : DeliveryStatus::Retriable;
    p->error = std::string(rd_kafka_err2name(err)) + ": " + rd_kafka_err2str(err) + " (" + advice(err) + ")";
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<KafkaSink*>(opaque);
    auto* p = static_cast<Pending*>(m->_private);
    if (!p || m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) return;
    self->message_done(p, m->err);
  }

  static void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    auto* self = static_cast<KafkaSink*>(rd_kafka_opaque(rk));
    LogLevel l = level <= 3 ? LogLevel::Error : level <= 4 ? LogLevel::Warn : level <= 6 ? LogLevel::Info : LogLevel::Debug;
    self->log_.log(l, "librdkafka", {{"sink", self->name_}, {"facility", fac}, {"message", buf}});
  }

  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<KafkaSink*>(opaque);
    char fatal[512];
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      rd_kafka_fatal_error(rk, fatal, sizeof fatal);
      self->log_.error("kafka producer fatal error; batches will fail permanently",
                       {{"sink", self->name_}, {"error", fatal}});
      return;
    }
    // Transport errors (broker down) are retried by librdkafka; say so once
    // in a while, not per message.
    self->log_.warn("kafka client error", {{"sink", self->name_}, {"error", reason},
                                           {"code", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))}});
  }

  Settings settings_;
  Logger& log_;
  std::string name_;
  rd_kafka_t* rk_ = nullptr;
  std::atomic<bool> closing_{false};
  std::thread poller_;
  std::mutex mu_;
  std::condition_variable done_cv_;
  std::map<uint64_t, Pending*> pending_;
};

bool looks_secret(const std::string& property) {
  for (const char* word : {"password", "secret", "token", "key"})
    if (property.find(word) != std::string::npos && property != "ssl.key.location" && property != "ssl.keystore.location")
      return true;
  return false;
}

}  // namespace

SinkBuilder configure(const ConfigNode& section) {
  Settings s;
  std::string brokers = section.require_string("brokers");
  s.topic_template = section.require_string("topic");
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
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : s.properties)
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      section.fail("properties." + k, std::string("librdkafka rejects it: ") + err);
    }
  rd_kafka_conf_destroy(conf);
  return [s](const SinkContext& ctx) { return std::make_unique<KafkaSink>(s, ctx); };
}

}  // namespace zf::sinks::kafka
