// Kafka sink: every record becomes one message (key = event id, value = the
// normalized record, headers = account, schema version, source). A batch is
// acknowledged from librdkafka's delivery reports only: Delivered once every
// message of it is in the log with acks=all, never on enqueue.
#include "kafka/kafka_sink.h"

#include "kafka/checkpoint_topic.h"
#include "kafka/kafka_settings.h"
#include "kafka/transactional_sink.h"

#include <librdkafka/rdkafka.h>

#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "encode/encoder.h"
#include "log/logger.h"

namespace zf::sinks::kafka {

namespace {

// One thread owns the producer: it produces queued batches and serves the
// delivery reports. send() only queues, so the pipeline never waits on a full
// librdkafka queue, and every message (with its headers) is allocated and
// freed on the same thread. What those allocations cost is why the
// executables link jemalloc (CMakeLists.txt, docs/KAFKA.md).
class KafkaSink final : public Sink {
 public:
  KafkaSink(const Settings& s, const SinkContext& ctx) : settings_(s), log_(ctx.log), name_(ctx.name) {
    ConfPtr conf = producer_conf(s);
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaSink::on_delivery);
    rd_kafka_conf_set_log_cb(conf.get(), &KafkaSink::on_log);
    rd_kafka_conf_set_error_cb(conf.get(), &KafkaSink::on_error);
    rk_ = new_client(RD_KAFKA_PRODUCER, std::move(conf));
    main_queue_ = rd_kafka_queue_get_main(rk_);
    io_thread_ = std::thread([this] { run(); });
  }

  ~KafkaSink() override { close(settings_.flush_timeout); }

  void send(BatchPtr batch, AckCallback on_ack) override {
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        queue_.push_back(new Pending{std::move(batch), std::move(on_ack), 0, DeliveryStatus::Delivered, ""});
        ++unacked_;
        rd_kafka_queue_yield(main_queue_);  // wakes run() out of rd_kafka_poll
        return;
      }
    }
    on_ack(Ack{batch->seq, DeliveryStatus::Retriable, "kafka sink \"" + name_ + "\" is closed"});
  }

  bool flush(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mu_);
    return idle_cv_.wait_for(lock, timeout, [&] { return unacked_ == 0; });
  }

  void close(std::chrono::milliseconds timeout) override {
    if (!rk_) return;
    flush(timeout);
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    rd_kafka_queue_yield(main_queue_);
    if (io_thread_.joinable()) io_thread_.join();
    // The I/O thread is gone: what is left belongs to this thread. Messages
    // still in librdkafka's queue are purged; their delivery reports come
    // back as purged and must not acknowledge anything twice.
    closed_ = true;
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk_, 0);
    std::vector<Pending*> left(queue_.begin(), queue_.end());
    for (auto& [seq, p] : producing_) left.push_back(p);
    queue_.clear();
    producing_.clear();
    for (Pending* p : left)
      p->ack(Ack{p->batch->seq, DeliveryStatus::Retriable, "kafka sink \"" + name_ + "\" closed before delivery completed"});
    for (auto& [name, rkt] : topics_) rd_kafka_topic_destroy(rkt);
    topics_.clear();
    rd_kafka_queue_destroy(main_queue_);
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
    for (Pending* p : left) delete p;
  }

 private:
  // A batch between send() and its acknowledgement. Touched only by the I/O
  // thread (and by close() after that thread ended).
  struct Pending {
    BatchPtr batch;
    AckCallback ack;
    size_t remaining;  // delivery reports still to come
    DeliveryStatus status;
    std::string error;
  };

  void run() {
    std::deque<Pending*> ready;
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        ready.swap(queue_);
      }
      for (Pending* p : ready) produce(p);
      ready.clear();
      // Serves delivery reports; send() and close() cut the wait short.
      rd_kafka_poll(rk_, 100);
    }
  }

  void produce(Pending* p) {
    const Batch& batch = *p->batch;
    producing_[batch.seq] = p;
    p->remaining = batch.records.size() + 1;  // +1: held until every message is queued
    rd_kafka_topic_t* topic = topic_handle(topic_for(batch.account));
    std::string schema = std::to_string(kSchemaVersion);
    for (const Record& r : batch.records) {
      if (!topic) {  // never Delivered: a failure without its own code is an invalid topic
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        message_done(p, err == RD_KAFKA_RESP_ERR_NO_ERROR ? RD_KAFKA_RESP_ERR__INVALID_ARG : err);
        continue;
      }
      // The ECS record is not copied: the batch outlives every delivery
      // report. Another encoding lives in scratch_, so librdkafka copies it.
      std::string_view value = encode::encode(settings_.encoding, r, scratch_);
      int flags = value.data() == r.json.data() ? 0 : RD_KAFKA_MSG_F_COPY;
      for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk_, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(flags),
            RD_KAFKA_V_KEY(r.event.id.data(), r.event.id.size()), RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
            RD_KAFKA_V_HEADER("zendesk-account", batch.account.data(), static_cast<ssize_t>(batch.account.size())),
            RD_KAFKA_V_HEADER("schema-version", schema.data(), static_cast<ssize_t>(schema.size())),
            RD_KAFKA_V_HEADER("source", kProduct, -1), RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !stopping()) {
          rd_kafka_poll(rk_, 50);  // the local queue drains as brokers acknowledge
          continue;
        }
        message_done(p, err);
        break;
      }
    }
    message_done(p, RD_KAFKA_RESP_ERR_NO_ERROR);  // the +1 above
  }

  // One handle per topic, kept: producing by name looks the topic up per
  // message. On first use the topic's metadata is fetched at once; otherwise
  // a topic first named just after the bootstrap metadata request waits for
  // librdkafka's 1 s refresh of unknown topics (seen in about one start in
  // five against the mock cluster).
  rd_kafka_topic_t* topic_handle(const std::string& name) {
    auto it = topics_.find(name);
    if (it != topics_.end()) return it->second;
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, name.c_str(), nullptr);
    if (!rkt) return nullptr;
    // Up to 2 s in slices: close() must not wait for a broker that never
    // answers (it joins this thread once it set stopping_).
    for (int waited_ms = 0; waited_ms < 2000 && !stopping(); waited_ms += 100) {
      const rd_kafka_metadata_t* md = nullptr;
      if (rd_kafka_metadata(rk_, 0, rkt, &md, 100) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_metadata_destroy(md);
        break;
      }
    }
    topics_.emplace(name, rkt);
    return rkt;
  }

  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  std::string topic_for(const std::string& account) const { return topic_of(settings_.topic_template, account); }

  void message_done(Pending* p, rd_kafka_resp_err_t err) {
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && p->status != DeliveryStatus::Permanent) {
      p->status = is_permanent(err) ? DeliveryStatus::Permanent : DeliveryStatus::Retriable;
      p->error = std::string(rd_kafka_err2name(err)) + ": " + rd_kafka_err2str(err) + " (" + advice(err) + ")";
    }
    if (--p->remaining > 0) return;
    producing_.erase(p->batch->seq);
    p->ack(Ack{p->batch->seq, p->status, p->status == DeliveryStatus::Delivered ? "" : "kafka: " + p->error});
    delete p;
    std::lock_guard lock(mu_);
    if (--unacked_ == 0) idle_cv_.notify_all();
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<KafkaSink*>(opaque);
    auto* p = static_cast<Pending*>(m->_private);
    // After close() purged the queue, the batches were acknowledged already.
    if (!p || self->closed_) return;
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
  rd_kafka_queue_t* main_queue_ = nullptr;  // the queue rd_kafka_poll serves
  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::deque<Pending*> queue_;  // sent, not yet produced (guarded by mu_)
  size_t unacked_ = 0;          // sent, not yet acknowledged (guarded by mu_)
  bool stopping_ = false;       // guarded by mu_
  std::map<uint64_t, Pending*> producing_;  // I/O thread only
  std::map<std::string, rd_kafka_topic_t*> topics_;  // I/O thread only
  bool closed_ = false;                     // set after the I/O thread ended
  std::string scratch_;                     // one encoded record (I/O thread), when not the record itself
  std::thread io_thread_;                   // last: starts after every member exists
};

}  // namespace

SinkBuilder configure(const ConfigNode& section) {
  Settings s = read_settings(section);
  return [s](const SinkContext& ctx) -> std::unique_ptr<Sink> {
    if (s.exactly_once) return make_transactional_sink(s, ctx);
    return std::make_unique<KafkaSink>(s, ctx);
  };
}

PositionReader position_reader(const ConfigNode& section) {
  Settings s = read_settings(section);
  return s.exactly_once ? kafka::position_reader(s) : PositionReader();
}

SinkReader reader(const ConfigNode& section) {
  Settings s = read_settings(section);
  return [s](const std::string& account, const RecordVisitor& each) {
    std::string topic = topic_of(s.topic_template, account);
    ConsumerPtr consumer = new_consumer_ptr(s);
    rd_kafka_t* rk = consumer.get();
    std::vector<int32_t> partitions = partitions_of(rk, topic);
    // Each partition from its first offset up to the high watermark read now.
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
    std::map<int32_t, int64_t> end;
    for (int32_t p : partitions) {
      int64_t lo = 0, hi = 0;
      rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 10'000);
      if (err) {
        rd_kafka_topic_partition_list_destroy(parts);
        throw std::runtime_error("cannot read topic " + topic + "'s offsets: " + rd_kafka_err2str(err));
      }
      if (hi > lo) {
        rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = lo;
        end[p] = hi;
      }
    }
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(30);
    while (!end.empty()) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("reading topic " + topic + " timed out");
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 1000);
      if (!m) continue;
      std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> m_guard(m, rd_kafka_message_destroy);
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        end.erase(m->partition);
        continue;
      }
      if (m->err) throw std::runtime_error("reading topic " + topic + ": " + rd_kafka_message_errstr(m));
      each(std::string_view(static_cast<const char*>(m->payload), m->len));
      // Transaction markers take offsets too: stop at the watermark itself.
      auto e = end.find(m->partition);
      if (e != end.end() && m->offset + 1 >= e->second) end.erase(e);
    }
  };
}

}  // namespace zf::sinks::kafka
