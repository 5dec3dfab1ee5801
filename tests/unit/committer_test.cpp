// The committer: durable writes in order, on its own thread, coalescing
// commits that arrive while a write is under way.
#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "log/logger.h"
#include "metrics/metrics.h"
#include "pipeline/committer.h"

using namespace zf;
using namespace std::chrono;

namespace {

pipeline::Commit commit_of(uint64_t token) {
  pipeline::Commit c;
  c.seq = token;
  c.meta.source_token = token;
  c.meta.newest_event_ms = static_cast<int64_t>(token) * 1000;
  c.received.push_back(steady_clock::now());
  return c;
}

// A checkpoint store the test can hold mid-write and make fail.
struct Store {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> written;
  std::vector<uint64_t> fail_tokens;
  bool hold = false;
  bool in_write = false;
  CommitCost persist(uint64_t token) {
    std::unique_lock lock(mu);
    in_write = true;
    cv.notify_all();
    cv.wait(lock, [&] { return !hold; });
    in_write = false;
    for (uint64_t t : fail_tokens)
      if (t == token) throw std::runtime_error("disk full");
    written.push_back(token);
    return CommitCost{100, 1.0};
  }
};

}  // namespace

TEST_CASE("committer (#13): commits that arrive during a slow write become one write of the newest token") {
  std::ostringstream logs;
  Logger log(logs);
  ProcessMetrics process_metrics("test");
  Metrics metrics(process_metrics, "zendesk", "acme");
  Store store;
  store.hold = true;
  pipeline::Committer committer([&](uint64_t t) { return store.persist(t); }, "test", log, metrics);
  committer.submit(commit_of(1));
  {
    std::unique_lock lock(store.mu);
    store.cv.wait(lock, [&] { return store.in_write; });
  }
  for (uint64_t t = 2; t <= 4; ++t) committer.submit(commit_of(t));
  {
    std::lock_guard lock(store.mu);
    store.hold = false;
  }
  store.cv.notify_all();
  committer.finish();
  CHECK(store.written == std::vector<uint64_t>{1, 4});
  CHECK(committer.last_write_ok());
  CHECK(committer.write_costs().size() == 2);
  CHECK(committer.latency_samples().size() == 4);  // one per committed page
  CHECK(committer.last_commit_ms() > 0);
}

TEST_CASE("committer (#29): a long-running source keeps a few hundred timing samples, not thousands") {
  std::ostringstream logs;
  Logger log(logs);
  ProcessMetrics process_metrics("test");
  Metrics metrics(process_metrics, "zendesk", "acme");
  Store store;
  pipeline::Committer committer([&](uint64_t t) { return store.persist(t); }, "test", log, metrics);
  for (uint64_t t = 1; t <= 1000; ++t) {  // an idle account's commits over about 8 hours
    committer.submit(commit_of(t));
    for (int i = 0; i < 2000; ++i) {
      {
        std::lock_guard lock(store.mu);
        if (store.written.size() == t) break;
      }
      std::this_thread::sleep_for(microseconds(200));
    }
  }
  committer.finish();
  REQUIRE(store.written.size() == 1000);
  CHECK(committer.write_costs().size() <= 256);
  CHECK(committer.latency_samples().size() <= 256);
  CHECK(committer.write_costs().size() >= 128);  // the newest are kept
  CHECK(committer.latency_samples().back() >= 0);
}

TEST_CASE("committer (#13): a failed write is counted and reported, and the next commit covers its pages") {
  std::ostringstream logs;
  Logger log(logs);
  ProcessMetrics process_metrics("test");
  Metrics metrics(process_metrics, "zendesk", "acme");
  Store store;
  store.fail_tokens = {1, 3};
  pipeline::Committer committer([&](uint64_t t) { return store.persist(t); }, "test", log, metrics);
  auto settle = [&](uint64_t token) {
    committer.submit(commit_of(token));
    // One at a time, so no coalescing hides a write.
    for (int i = 0; i < 500; ++i) {
      if (committer.failures() + committer.write_costs().size() >= token) return;
      std::this_thread::sleep_for(milliseconds(2));
    }
  };
  settle(1);
  CHECK_FALSE(committer.last_write_ok());
  CHECK(logs.str().find("checkpoint write failed") != std::string::npos);
  settle(2);
  CHECK(committer.last_write_ok());
  settle(3);  // the last write fails: the run must not report success
  committer.finish();
  CHECK(store.written == std::vector<uint64_t>{2});
  CHECK(committer.failures() == 2);
  CHECK_FALSE(committer.last_write_ok());
  CHECK(metrics.checkpoint_failures.Value() == 2);
}

TEST_CASE("committer (#13): finish() writes what is pending before it returns") {
  std::ostringstream logs;
  Logger log(logs);
  ProcessMetrics process_metrics("test");
  Metrics metrics(process_metrics, "zendesk", "acme");
  Store store;
  pipeline::Committer committer([&](uint64_t t) { return store.persist(t); }, "test", log, metrics);
  committer.submit(commit_of(9));
  committer.finish();
  CHECK(store.written == std::vector<uint64_t>{9});
}
