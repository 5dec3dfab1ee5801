// Delivery: fan-out to sinks, acknowledgements in order, retries.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <sstream>
#include <thread>

#include "core/errors.h"
#include "log/logger.h"
#include "metrics/metrics.h"
#include "test_batches.h"
#include "pipeline/delivery.h"

using namespace zf;
using zf::testing::make_batch;
using namespace std::chrono;

namespace {

// A sink the test drives by hand: it keeps every ack callback until the
// test answers it.
struct ManualSink : Sink {
  struct Pending {
    BatchPtr batch;
    AckCallback ack;
  };
  std::mutex mu;
  std::vector<Pending> pending;
  std::atomic<int> sends{0};
  void send(BatchPtr b, AckCallback a) override {
    std::lock_guard l(mu);
    pending.push_back({b, a});
    ++sends;
  }
  bool flush(milliseconds) override { return true; }
  void close(milliseconds) override {}
  // Removes the pending send of `seq` (first one found) and returns its callback.
  AckCallback take(uint64_t seq) {
    std::lock_guard l(mu);
    for (auto it = pending.begin(); it != pending.end(); ++it)
      if (it->batch->seq == seq) {
        AckCallback cb = it->ack;
        pending.erase(it);
        return cb;
      }
    return nullptr;
  }
  // Acks the pending send of `seq` (first one found) with `status`.
  bool answer(uint64_t seq, DeliveryStatus status) {
    AckCallback cb = take(seq);
    if (!cb) return false;
    cb(Ack{seq, status, status == DeliveryStatus::Delivered ? "" : "test failure"});
    return true;
  }
  size_t waiting() {
    std::lock_guard l(mu);
    return pending.size();
  }
};

pipeline::BatchMeta meta_for(uint64_t source_token, size_t events) {
  pipeline::BatchMeta m;
  m.source_token = source_token;
  m.events = events;
  m.received = steady_clock::now();
  return m;
}

template <typename F>
bool eventually(F f, milliseconds limit = seconds(5)) {
  auto end = steady_clock::now() + limit;
  while (steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return f();
}

// One Delivery over sinks the test drives by hand, recording each commit.
struct Harness {
  std::ostringstream logs;
  Logger log{logs};
  ProcessMetrics process_metrics{"test"};
  Metrics metrics{process_metrics, "zendesk", "acme"};
  std::vector<ManualSink*> sinks;
  std::vector<pipeline::NamedSink> owned;
  std::unique_ptr<pipeline::Delivery> delivery;

  explicit Harness(std::vector<std::string> names, size_t max_inflight = 8) {
    for (const auto& name : names) {
      sinks.push_back(new ManualSink);
      owned.push_back({name, std::unique_ptr<Sink>(sinks.back())});
    }
    delivery = std::make_unique<pipeline::Delivery>(pipeline::refs(owned), max_inflight, milliseconds(5), milliseconds(20),
                                                    log, metrics, [this](const pipeline::Commit& c) {
                                                      std::lock_guard l(mu_);
                                                      committed_.push_back(c.seq);
                                                    });
  }
  ~Harness() {
    delivery->stop_retries();
    pipeline::close_all(owned, seconds(1));
  }
  std::vector<uint64_t> commits() {
    std::lock_guard l(mu_);
    return committed_;
  }
  uint64_t last_commit() {
    auto c = commits();
    return c.empty() ? 0 : c.back();
  }
  void dispatch(uint64_t seq, size_t events) { delivery->dispatch(make_batch(seq, events), meta_for(1000 + seq, events)); }

 private:
  std::mutex mu_;
  std::vector<uint64_t> committed_;
};

}  // namespace

TEST_CASE("delivery: the checkpoint moves only over a prefix every sink acknowledged") {
  Harness h({"a", "b"});
  ManualSink *a = h.sinks[0], *b = h.sinks[1];
  for (uint64_t s = 1; s <= 3; ++s) h.dispatch(s, 2);
  a->answer(2, DeliveryStatus::Delivered);
  b->answer(2, DeliveryStatus::Delivered);
  a->answer(1, DeliveryStatus::Delivered);
  CHECK(h.commits().empty());  // batch 1 still waits for sink b
  b->answer(1, DeliveryStatus::Delivered);
  CHECK(h.commits() == std::vector<uint64_t>{2});  // 1 and 2 committed together, 3 not yet
  a->answer(3, DeliveryStatus::Delivered);
  b->answer(3, DeliveryStatus::Delivered);
  CHECK(h.delivery->drain(seconds(1)));
  CHECK(h.last_commit() == 3);
  CHECK(h.metrics.sink("a").events_delivered.Value() == 6);
}

TEST_CASE("delivery: a retriable failure is re-sent to that sink only, and nothing commits until it succeeds") {
  Harness h({"good", "flaky"});
  ManualSink *good = h.sinks[0], *flaky = h.sinks[1];
  h.dispatch(1, 3);
  good->answer(1, DeliveryStatus::Delivered);
  for (int attempt = 0; attempt < 3; ++attempt) {
    REQUIRE(eventually([&] { return flaky->waiting() == 1; }));
    flaky->answer(1, DeliveryStatus::Retriable);
    CHECK(h.commits().empty());
  }
  REQUIRE(eventually([&] { return flaky->waiting() == 1; }));
  CHECK(good->sends == 1);   // the sink that delivered is not sent it again
  CHECK(flaky->sends == 4);
  flaky->answer(1, DeliveryStatus::Delivered);
  CHECK(h.last_commit() == 1);
  CHECK(h.metrics.sink("flaky").batches_retried.Value() == 3);
  CHECK(h.metrics.sink("flaky").events_failed.Value() == 9);
}

TEST_CASE("delivery: a permanent failure stops the pipeline and never commits that batch") {
  Harness h({"kafka"});
  h.dispatch(1, 1);
  h.dispatch(2, 1);
  h.sinks[0]->answer(1, DeliveryStatus::Permanent);
  h.sinks[0]->answer(2, DeliveryStatus::Delivered);
  CHECK(h.commits().empty());
  REQUIRE(h.delivery->failure());
  CHECK(h.delivery->failure()->find("sink \"kafka\"") != std::string::npos);
  StopSignal stop;
  CHECK_FALSE(h.delivery->wait_for_room(stop));
  CHECK_FALSE(h.delivery->drain(milliseconds(50)));
}

TEST_CASE("delivery (#30): a sink superseded by another writer stops the pipeline like a permanent failure, and says so") {
  // A Kafka producer fenced by the account's next owner: under coordination
  // the account moved, and the run stops without stopping the process.
  Harness h({"kafka"});
  h.dispatch(1, 1);
  h.sinks[0]->answer(1, DeliveryStatus::Superseded);
  CHECK(h.commits().empty());
  REQUIRE(h.delivery->failure());
  CHECK(h.delivery->superseded());
  StopSignal stop;
  CHECK_FALSE(h.delivery->wait_for_room(stop));
  Harness plain({"kafka"});
  plain.dispatch(1, 1);
  plain.sinks[0]->answer(1, DeliveryStatus::Permanent);
  REQUIRE(plain.delivery->failure());
  CHECK_FALSE(plain.delivery->superseded());
}

TEST_CASE("delivery: backpressure holds the fetch stage at max_inflight batches while a sink stalls") {
  Harness h({"slow"}, 2);
  StopSignal stop;
  REQUIRE(h.delivery->wait_for_room(stop));
  h.dispatch(1, 1);
  REQUIRE(h.delivery->wait_for_room(stop));
  h.dispatch(2, 1);
  std::atomic<bool> got_room{false};
  std::thread fetcher([&] { got_room = h.delivery->wait_for_room(stop); });
  std::this_thread::sleep_for(milliseconds(100));
  CHECK_FALSE(got_room);  // still waiting: two batches unacknowledged
  CHECK(h.metrics.inflight_batches.Value() == 2);
  h.sinks[0]->answer(1, DeliveryStatus::Delivered);
  fetcher.join();
  CHECK(got_room);
}

TEST_CASE("delivery: an empty batch (all duplicates) still advances the position in order") {
  Harness h({"s"});
  h.dispatch(1, 1);
  h.dispatch(2, 0);
  CHECK(h.commits().empty());  // the empty batch waits behind batch 1
  h.sinks[0]->answer(1, DeliveryStatus::Delivered);
  CHECK(h.last_commit() == 2);
  CHECK(h.sinks[0]->sends == 1);
}

TEST_CASE("delivery (#26 item 13): an empty batch goes to a sink that keeps positions; it commits once that sink acks") {
  // Kafka exactly_once keeps the position in its transaction: a position
  // acknowledged without it would be durable in the file only, and the
  // source would drop id files the topic's older position still needs.
  struct PositionSink : ManualSink {
    bool keeps_positions() const override { return true; }
  };
  auto* keeper = new PositionSink;
  auto* plain = new ManualSink;
  std::ostringstream logs;
  Logger log{logs};
  ProcessMetrics process_metrics{"test"};
  Metrics metrics{process_metrics, "zendesk", "acme"};
  std::vector<pipeline::NamedSink> owned;
  owned.push_back({"kafka", std::unique_ptr<Sink>(keeper)});
  owned.push_back({"jsonl", std::unique_ptr<Sink>(plain)});
  std::mutex mu;
  std::vector<uint64_t> commits;
  pipeline::Delivery delivery(pipeline::refs(owned), 8, milliseconds(5), milliseconds(20), log, metrics,
                              [&](const pipeline::Commit& c) {
                                std::lock_guard l(mu);
                                commits.push_back(c.seq);
                              });
  auto committed = [&] {
    std::lock_guard l(mu);
    return commits;
  };
  delivery.dispatch(make_batch(1, 0), meta_for(1001, 0));
  CHECK(keeper->sends == 1);
  CHECK(plain->sends == 0);  // nothing for a sink that keeps no position
  CHECK(committed().empty());
  // Failed, it is sent again; nothing commits meanwhile.
  REQUIRE(keeper->answer(1, DeliveryStatus::Retriable));
  CHECK(eventually([&] { return keeper->sends == 2; }));
  CHECK(committed().empty());
  REQUIRE(keeper->answer(1, DeliveryStatus::Delivered));
  CHECK(committed() == std::vector<uint64_t>{1});
  delivery.stop_retries();
  pipeline::close_all(owned, seconds(1));
}

TEST_CASE("delivery (#13): a sink that acks twice or echoes a wrong seq cannot commit what another sink never delivered") {
  Harness h({"honest", "buggy"});
  ManualSink *honest = h.sinks[0], *buggy = h.sinks[1];
  for (uint64_t s = 1; s <= 3; ++s) h.dispatch(s, 2);

  // Twice Delivered for batch 1 from one sink: counted once, so batch 1
  // still waits for the honest sink.
  AckCallback twice = buggy->take(1);
  REQUIRE(twice);
  twice(Ack{1, DeliveryStatus::Delivered, ""});
  twice(Ack{1, DeliveryStatus::Delivered, ""});
  CHECK(h.commits().empty());
  CHECK(h.logs.str().find("acknowledged the same send twice") != std::string::npos);
  CHECK(h.metrics.sink("buggy").events_delivered.Value() == 2);
  honest->answer(1, DeliveryStatus::Delivered);
  CHECK(h.commits() == std::vector<uint64_t>{1});

  // Batches 2 and 3 acknowledged with each other's seq: neither counts,
  // both are sent again, nothing past 1 commits.
  honest->answer(2, DeliveryStatus::Delivered);
  honest->answer(3, DeliveryStatus::Delivered);
  AckCallback for2 = buggy->take(2), for3 = buggy->take(3);
  REQUIRE(for2);
  REQUIRE(for3);
  for2(Ack{3, DeliveryStatus::Delivered, ""});
  for3(Ack{2, DeliveryStatus::Delivered, ""});
  CHECK(h.logs.str().find("with another batch's seq") != std::string::npos);
  REQUIRE(eventually([&] { return buggy->waiting() == 2; }));  // re-sent
  CHECK(h.commits().size() == 1);
  CHECK(honest->sends == 3);  // the honest sink is not asked again
  // Answered properly, they commit.
  buggy->answer(2, DeliveryStatus::Delivered);
  buggy->answer(3, DeliveryStatus::Delivered);
  CHECK(h.delivery->drain(seconds(2)));
  CHECK(h.last_commit() == 3);
}
