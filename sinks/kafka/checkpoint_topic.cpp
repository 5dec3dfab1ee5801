#include "kafka/checkpoint_topic.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>

namespace zf::sinks::kafka {

namespace {

using Clock = std::chrono::steady_clock;

// What a read of the topic starts with, per partition: each transaction
// ends with its positions, so a source's position is usually near the end.
constexpr int64_t kFirstTail = 512;
// How long what was read is kept for the next start: the starts of one
// rebalance come within seconds of each other.
constexpr auto kKeep = std::chrono::seconds(30);

// The newest committed value of every key in the spans of the topic read so
// far; one start at a time reads, the others then find theirs in it.
class TailCache {
 public:
  explicit TailCache(Settings s) : s_(std::move(s)), topic_(s_.exactly_once->checkpoint_topic) {}

  std::optional<KeptPosition> find(const std::string& source, const PieceNeeds& needs) {
    std::lock_guard lock(mu_);
    if (Clock::now() - last_used_ > kKeep) forget();
    try {
      return find_locked(source, needs);
    } catch (...) {
      forget();  // a read cut short may have claimed a stretch it did not read
      throw;
    }
  }

 private:
  void forget() {
    spans_.clear();
    newest_.clear();
  }

  std::optional<KeptPosition> find_locked(const std::string& source, const PieceNeeds& needs) {
    auto t0 = Clock::now();
    KeptPosition::Cost cost;
    ConsumerPtr consumer = new_consumer_ptr(s_);
    read_newer(consumer.get(), cost);
    const std::string prefix = piece_key(source, "");
    std::optional<std::string> position;  // the newest found so far, and what it needs
    std::set<std::string> wanted;
    auto enough = [&] {
      auto it = newest_.find(position_key(source));
      if (it == newest_.end() || !it->second) return false;
      if (position != it->second) {
        position = it->second;
        wanted = needs ? needs(*position) : std::set<std::string>{};
      }
      return std::all_of(wanted.begin(), wanted.end(), [&](const std::string& k) { return newest_.count(prefix + k); });
    };
    while (!enough() && read_older(consumer.get(), cost)) {
    }
    last_used_ = Clock::now();
    cost.seconds = std::chrono::duration<double>(last_used_ - t0).count();
    auto it = newest_.find(position_key(source));
    if (it == newest_.end() || !it->second) return std::nullopt;
    KeptPosition kept{*it->second, {}, cost};
    for (auto p = newest_.lower_bound(prefix); p != newest_.end() && p->first.starts_with(prefix); ++p)
      if (p->second) kept.pieces.emplace(p->first.substr(prefix.size()), *p->second);
    return kept;
  }

  struct Span {
    int64_t low = 0;   // the partition's first offset, when last asked
    int64_t from = 0;  // read: [from, to)
    int64_t to = 0;
  };

  // From where each partition was read up to, to its end. A read_committed
  // consumer reaches its end at the last stable offset, which another
  // producer's open transaction (another account's, another forwarder's)
  // holds back: what was committed after that transaction began lies
  // beyond it, and stopping there would resume from an older position,
  // shipping again what was committed since. So each partition is read up
  // to the high watermark it had when its end was first reached.
  void read_newer(rd_kafka_t* rk, KeptPosition::Cost& cost) {
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
    std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)> parts_guard(
        parts, rd_kafka_topic_partition_list_destroy);
    std::set<int32_t> open;
    for (int32_t p : partitions_of(rk, topic_)) {
      // Offsets unknown (a topic created a moment ago has no leader yet):
      // the partition is read from its start.
      int64_t lo = 0, hi = 0;
      if (rd_kafka_query_watermark_offsets(rk, topic_.c_str(), p, &lo, &hi, 10'000)) lo = hi = 0;
      auto [span, fresh] = spans_.try_emplace(p);
      span->second.low = lo;
      if (fresh || span->second.to < lo) span->second = Span{lo, std::max(lo, hi - kFirstTail), std::max(lo, hi - kFirstTail)};
      rd_kafka_topic_partition_list_add(parts, topic_.c_str(), p)->offset = span->second.to;
      open.insert(p);
    }
    rd_kafka_assign(rk, parts);
    ++cost.rounds;
    std::map<int32_t, int64_t> target;  // the high watermark at a partition's first end
    std::optional<Clock::time_point> first_short_end;  // an end short of it: waiting on a transaction
    auto deadline = Clock::now() + std::chrono::minutes(2);
    while (!open.empty()) {
      if (Clock::now() > deadline)
        throw std::runtime_error("reading checkpoint topic " + topic_ + " timed out: an open transaction of another "
                                 "producer holds it back (another forwarder or a verify --repair sharing the topic?)");
      Message m = poll(rk);
      if (!m) continue;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_get_watermark_offsets(rk, topic_.c_str(), m->partition, &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
          hi = m->offset;
        int64_t want = target.emplace(m->partition, hi).first->second;
        if (m->offset >= want) {
          spans_[m->partition].to = std::max(spans_[m->partition].to, m->offset);
          open.erase(m->partition);
        } else if (!first_short_end) {
          first_short_end = Clock::now();  // the next end, once the transaction ends
        }
        continue;
      }
      check(m.get());
      ++cost.messages;
      spans_[m->partition].to = m->offset + 1;
      if (m->key) newest_[key_of(m.get())] = value_of(m.get());
    }
    if (first_short_end) cost.waited_seconds += std::chrono::duration<double>(Clock::now() - *first_short_end).count();
  }

  // Messages older than any read so far, as many again as read (at least
  // kFirstTail): of each key the newest in them, kept only if no newer read
  // has the key. False when every partition was read from its start.
  bool read_older(rd_kafka_t* rk, KeptPosition::Cost& cost) {
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
    std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)> parts_guard(
        parts, rd_kafka_topic_partition_list_destroy);
    std::map<int32_t, int64_t> stop;  // each partition's messages from here on were read already
    std::map<std::string, std::optional<std::string>> segment;
    for (auto& [p, span] : spans_) {
      if (span.from <= span.low) continue;
      int64_t from = std::max(span.low, span.from - std::max(kFirstTail, span.to - span.from));
      rd_kafka_topic_partition_list_add(parts, topic_.c_str(), p)->offset = from;
      stop[p] = span.from;
      span.from = from;
    }
    if (stop.empty()) return false;
    rd_kafka_assign(rk, parts);
    ++cost.rounds;
    // Below where a newer read began everything is settled: no waiting
    // on transactions, only reading up to that point.
    auto deadline = Clock::now() + std::chrono::minutes(2);
    while (!stop.empty()) {
      if (Clock::now() > deadline)
        throw std::runtime_error("reading checkpoint topic " + topic_ + " timed out (are the brokers reachable?)");
      Message m = poll(rk);
      if (!m) continue;
      auto at = stop.find(m->partition);
      if (at == stop.end()) continue;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || m->offset >= at->second) {
        stop.erase(at);
        continue;
      }
      check(m.get());
      ++cost.messages;
      if (m->key) segment[key_of(m.get())] = value_of(m.get());
    }
    for (auto& [key, value] : segment) newest_.try_emplace(key, std::move(value));
    return true;
  }

  using Message = std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)>;
  static Message poll(rd_kafka_t* rk) { return Message(rd_kafka_consumer_poll(rk, 1000), rd_kafka_message_destroy); }
  void check(const rd_kafka_message_t* m) const {
    if (m->err) throw std::runtime_error("reading checkpoint topic " + topic_ + ": " + rd_kafka_message_errstr(m));
  }
  static std::string key_of(const rd_kafka_message_t* m) {
    return std::string(static_cast<const char*>(m->key), m->key_len);
  }
  // A null value is a tombstone: the key was deleted.
  static std::optional<std::string> value_of(const rd_kafka_message_t* m) {
    if (!m->payload) return std::nullopt;
    return std::string(static_cast<const char*>(m->payload), m->len);
  }

  const Settings s_;
  const std::string topic_;
  std::mutex mu_;
  std::map<int32_t, Span> spans_;
  std::map<std::string, std::optional<std::string>> newest_;
  Clock::time_point last_used_{};
};

}  // namespace

PositionReader position_reader(const Settings& s) {
  auto cache = std::make_shared<TailCache>(s);
  return [cache](const std::string& source, const PieceNeeds& needs) { return cache->find(source, needs); };
}

}  // namespace zf::sinks::kafka
