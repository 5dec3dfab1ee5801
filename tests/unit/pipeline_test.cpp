// Delivery ordering, the checkpoint file, recent ids and the JSON-lines sink.
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <future>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "config/config_node.h"
#include "core/errors.h"
#include "jsonl/jsonl_sink.h"
#include "log/logger.h"
#include "metrics/metrics.h"
#include "test_batches.h"
#include "pipeline/checkpoint.h"
#include "pipeline/delivery.h"
#include "source/recent_ids.h"

using namespace zf;
using zf::testing::make_batch;
using namespace std::chrono;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("zf-unit-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

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
  // Acks the pending send of `seq` (first one found) with `status`.
  bool answer(uint64_t seq, DeliveryStatus status) {
    AckCallback cb;
    {
      std::lock_guard l(mu);
      for (auto it = pending.begin(); it != pending.end(); ++it)
        if (it->batch->seq == seq) {
          cb = it->ack;
          pending.erase(it);
          break;
        }
    }
    if (!cb) return false;
    cb(Ack{seq, status, status == DeliveryStatus::Delivered ? "" : "test failure"});
    return true;
  }
  size_t waiting() {
    std::lock_guard l(mu);
    return pending.size();
  }
};

pipeline::BatchMeta meta_for(int64_t window_start, size_t events) {
  pipeline::BatchMeta m;
  m.after = {window_start, window_start + 100, "c" + std::to_string(window_start)};
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

TEST_CASE("checkpoint: save then load round-trips the position and recent ids") {
  auto dir = temp_dir("cp");
  pipeline::Checkpoint cp;
  cp.account = "acme";
  cp.position = {1795000000, 1795003600, "cursor/with+odd=chars"};
  cp.recent_ids = {{"01HAAAAAAAAAAAAAAAAAAAAAAA", 1795003000, 0}, {"01HBBBBBBBBBBBBBBBBBBBBBBB", 1795003001, 0}};
  cp.events_delivered = 12345;
  {
    pipeline::CheckpointStore store((dir / "cp.json").string());
    CHECK_FALSE(store.load());
    store.save(cp);
    auto back = store.load();
    REQUIRE(back);
    CHECK(back->position == cp.position);
    CHECK(back->recent_ids.size() == 2);
    CHECK(back->recent_ids[1].id == "01HBBBBBBBBBBBBBBBBBBBBBBB");
    CHECK(back->events_delivered == 12345);
    CHECK_FALSE(fs::exists(dir / "cp.json.tmp"));
  }
  fs::remove_all(dir);
}

TEST_CASE("checkpoint: a second process on the same checkpoint is refused") {
  auto dir = temp_dir("lock");
  pipeline::CheckpointStore first((dir / "cp.json").string());
  // flock locks belong to the open file description, so a second open in
  // this process conflicts exactly as another process would.
  CHECK_THROWS_WITH_AS(pipeline::CheckpointStore((dir / "cp.json").string()),
                       doctest::Contains("in use by another zendesk-forwarder"), FatalError);
  fs::remove_all(dir);
}

TEST_CASE("checkpoint: corrupt or foreign files stop the forwarder with a clear message") {
  auto dir = temp_dir("corrupt");
  struct Fixture {
    const char* name;
    std::string text;
    const char* expect;
  };
  std::vector<Fixture> fixtures = {
      {"truncated", "{\"version\":1,\"account\":\"acme\",\"posi", "not valid JSON"},
      {"empty", "", "not valid JSON"},
      {"binary", std::string("\x00\x01\x02garbage", 10), "not valid JSON"},
      {"array", "[1,2,3]", "not a JSON object"},
      {"future version", "{\"version\":99}", "version 99 is not supported"},
      {"missing position", "{\"version\":1,\"account\":\"acme\",\"recent_ids\":[]}", "missing or has the wrong type"},
      {"wrong types",
       "{\"version\":1,\"account\":\"acme\",\"position\":{\"window_start\":\"x\",\"window_end\":0,\"cursor\":\"\"},"
       "\"recent_ids\":[]}",
       "wrong type"},
      {"inconsistent window",
       "{\"version\":1,\"account\":\"acme\",\"position\":{\"window_start\":100,\"window_end\":50,\"cursor\":\"\"},"
       "\"recent_ids\":[]}",
       "inconsistent"},
  };
  for (const auto& f : fixtures) {
    CAPTURE(f.name);
    auto path = dir / "cp.json";
    {
      std::ofstream out(path, std::ios::binary);
      out << f.text;
    }
    pipeline::CheckpointStore store(path.string());
    CHECK_THROWS_WITH_AS(store.load(), doctest::Contains(f.expect), FatalError);
    CHECK_THROWS_WITH_AS(store.load(), doctest::Contains("move it aside"), FatalError);
  }
  fs::remove_all(dir);
}

TEST_CASE("recent ids: a snapshot holds only ids of acknowledged batches") {
  source::RecentIds ids(100);
  ids.add("a", 100, 1);
  ids.add("b", 101, 2);
  ids.add("c", 102, 3);
  auto snap = ids.snapshot(2);
  REQUIRE(snap.size() == 2);
  CHECK(snap[0].id == "a");
  CHECK(snap[1].id == "b");
  ids.forget_before(101);
  CHECK_FALSE(ids.contains("a"));
  CHECK(ids.contains("b"));
  CHECK(ids.contains("c"));
}

TEST_CASE("recent ids: memory is bounded; past the bound ids are not kept (a duplicate later, never a loss)") {
  source::RecentIds ids(2);
  CHECK(ids.add("a", 1, 1));
  CHECK(ids.add("b", 1, 1));
  CHECK_FALSE(ids.add("c", 1, 1));
  CHECK(ids.size() == 2);
  CHECK_FALSE(ids.contains("c"));
}

TEST_CASE("jsonl sink: one line per record, acknowledged after the write, rotated by size") {
  auto dir = temp_dir("jsonl");
  std::ostringstream logs;
  Logger log(logs);
  Metrics metrics("acme", "test");
  auto path = (dir / "out.jsonl").string();
  auto builder = sinks::jsonl::configure(
      ConfigNode::load_string("path: " + path + "\nrotate_bytes: 200\nrotate_keep: 3\n"));
  auto sink = builder(SinkContext{"file", log, metrics.registry()});
  std::atomic<int> delivered{0};
  for (uint64_t s = 1; s <= 4; ++s)
    sink->send(make_batch(s, 3), [&](Ack a) {
      if (a.status == DeliveryStatus::Delivered) ++delivered;
    });
  REQUIRE(sink->flush(seconds(5)));
  CHECK(delivered == 4);
  sink->close(seconds(1));
  size_t lines = 0;
  for (const auto& f : fs::directory_iterator(dir)) {
    std::ifstream in(f.path());
    std::string line;
    while (std::getline(in, line)) {
      CHECK(line.rfind("{\"event\"", 0) == 0);
      ++lines;
    }
  }
  CHECK(lines == 12);
  CHECK(fs::exists(path + ".1"));
  fs::remove_all(dir);
}

TEST_CASE("jsonl sink: a file that cannot be written is acknowledged Retriable with the reason") {
  std::ostringstream logs;
  Logger log(logs);
  Metrics metrics("acme", "test");
  auto builder = sinks::jsonl::configure(ConfigNode::load_string("path: /dev/full\nfsync: false\n"));
  auto sink = builder(SinkContext{"full", log, metrics.registry()});
  std::promise<Ack> got;
  sink->send(make_batch(1, 2), [&](Ack a) { got.set_value(a); });
  auto ack = got.get_future().get();
  CHECK(ack.status == DeliveryStatus::Retriable);
  CHECK(ack.error.find("No space left") != std::string::npos);
  sink->close(seconds(1));
}
