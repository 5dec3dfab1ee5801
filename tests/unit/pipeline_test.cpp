// The run loop against a fake source: pages in, records to the sinks,
// tokens committed back to the source in order; events without an id are
// counted and logged, not shipped.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <sstream>
#include <string>
#include <vector>

#include "log/logger.h"
#include "metrics/metrics.h"
#include "normalize/normalizer.h"
#include "pipeline/committer.h"
#include "pipeline/delivery.h"
#include "pipeline/pipeline.h"
#include "proof/delivery_ledger.h"

using namespace zf;
using namespace std::chrono;

namespace {

std::string event_json(int n, bool with_id = true) {
  char id[32];
  std::snprintf(id, sizeof id, "01H6PWD1WQFC6EYJCJWFJ%05d", n);
  return std::string("{") + (with_id ? "\"id\":\"" + std::string(id) + "\"," : "") +
         "\"ip_address\":\"203.0.113.7\",\"method\":\"GET\",\"status\":200,"
         "\"timestamp\":\"2020-01-01T13:01:26Z\",\"url\":\"/api/v2/tickets/" + std::to_string(n) + ".json\",\"user_id\":123}";
}

// Hands out the pages it was given, then (with `once`) says it caught up;
// remembers every commit.
class FakeSource final : public Source {
 public:
  explicit FakeSource(std::vector<std::vector<std::string>> pages) : pages_(std::move(pages)) {}
  std::optional<SourcePage> next(bool) override {
    if (next_ == pages_.size()) return std::nullopt;
    const auto& events = pages_[next_];
    body_ = "[";
    for (size_t i = 0; i < events.size(); ++i) body_ += (i ? "," : "") + events[i];
    body_ += "]";
    SourcePage page;
    for (simdjson::dom::element e : parser_.parse(body_).get_array()) page.events.push_back(e);
    page.listed = events.size();
    page.token = 100 + ++next_;
    page.span_start_s = 1577883600;
    page.span_end_s = 1577883700;
    return page;
  }
  CommitCost commit(uint64_t token) override {
    std::lock_guard lock(mu_);
    committed_.push_back(token);
    return {};
  }
  std::vector<uint64_t> committed() {
    std::lock_guard lock(mu_);
    return committed_;
  }

 private:
  std::vector<std::vector<std::string>> pages_;
  size_t next_ = 0;
  std::string body_;
  simdjson::dom::parser parser_;
  std::mutex mu_;
  std::vector<uint64_t> committed_;
};

// Delivers at once and keeps the ids it was sent (in `ids`, which outlives it).
struct RecordingSink final : Sink {
  explicit RecordingSink(std::vector<std::string>& out) : ids(out) {}
  std::vector<std::string>& ids;  // send() runs on the dispatching thread (nothing fails, so nothing is retried)
  void send(BatchPtr b, AckCallback ack) override {
    for (const Record& r : b->records) ids.push_back(r.event.id);
    ack(Ack{b->seq, DeliveryStatus::Delivered, ""});
  }
  bool flush(milliseconds) override { return true; }
  void close(milliseconds) override {}
};

struct Loop {
  std::ostringstream logs;
  Logger log{logs};
  ProcessMetrics process_metrics{"test"};
  Metrics metrics{process_metrics, "zendesk", "acme"};
  std::vector<std::string> shipped;  // ids, in the order the sink got them
  FakeSource source;
  StopSignal stop;
  std::string ledger_path;  // "" = keep none

  explicit Loop(std::vector<std::vector<std::string>> pages) : source(std::move(pages)) {}

  pipeline::RunResult run() {
    std::vector<pipeline::NamedSink> sinks;
    sinks.push_back({"rec", std::make_unique<RecordingSink>(shipped)});
    pipeline::Committer committer([this](uint64_t t) { return source.commit(t); }, "fake", log, metrics);
    if (!ledger_path.empty()) committer.keep_ledger(ledger_path);
    pipeline::Delivery delivery(pipeline::refs(sinks), 2, milliseconds(5), milliseconds(20), log, metrics,
                                [&committer](const pipeline::Commit& c) { committer.submit(c); });
    normalize::Normalizer normalizer({"acme", false});
    pipeline::BatchNumbers numbers;
    pipeline::Pipeline loop(source, normalizer, delivery, numbers, log, metrics, stop,
                            {true, "acme", seconds(2), seconds(1)});
    auto result = loop.run();
    delivery.stop_retries();
    pipeline::close_all(sinks, seconds(1));
    committer.finish();
    return result;
  }
};

}  // namespace

TEST_CASE("pipeline (#13): every page's records reach the sink and its token is committed back, in order") {
  std::vector<std::vector<std::string>> pages;
  std::vector<std::string> expected;
  for (int p = 0; p < 5; ++p) {
    pages.emplace_back();
    for (int i = 0; i < 3; ++i) {
      int n = p * 10 + i;
      pages.back().push_back(event_json(n));
      char id[32];
      std::snprintf(id, sizeof id, "01H6PWD1WQFC6EYJCJWFJ%05d", n);
      expected.push_back(id);
    }
  }
  pages.emplace_back();  // an empty page still moves the position
  Loop loop(pages);
  auto result = loop.run();
  CHECK(result.ok);
  CHECK(result.drained);
  CHECK(result.pages == 6);
  CHECK(result.events_shipped == 15);
  REQUIRE(loop.shipped.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) CHECK(loop.shipped[i] == expected[i]);
  auto committed = loop.source.committed();
  REQUIRE_FALSE(committed.empty());
  CHECK(committed.back() == 106);  // the last page's token: everything is durable
  for (size_t i = 1; i < committed.size(); ++i) CHECK(committed[i] > committed[i - 1]);
}

TEST_CASE("pipeline (#28): the proof's ledger is made from the shipped records and appended once committed") {
  auto path = (std::filesystem::temp_directory_path() / ("zf-ledger-" + std::to_string(::getpid()))).string();
  std::filesystem::remove(path);
  // Two minutes of event time, an event without an id (not shipped, not
  // counted) and one whose time does not parse (its own bucket).
  auto at = [](int n, const std::string& ts) {
    std::string e = event_json(n);
    return e.replace(e.find("2020-01-01T13:01:26Z"), 20, ts);
  };
  Loop loop({{at(1, "2020-01-01T13:01:26Z"), at(2, "2020-01-01T13:01:59Z")},
             {at(3, "2020-01-01T13:02:01Z"), event_json(4, /*with_id=*/false), at(5, "yesterday")}});
  loop.ledger_path = path;
  REQUIRE(loop.run().ok);
  source::Ledger ledger = source::DeliveryLedger::read(path);
  REQUIRE(ledger.size() == 3);
  CHECK(ledger.at(source::ledger_bucket_of(1577883686000)).count == 2);
  CHECK(ledger.at(source::ledger_bucket_of(1577883721000)).count == 1);
  CHECK(ledger.at(source::kLedgerNoTime).count == 1);
  source::LedgerBucket first;
  first.add("01H6PWD1WQFC6EYJCJWFJ00001");
  first.add("01H6PWD1WQFC6EYJCJWFJ00002");
  CHECK(ledger.at(source::ledger_bucket_of(1577883686000)) == first);  // the ids' digest, not only a count
  std::filesystem::remove(path);
}

TEST_CASE("pipeline (#13): an event without an id is counted and logged in full, not shipped") {
  Loop loop({{event_json(1), event_json(2, /*with_id=*/false), event_json(3)}});
  auto result = loop.run();
  CHECK(result.ok);
  CHECK(result.invalid == 1);
  CHECK(loop.shipped.size() == 2);
  CHECK(loop.logs.str().find("event without a usable id") != std::string::npos);
  CHECK(loop.logs.str().find("/api/v2/tickets/2.json") != std::string::npos);  // the event itself
  CHECK(loop.source.committed().back() == 101);
}

namespace {

// Shared by two sources: holds back every batch of account "stuck" until
// released, delivers the others at once.
struct StallingSink final : Sink {
  std::mutex mu;
  bool released = false;
  std::vector<std::pair<BatchPtr, AckCallback>> held;
  std::set<uint64_t> seqs;  // every seq it was sent: unique across sources
  bool seq_repeated = false;
  void send(BatchPtr b, AckCallback ack) override {
    {
      std::lock_guard lock(mu);
      seq_repeated |= !seqs.insert(b->seq).second;
      if (b->account == "stuck" && !released) {
        held.emplace_back(std::move(b), std::move(ack));
        return;
      }
    }
    ack(Ack{b->seq, DeliveryStatus::Delivered, ""});
  }
  void release() {
    std::vector<std::pair<BatchPtr, AckCallback>> go;
    {
      std::lock_guard lock(mu);
      released = true;
      go.swap(held);
    }
    for (auto& [b, ack] : go) ack(Ack{b->seq, DeliveryStatus::Delivered, ""});
  }
  bool flush(milliseconds) override { return true; }
  void close(milliseconds) override {}
};

// One source's chain over a shared sink, as the forwarder builds it.
struct SourceChain {
  SourceChain(std::string account, std::vector<std::vector<std::string>> pages, Sink& sink,
              pipeline::BatchNumbers& numbers, ProcessMetrics& process, Logger& log, StopSignal& stop)
      : source(std::move(pages)),
        metrics(process, account, account),
        committer([this](uint64_t t) { return source.commit(t); }, account, log, metrics),
        delivery({{"shared", &sink}}, 2, milliseconds(5), milliseconds(20), log, metrics,
                 [this](const pipeline::Commit& c) { committer.submit(c); }),
        normalizer({account, false}),
        loop(source, normalizer, delivery, numbers, log, metrics, stop, {true, account, seconds(20), seconds(1)}) {}
  FakeSource source;
  Metrics metrics;
  pipeline::Committer committer;
  pipeline::Delivery delivery;
  normalize::Normalizer normalizer;
  pipeline::Pipeline loop;
  pipeline::RunResult result;
};

std::vector<std::vector<std::string>> five_pages(int base) {
  std::vector<std::vector<std::string>> pages(5);
  for (int p = 0; p < 5; ++p)
    for (int i = 0; i < 3; ++i) pages[p].push_back(event_json(base + p * 10 + i));
  return pages;
}

}  // namespace

TEST_CASE("sources (#13): one source's stalled batches never hold back another source's commits") {
  std::ostringstream logs;
  Logger log{logs};
  ProcessMetrics process{"test"};
  StopSignal stop;
  StallingSink sink;
  pipeline::BatchNumbers numbers;
  SourceChain stuck("stuck", five_pages(0), sink, numbers, process, log, stop);
  SourceChain moving("moving", five_pages(1000), sink, numbers, process, log, stop);

  std::thread a([&] { stuck.result = stuck.loop.run(); });
  std::thread b([&] { moving.result = moving.loop.run(); });
  b.join();
  moving.committer.finish();
  CHECK(moving.result.ok);
  REQUIRE_FALSE(moving.source.committed().empty());
  CHECK(moving.source.committed().back() == 105);  // all five pages durable
  // Meanwhile the stalled source committed nothing and stopped fetching at
  // its in-flight limit (2 batches).
  auto held = [&] {
    std::lock_guard lock(sink.mu);
    return sink.held.size();
  };
  for (int i = 0; i < 500 && held() < 2; ++i) std::this_thread::sleep_for(milliseconds(10));
  CHECK(held() == 2);
  std::this_thread::sleep_for(milliseconds(100));
  CHECK(held() == 2);
  CHECK(stuck.source.committed().empty());

  sink.release();
  a.join();
  stuck.delivery.stop_retries();
  stuck.committer.finish();
  CHECK(stuck.result.ok);
  REQUIRE_FALSE(stuck.source.committed().empty());
  CHECK(stuck.source.committed().back() == 105);
  CHECK(sink.seqs.size() == 10);
  CHECK_FALSE(sink.seq_repeated);
}
