// Kafka exactly_once (after Kafka Connect's KIP-618): a group of batches and
// their source's position go into one Kafka transaction, the records to the
// topic and the position to a compacted checkpoint topic keyed by source
// name. A consumer reading with isolation.level=read_committed sees each
// event once whatever crashes: a transaction either commits both, or
// neither is visible, and the next start resumes from the committed
// position. A batch is acknowledged Delivered only when its transaction
// committed.
#include "kafka/transactional_sink.h"

#include <librdkafka/rdkafka.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "encode/encoder.h"
#include "kafka/checkpoint_topic.h"
#include "log/logger.h"

namespace zf::sinks::kafka {

namespace {

using Clock = std::chrono::steady_clock;

std::string error_text(rd_kafka_error_t* e) {
  return std::string(rd_kafka_error_name(e)) + ": " + rd_kafka_error_string(e);
}

// The checkpoint topic, created compacted when missing. Returns what could
// not be done ("" when the topic is created or exists compacted); throws
// when it exists and is not compacted (positions would be deleted by age).
std::string ensure_compacted(rd_kafka_t* rk, const std::string& topic, const std::function<bool()>& stopping) {
  char err[512];
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  std::unique_ptr<rd_kafka_queue_t, void (*)(rd_kafka_queue_t*)> queue_guard(queue, rd_kafka_queue_destroy);
  auto wait_for = [&](rd_kafka_event_type_t type) {
    rd_kafka_event_t* ev = nullptr;
    // Short polls: close() joins this thread, and would wait out a long one.
    for (int waited = 0; !ev && waited < 12'000 && !stopping(); waited += 20) ev = rd_kafka_queue_poll(queue, 20);
    if (ev && rd_kafka_event_type(ev) != type) {
      rd_kafka_event_destroy(ev);
      ev = nullptr;
    }
    return std::unique_ptr<rd_kafka_event_t, void (*)(rd_kafka_event_t*)>(ev, rd_kafka_event_destroy);
  };
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), 1, -1, err, sizeof err);
  if (!nt) return std::string("cannot describe it: ") + err;
  rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ANY);
  rd_kafka_AdminOptions_set_request_timeout(options, 10'000, err, sizeof err);
  std::unique_ptr<rd_kafka_AdminOptions_t, void (*)(rd_kafka_AdminOptions_t*)> options_guard(options, rd_kafka_AdminOptions_destroy);
  rd_kafka_CreateTopics(rk, &nt, 1, options, queue);
  rd_kafka_NewTopic_destroy(nt);
  auto created = wait_for(RD_KAFKA_EVENT_CREATETOPICS_RESULT);
  if (!created) return "no answer to CreateTopics (a broker without the admin API?)";
  if (rd_kafka_event_error(created.get())) return rd_kafka_event_error_string(created.get());
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(created.get()), &n);
  rd_kafka_resp_err_t code = n ? rd_kafka_topic_result_error(results[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
  if (code == RD_KAFKA_RESP_ERR_NO_ERROR) return "";
  if (code != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) return rd_kafka_err2str(code);
  // It exists: is it compacted?
  rd_kafka_ConfigResource_t* res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_DescribeConfigs(rk, &res, 1, options, queue);
  rd_kafka_ConfigResource_destroy(res);
  auto described = wait_for(RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT);
  if (!described || rd_kafka_event_error(described.get())) return "cannot read its cleanup.policy";
  const rd_kafka_ConfigResource_t** rs =
      rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(described.get()), &n);
  for (size_t i = 0; i < n; ++i) {
    size_t m = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[i], &m);
    for (size_t j = 0; j < m; ++j)
      if (std::string_view(rd_kafka_ConfigEntry_name(entries[j])) == "cleanup.policy") {
        const char* v = rd_kafka_ConfigEntry_value(entries[j]);
        if (!v || std::string_view(v).find("compact") == std::string_view::npos)
          throw std::runtime_error("checkpoint topic " + topic + " has cleanup.policy=" + (v ? v : "") +
                                   ": set it to compact, or positions are deleted with age");
        return "";
      }
  }
  return "cannot read its cleanup.policy";
}

// One thread owns the producer and runs one transaction at a time.
class TransactionalSink final : public Sink {
 public:
  TransactionalSink(const Settings& s, const SinkContext& ctx)
      : settings_(s),
        eo_(*s.exactly_once),
        log_(ctx.log),
        name_(ctx.name),
        txn_id_(eo_.transactional_id.empty() ? "zendesk-forwarder-" + ctx.sources : eo_.transactional_id),
        transactions_(prometheus::BuildCounter()
                          .Name("zendesk_forwarder_kafka_transactions_total")
                          .Help("Kafka transactions (exactly_once) by outcome: committed, or aborted and sent again.")
                          .Register(ctx.metrics)),
        committed_(transactions_.Add({{"sink", ctx.name}, {"outcome", "committed"}})),
        aborted_(transactions_.Add({{"sink", ctx.name}, {"outcome", "aborted"}})),
        latency_(prometheus::BuildHistogram()
                     .Name("zendesk_forwarder_kafka_transaction_seconds")
                     .Help("From a transaction's begin to its commit (exactly_once).")
                     .Register(ctx.metrics)
                     .Add({{"sink", ctx.name}},
                          prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})) {
    ConfPtr conf = producer_conf(s, txn_id_);
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_log_cb(conf.get(), &TransactionalSink::on_log);
    // Delivery reports only wake the commit: without a callback none is
    // queued, and the commit's flush sees the last acknowledgement only at
    // its next 10 ms poll. A failed message fails the commit itself.
    rd_kafka_conf_set_dr_msg_cb(conf.get(), [](rd_kafka_t*, const rd_kafka_message_t*, void*) {});
    rk_ = new_client(RD_KAFKA_PRODUCER, std::move(conf));
    // Fences any earlier instance with this transactional.id and aborts
    // its open transaction: before this returns, the checkpoint topic read
    // with read_committed is final.
    if (rd_kafka_error_t* e = rd_kafka_init_transactions(rk_, timeout_ms())) {
      std::string why = error_text(e);
      rd_kafka_error_destroy(e);
      rd_kafka_destroy(rk_);
      rk_ = nullptr;
      throw std::runtime_error("cannot start transactions with transactional.id \"" + txn_id_ + "\": " + why +
                               " (check the brokers are reachable and this client may use the transactional id)");
    }
    log_.info("kafka transactions ready", {{"sink", name_}, {"transactional_id", txn_id_},
                                           {"checkpoint_topic", eo_.checkpoint_topic},
                                           {"batches_per_transaction", eo_.batches_per_transaction}});
    thread_ = std::thread([this] { run(); });
    // Beside the transactions, not before them: a broker without the admin
    // API (the test broker) answers only when the request times out.
    check_thread_ = std::thread([this] {
      try {
        std::string unchecked = ensure_compacted(rk_, eo_.checkpoint_topic, [this] { return stopping(); });
        if (!unchecked.empty())
          log_.warn("cannot create or check the checkpoint topic; make sure it exists with cleanup.policy=compact",
                    {{"sink", name_}, {"topic", eo_.checkpoint_topic}, {"error", unchecked}});
      } catch (const std::exception& e) {
        log_.error(e.what(), {{"sink", name_}});
      }
    });
  }

  ~TransactionalSink() override { close(settings_.flush_timeout); }

  void send(BatchPtr batch, AckCallback on_ack) override {
    std::unique_lock lock(mu_);
    if (stopping_ || fatal_) {
      std::string why = fatal_ ? fatal_error_ : "kafka sink \"" + name_ + "\" is closed";
      lock.unlock();
      DeliveryStatus status = !fatal_ ? DeliveryStatus::Retriable : fenced_ ? DeliveryStatus::Superseded : DeliveryStatus::Permanent;
      on_ack(Ack{batch->seq, status, why});
      return;
    }
    uint64_t seq = batch->seq;
    owed_.erase(seq);
    queue_.emplace(seq, Pending{std::move(batch), std::move(on_ack)});
    ++unacked_;
    work_.notify_all();
  }

  // Batches without records come too: their position is committed like any.
  bool keeps_positions() const override { return true; }

  bool flush(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mu_);
    return idle_.wait_for(lock, timeout, [&] { return unacked_ == 0; });
  }

  void close(std::chrono::milliseconds timeout) override {
    if (!rk_) return;
    flush(timeout);
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    work_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (check_thread_.joinable()) check_thread_.join();
    std::map<uint64_t, Pending> left;
    {
      std::lock_guard lock(mu_);
      left.swap(queue_);
    }
    for (auto& [seq, p] : left)
      p.ack(Ack{seq, DeliveryStatus::Retriable, "kafka sink \"" + name_ + "\" closed before its transaction"});
    for (auto& [topic, rkt] : topics_) rd_kafka_topic_destroy(rkt);
    topics_.clear();
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
  }

 private:
  struct Pending {
    BatchPtr batch;
    AckCallback ack;
  };

  int timeout_ms() const { return static_cast<int>(eo_.transaction_timeout.count()); }

  // The next group: batches in seq order, none past a batch that failed
  // and has not come back yet. Otherwise a later transaction would commit
  // a position beyond records that are not in the topic.
  std::vector<Pending> take_group() {
    std::unique_lock lock(mu_);
    for (;;) {
      if (stopping_) return {};
      std::vector<Pending> group;
      for (auto it = queue_.begin(); it != queue_.end() && group.size() < eo_.batches_per_transaction;) {
        if (!owed_.empty() && *owed_.begin() < it->first) break;
        group.push_back(std::move(it->second));
        it = queue_.erase(it);
      }
      if (!group.empty()) return group;
      work_.wait_for(lock, std::chrono::milliseconds(100));
    }
  }

  void run() {
    for (;;) {
      std::vector<Pending> group = take_group();
      if (group.empty()) return;
      std::string error;
      DeliveryStatus status = transact(group, error);
      std::lock_guard lock(mu_);
      if (status == DeliveryStatus::Retriable)
        for (const auto& p : group) owed_.insert(p.batch->seq);
      for (auto& p : group) p.ack(Ack{p.batch->seq, status, error});
      unacked_ -= group.size();
      if (unacked_ == 0) idle_.notify_all();
    }
  }

  // One transaction: the group's records, then the position of each of its
  // sources (the group is a prefix of what is unacknowledged, in order).
  DeliveryStatus transact(const std::vector<Pending>& group, std::string& error) {
    auto t0 = Clock::now();
    if (rd_kafka_error_t* e = rd_kafka_begin_transaction(rk_)) return failed(e, "begin", error);
    for (const auto& p : group) {
      const Batch& batch = *p.batch;
      rd_kafka_topic_t* topic = topic_handle(topic_of(settings_.topic_template, batch.account));
      for (const Record& r : batch.records) {
        std::string_view value = encode::encode(settings_.encoding, r, scratch_);
        int flags = value.data() == r.json.data() ? 0 : RD_KAFKA_MSG_F_COPY;
        rd_kafka_resp_err_t err = produce(topic, flags, r.event.id, value, &batch);
        if (err) return abort(std::string("producing: ") + rd_kafka_err2name(err) + " (" + advice(err) + ")", error);
      }
    }
    // What the source keeps beside its position, in the same transaction:
    // a piece is committed exactly when the position that counts on it is.
    for (const auto& p : group)
      for (const PositionPiece& piece : p.batch->pieces) {
        rd_kafka_resp_err_t err = produce_piece(piece_key(p.batch->source, piece.key), piece.value);
        if (err) return abort(std::string("producing the position's pieces: ") + rd_kafka_err2name(err), error);
      }
    // Each source's batches reach the sink in its own order, and nothing is
    // taken past a failed batch: its newest batch here ends a prefix.
    std::map<std::string_view, std::string_view> positions;
    for (const auto& p : group) positions[p.batch->source] = p.batch->position;
    for (const auto& [source, position] : positions) {
      rd_kafka_resp_err_t err = produce(topic_handle(eo_.checkpoint_topic), RD_KAFKA_MSG_F_COPY, source, position, nullptr);
      if (err) return abort(std::string("producing the position: ") + rd_kafka_err2name(err), error);
    }
    for (;;) {
      rd_kafka_error_t* e = rd_kafka_commit_transaction(rk_, timeout_ms());
      if (!e) break;
      if (rd_kafka_error_is_retriable(e) && !stopping()) {
        log_.warn("kafka transaction commit not confirmed yet; retrying", {{"sink", name_}, {"error", error_text(e)}});
        rd_kafka_error_destroy(e);
        continue;
      }
      return failed(e, "commit", error);
    }
    committed_.Increment();
    latency_.Observe(std::chrono::duration<double>(Clock::now() - t0).count());
    return DeliveryStatus::Delivered;
  }

  rd_kafka_resp_err_t produce(rd_kafka_topic_t* topic, int flags, std::string_view key, std::string_view value,
                              const Batch* batch) {
    if (!topic) return rd_kafka_last_error() ? rd_kafka_last_error() : RD_KAFKA_RESP_ERR__INVALID_ARG;
    std::string schema = std::to_string(kSchemaVersion);
    for (;;) {
      rd_kafka_resp_err_t err;
      if (batch)
        err = rd_kafka_producev(
            rk_, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(flags), RD_KAFKA_V_KEY(key.data(), key.size()),
            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
            RD_KAFKA_V_HEADER("zendesk-account", batch->account.data(), static_cast<ssize_t>(batch->account.size())),
            RD_KAFKA_V_HEADER("schema-version", schema.data(), static_cast<ssize_t>(schema.size())),
            RD_KAFKA_V_HEADER("source", kProduct, -1), RD_KAFKA_V_END);
      else
        err = rd_kafka_producev(rk_, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(flags),
                                RD_KAFKA_V_KEY(key.data(), key.size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || stopping()) return err;
      rd_kafka_poll(rk_, 50);  // the local queue drains as brokers acknowledge
    }
  }

  // A deletion is a tombstone (a null value: an empty view has no data),
  // which compaction acts on.
  rd_kafka_resp_err_t produce_piece(const std::string& key, const std::optional<std::string>& value) {
    return produce(topic_handle(eo_.checkpoint_topic), RD_KAFKA_MSG_F_COPY, key,
                   value ? std::string_view(*value) : std::string_view(), nullptr);
  }

  // Abortable: abort and send the group again. Fatal (fenced, or the
  // producer unusable): every batch from now on fails permanently, so the
  // forwarder stops and never writes again.
  DeliveryStatus failed(rd_kafka_error_t* e, const char* step, std::string& error) {
    std::string why = std::string(step) + ": " + error_text(e);
    bool fatal = rd_kafka_error_is_fatal(e);
    bool fenced = rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR__FENCED ||
                  rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
                  rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
    rd_kafka_error_destroy(e);
    if (fatal || fenced) {
      error = fenced ? "kafka: fenced: another zendesk-forwarder started with transactional.id \"" + txn_id_ +
                           "\" and took over; this one stops and writes nothing more (" + why + ")"
                     : "kafka: the transactional producer failed fatally (" + why + "); restart the forwarder";
      std::lock_guard lock(mu_);
      fatal_ = true;
      fatal_error_ = error;
      fenced_ = fenced;
      return fenced ? DeliveryStatus::Superseded : DeliveryStatus::Permanent;
    }
    return abort(why, error);
  }

  DeliveryStatus abort(const std::string& why, std::string& error) {
    aborted_.Increment();
    error = "kafka: transaction aborted (" + why + "); its batches are sent again";
    log_.warn("kafka transaction aborted; sending its batches again", {{"sink", name_}, {"error", why}});
    // Until the broker confirms (an outage makes it time out): no new
    // transaction may begin before.
    while (rd_kafka_error_t* e = rd_kafka_abort_transaction(rk_, timeout_ms())) {
      std::string text = error_text(e);
      bool retriable = rd_kafka_error_is_retriable(e);
      rd_kafka_error_destroy(e);
      if (retriable && stopping()) return DeliveryStatus::Retriable;  // the next start's init aborts it
      if (!retriable) {
        std::lock_guard lock(mu_);
        fatal_ = true;
        fatal_error_ = error = "kafka: cannot abort the transaction (" + text + "); restart the forwarder";
        return DeliveryStatus::Permanent;
      }
      log_.warn("kafka transaction abort not confirmed yet; retrying", {{"sink", name_}, {"error", text}});
    }
    return DeliveryStatus::Retriable;
  }

  rd_kafka_topic_t* topic_handle(const std::string& name) {
    auto it = topics_.find(name);
    if (it != topics_.end()) return it->second;
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, name.c_str(), nullptr);
    if (rkt) topics_.emplace(name, rkt);
    return rkt;
  }

  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  static void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    auto* self = static_cast<TransactionalSink*>(rd_kafka_opaque(rk));
    LogLevel l = level <= 3 ? LogLevel::Error : level <= 4 ? LogLevel::Warn : level <= 6 ? LogLevel::Info : LogLevel::Debug;
    self->log_.log(l, "librdkafka", {{"sink", self->name_}, {"facility", fac}, {"message", buf}});
  }

  Settings settings_;
  ExactlyOnce eo_;
  Logger& log_;
  std::string name_, txn_id_;
  prometheus::Family<prometheus::Counter>& transactions_;
  prometheus::Counter& committed_;
  prometheus::Counter& aborted_;
  prometheus::Histogram& latency_;
  rd_kafka_t* rk_ = nullptr;
  std::mutex mu_;
  std::condition_variable work_, idle_;
  std::map<uint64_t, Pending> queue_;  // by seq (guarded by mu_)
  std::set<uint64_t> owed_;            // failed, not sent again yet (guarded by mu_)
  size_t unacked_ = 0;                 // guarded by mu_
  bool stopping_ = false, fatal_ = false, fenced_ = false;
  std::string fatal_error_;
  std::map<std::string, rd_kafka_topic_t*> topics_;  // the transaction thread only
  std::string scratch_;
  std::thread thread_, check_thread_;  // last: start after every member exists
};

}  // namespace

std::unique_ptr<Sink> make_transactional_sink(const Settings& settings, const SinkContext& ctx) {
  return std::make_unique<TransactionalSink>(settings, ctx);
}

}  // namespace zf::sinks::kafka
