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

}  // namespace

TEST_CASE("delivery: the checkpoint moves only over a prefix every sink acknowledged") {
  std::ostringstream logs;
  Logger log(logs);
  Metrics metrics("acme", "test");
  auto* a = new ManualSink;
  auto* b = new ManualSink;
  std::vector<pipeline::NamedSink> sinks;
  sinks.push_back({"a", std::unique_ptr<Sink>(a)});
  sinks.push_back({"b", std::unique_ptr<Sink>(b)});
  std::mutex mu;
  std::vector<uint64_t> committed;
  pipeline::Delivery d(std::move(sinks), 8, milliseconds(10), milliseconds(50), log, metrics,
                       [&](const pipeline::Commit& c) {
                         std::lock_guard l(mu);
                         committed.push_back(c.seq);
                       });
  for (uint64_t s = 1; s <= 3; ++s) d.dispatch(make_batch(s, 2), meta_for(1000 + s, 2));
  a->answer(2, DeliveryStatus::Delivered);
  b->answer(2, DeliveryStatus::Delivered);
  a->answer(1, DeliveryStatus::Delivered);
  {
    std::lock_guard l(mu);
    CHECK(committed.empty());  // batch 1 still waits for sink b
  }
  b->answer(1, DeliveryStatus::Delivered);
  {
    std::lock_guard l(mu);
    REQUIRE(committed.size() == 1);
    CHECK(committed.back() == 2);  // 1 and 2 committed together, 3 not yet
  }
  a->answer(3, DeliveryStatus::Delivered);
  b->answer(3, DeliveryStatus::Delivered);
  CHECK(d.drain(seconds(1)));
  std::lock_guard l(mu);
  CHECK(committed.back() == 3);
  CHECK(metrics.sink("a").events_delivered.Value() == 6);
  d.close(seconds(1));
}

TEST_CASE("delivery: a retriable failure is re-sent to that sink only, and nothing commits until it succeeds") {
  std::ostringstream logs;
  Logger log(logs);
  Metrics metrics("acme", "test");
  auto* good = new ManualSink;
  auto* flaky = new ManualSink;
  std::vector<pipeline::NamedSink> sinks;
  sinks.push_back({"good", std::unique_ptr<Sink>(good)});
  sinks.push_back({"flaky", std::unique_ptr<Sink>(flaky)});
  std::atomic<uint64_t> committed{0};
  pipeline::Delivery d(std::move(sinks), 8, milliseconds(5), milliseconds(20), log, metrics,
                       [&](const pipeline::Commit& c) { committed = c.seq; });
  d.dispatch(make_batch(1, 3), meta_for(1000, 3));
  good->answer(1, DeliveryStatus::Delivered);
  for (int attempt = 0; attempt < 3; ++attempt) {
    REQUIRE(eventually([&] { return flaky->waiting() == 1; }));
    flaky->answer(1, DeliveryStatus::Retriable);
    CHECK(committed == 0);
  }
  REQUIRE(eventually([&] { return flaky->waiting() == 1; }));
  CHECK(good->sends == 1);   // the sink that delivered is not sent it again
  CHECK(flaky->sends == 4);
  flaky->answer(1, DeliveryStatus::Delivered);
  CHECK(committed == 1);
  CHECK(metrics.sink("flaky").batches_retried.Value() == 3);
  CHECK(metrics.sink("flaky").events_failed.Value() == 9);
  d.close(seconds(1));
}

TEST_CASE("delivery: a permanent failure stops the pipeline and never commits that batch") {
  std::ostringstream logs;
  Logger log(logs);
  Metrics metrics("acme", "test");
  auto* sink = new ManualSink;
  std::vector<pipeline::NamedSink> sinks;
  sinks.push_back({"kafka", std::unique_ptr<Sink>(sink)});
  std::atomic<uint64_t> committed{0};
  pipeline::Delivery d(std::move(sinks), 8, milliseconds(5), milliseconds(20), log, metrics,
                       [&](const pipeline::Commit& c) { committed = c.seq; });
  d.dispatch(make_batch(1, 1), meta_for(1000, 1));
  d.dispatch(make_batch(2, 1), meta_for(1001, 1));
  sink->answer(1, DeliveryStatus::Permanent);
  sink->answer(2, DeliveryStatus::Delivered);
  CHECK(committed == 0);
  REQUIRE(d.failure());
  CHECK(d.failure()->find("sink \"kafka\"") != std::string::npos);
  StopSignal stop;
  CHECK_FALSE(d.wait_for_room(stop));
  CHECK_FALSE(d.drain(milliseconds(50)));
  d.close(seconds(1));
}

TEST_CASE("delivery: backpressure holds the fetch stage at max_inflight batches while a sink stalls") {
  std::ostringstream logs;
  Logger log(logs);
  Metrics metrics("acme", "test");
  auto* sink = new ManualSink;
  std::vector<pipeline::NamedSink> sinks;
  sinks.push_back({"slow", std::unique_ptr<Sink>(sink)});
  pipeline::Delivery d(std::move(sinks), 2, milliseconds(5), milliseconds(20), log, metrics,
                       [](const pipeline::Commit&) {});
  StopSignal stop;
  REQUIRE(d.wait_for_room(stop));
  d.dispatch(make_batch(1, 1), meta_for(1000, 1));
  REQUIRE(d.wait_for_room(stop));
  d.dispatch(make_batch(2, 1), meta_for(1001, 1));
  std::atomic<bool> got_room{false};
  std::thread fetcher([&] { got_room = d.wait_for_room(stop); });
  std::this_thread::sleep_for(milliseconds(100));
  CHECK_FALSE(got_room);  // still waiting: two batches unacknowledged
  CHECK(metrics.inflight_batches.Value() == 2);
  sink->answer(1, DeliveryStatus::Delivered);
  fetcher.join();
  CHECK(got_room);
  d.close(seconds(1));
}

TEST_CASE("delivery: an empty batch (all duplicates) still advances the position in order") {
  std::ostringstream logs;
  Logger log(logs);
  Metrics metrics("acme", "test");
  auto* sink = new ManualSink;
  std::vector<pipeline::NamedSink> sinks;
  sinks.push_back({"s", std::unique_ptr<Sink>(sink)});
  std::atomic<uint64_t> committed{0};
  pipeline::Delivery d(std::move(sinks), 8, milliseconds(5), milliseconds(20), log, metrics,
                       [&](const pipeline::Commit& c) { committed = c.seq; });
  d.dispatch(make_batch(1, 1), meta_for(1000, 1));
  d.dispatch(make_batch(2, 0), meta_for(1001, 0));
  CHECK(committed == 0);  // the empty batch waits behind batch 1
  sink->answer(1, DeliveryStatus::Delivered);
  CHECK(committed == 2);
  CHECK(sink->sends == 1);
  d.close(seconds(1));
}

TEST_CASE("delivery (#13): a sink that acks twice or echoes a wrong seq cannot commit what another sink never delivered") {
  std::ostringstream logs;
  Logger log(logs);
  Metrics metrics("acme", "test");
  auto* honest = new ManualSink;
  auto* buggy = new ManualSink;
  std::vector<pipeline::NamedSink> sinks;
  sinks.push_back({"honest", std::unique_ptr<Sink>(honest)});
  sinks.push_back({"buggy", std::unique_ptr<Sink>(buggy)});
  std::mutex mu;
  std::vector<uint64_t> committed;
  pipeline::Delivery d(std::move(sinks), 8, milliseconds(5), milliseconds(20), log, metrics,
                       [&](const pipeline::Commit& c) {
                         std::lock_guard l(mu);
                         committed.push_back(c.seq);
                       });
  auto commits = [&] {
    std::lock_guard l(mu);
    return committed;
  };
  for (uint64_t s = 1; s <= 3; ++s) d.dispatch(make_batch(s, 2), meta_for(100 + s, 2));

  // Twice Delivered for batch 1 from one sink: counted once, so batch 1
  // still waits for the honest sink.
  AckCallback twice = buggy->take(1);
  REQUIRE(twice);
  twice(Ack{1, DeliveryStatus::Delivered, ""});
  twice(Ack{1, DeliveryStatus::Delivered, ""});
  CHECK(commits().empty());
  CHECK(logs.str().find("acknowledged the same send twice") != std::string::npos);
  CHECK(metrics.sink("buggy").events_delivered.Value() == 2);
  honest->answer(1, DeliveryStatus::Delivered);
  REQUIRE(eventually([&] { return commits().size() == 1; }));
  CHECK(commits().back() == 1);

  // Batches 2 and 3 acknowledged with each other's seq: neither counts,
  // both are sent again, nothing past 1 commits.
  honest->answer(2, DeliveryStatus::Delivered);
  honest->answer(3, DeliveryStatus::Delivered);
  AckCallback for2 = buggy->take(2), for3 = buggy->take(3);
  REQUIRE(for2);
  REQUIRE(for3);
  for2(Ack{3, DeliveryStatus::Delivered, ""});
  for3(Ack{2, DeliveryStatus::Delivered, ""});
  CHECK(logs.str().find("with another batch's seq") != std::string::npos);
  REQUIRE(eventually([&] { return buggy->waiting() == 2; }));  // re-sent
  CHECK(commits().size() == 1);
  CHECK(honest->sends == 3);  // the honest sink is not asked again
  // Answered properly, they commit.
  buggy->answer(2, DeliveryStatus::Delivered);
  buggy->answer(3, DeliveryStatus::Delivered);
  CHECK(d.drain(seconds(2)));
  CHECK(commits().back() == 3);
  d.close(seconds(1));
}
