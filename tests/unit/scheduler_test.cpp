// The fixed pool every pull source shares (src/sched): jobs keep their
// order and never run twice at once, parked jobs wake, the thread count
// stays the pool's; and the one memory bound, shared in turn.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "log/logger.h"
#include "metrics/metrics.h"
#include "normalize/normalizer.h"
#include "pipeline/committer.h"
#include "pipeline/delivery.h"
#include "pipeline/pipeline.h"
#include "sched/memory_budget.h"
#include "sched/scheduler.h"

using namespace zf;
using namespace std::chrono;

TEST_CASE("scheduler (#29): 300 jobs on 2 workers: each runs its steps in order, never on two threads at once") {
  sched::Scheduler pool(2, "test");
  constexpr int kJobs = 300, kSteps = 20;
  struct State {
    std::atomic<bool> running{false};
    int steps = 0;
    bool overlapped = false;
  };
  std::vector<State> states(kJobs);
  std::mutex mu;
  std::set<std::thread::id> threads;
  for (int j = 0; j < kJobs; ++j) {
    pool.add(
        [&, j](PageBuffer&) {
          State& s = states[j];
          if (s.running.exchange(true)) s.overlapped = true;
          {
            std::lock_guard lock(mu);
            threads.insert(std::this_thread::get_id());
          }
          ++s.steps;
          s.running = false;
          return s.steps == kSteps ? sched::Next::finished() : sched::Next::in(milliseconds(j % 3));
        },
        steady_clock::now());
  }
  REQUIRE(pool.wait_all_finished(seconds(20)));
  for (const auto& s : states) {
    CHECK(s.steps == kSteps);
    CHECK_FALSE(s.overlapped);
  }
  CHECK(threads.size() <= 2);
  CHECK(pool.jobs() == 0);
}

TEST_CASE("scheduler (#29): a parked job runs only when woken; a wake while it runs makes it run once more") {
  sched::Scheduler pool(1, "test");
  std::atomic<int> steps{0};
  std::atomic<sched::Scheduler::JobId> id{0};
  std::atomic<bool> wake_inside{false};
  pool.add(
      [&](PageBuffer&) {
        int n = ++steps;
        if (n == 2 && wake_inside) pool.wake(id.load());  // woken while running
        return n >= 3 ? sched::Next::finished() : sched::Next::parked();
      },
      steady_clock::now(), &id);
  for (int i = 0; i < 100 && steps < 1; ++i) std::this_thread::sleep_for(milliseconds(5));
  std::this_thread::sleep_for(milliseconds(100));
  CHECK(steps == 1);  // parked: nothing runs it
  wake_inside = true;
  pool.wake(id.load());
  CHECK(pool.wait_all_finished(seconds(5)));
  CHECK(steps == 3);
  pool.wake(id.load());  // finished: ignored
}

TEST_CASE("scheduler (#29): a worker keeps its page buffer while busy and frees it when idle") {
  sched::Scheduler pool(1, "test");
  std::string page = R"({"access_logs":[)";
  for (int i = 0; i < 2000; ++i) page += std::string(i ? "," : "") + R"({"id":"01H)" + std::to_string(i) + R"(","url":"/x"})";
  page += "]}";
  std::vector<std::pair<size_t, size_t>> seen;  // body and parser capacity each step found
  pool.add(
      [&](PageBuffer& buffer) {
        seen.emplace_back(buffer.body.capacity(), buffer.parser.capacity());
        buffer.body = page;
        simdjson::dom::element doc;
        REQUIRE_FALSE(buffer.parser.parse(buffer.body).get(doc));
        // Step 2 follows at once (busy); step 3 after a pause (idle).
        if (seen.size() == 1) return sched::Next::now();
        if (seen.size() == 2) return sched::Next::in(milliseconds(100));
        return sched::Next::finished();
      },
      steady_clock::now());
  REQUIRE(pool.wait_all_finished(seconds(5)));
  REQUIRE(seen.size() == 3);
  auto empty = [](std::pair<size_t, size_t> c) { return c.first <= 15 && c.second == 0; };  // 15: in-place string
  CHECK(empty(seen[0]));
  CHECK(seen[1].first >= page.size());  // busy: the last page's buffer is reused
  CHECK(seen[1].second >= page.size());
  CHECK(empty(seen[2]));  // idle in between: freed
}

TEST_CASE("scheduler (#29): tasks run at their time, after stop_jobs too; stopped jobs never run again") {
  sched::Scheduler pool(2, "test");
  std::atomic<int> job_steps{0};
  pool.add([&](PageBuffer&) { ++job_steps; return sched::Next::in(milliseconds(10)); }, steady_clock::now());
  std::this_thread::sleep_for(milliseconds(100));
  pool.stop_jobs();
  int after_stop = job_steps;
  CHECK(after_stop > 0);
  std::mutex mu;
  std::vector<int> order;
  auto t0 = steady_clock::now();
  pool.post_at(t0 + milliseconds(60), [&] { std::lock_guard l(mu); order.push_back(2); });
  pool.post_at(t0 + milliseconds(20), [&] { std::lock_guard l(mu); order.push_back(1); });
  std::this_thread::sleep_for(milliseconds(200));
  CHECK(job_steps == after_stop);
  std::lock_guard l(mu);
  CHECK(order == std::vector<int>{1, 2});
}

TEST_CASE("memory budget (#29): room goes to the waiting sources in arrival order; nothing stalls when empty") {
  using Answer = sched::MemoryBudget::Answer;
  sched::MemoryBudget budget(100);
  std::vector<int> woken;
  auto waker = [&](int who) { return [&woken, who] { woken.push_back(who); }; };
  CHECK(budget.try_reserve(1, 60, waker(1)) == Answer::Reserved);
  CHECK(budget.try_reserve(2, 60, waker(2)) == Answer::Wait);  // does not fit: queued
  CHECK(budget.try_reserve(3, 10, waker(3)) == Answer::Wait);  // would fit, but 2 waits first
  CHECK(budget.waiting() == 2);
  budget.release(60);
  REQUIRE(woken == std::vector<int>{2});
  CHECK(budget.try_reserve(3, 10, waker(3)) == Answer::Wait);  // still 2's turn
  CHECK(budget.try_reserve(2, 60, waker(2)) == Answer::Reserved);
  CHECK(woken == std::vector<int>{2, 3});  // room left: the next in line is told
  CHECK(budget.try_reserve(3, 10, waker(3)) == Answer::Reserved);
  CHECK(budget.used() == 70);
  budget.adjust(60, 20);  // 2's page was smaller than reckoned
  CHECK(budget.used() == 30);
  budget.release(30);
  CHECK(budget.try_reserve(4, 500, waker(4)) == Answer::Reserved);  // larger than the bound, but nothing is held
  CHECK(budget.peak() == 500);
}

TEST_CASE("memory budget (#29): with a heap meter the bound covers the whole heap, fetches under way counted twice") {
  using Answer = sched::MemoryBudget::Answer;
  size_t heap = 50;  // the process's fixed state, before any page
  sched::MemoryBudget budget(100, [&heap]() -> std::optional<size_t> { return heap; });
  std::vector<int> woken;
  auto waker = [&](int who) { return [&woken, who] { woken.push_back(who); }; };
  // Nothing in flight: let through whatever the heap, or nothing would run.
  CHECK(budget.try_reserve(1, 10, waker(1)) == Answer::Reserved);
  // 50 held + 20 for 1's fetch under way + 20 for this one: fits.
  CHECK(budget.try_reserve(2, 10, waker(2)) == Answer::Reserved);
  // 50 + 40 + 20 > 100, although the reservations alone (30) would fit:
  // the head of the queue asks again on its own, the one behind it waits.
  CHECK(budget.try_reserve(3, 10, waker(3)) == Answer::Retry);
  CHECK(budget.try_reserve(4, 10, waker(4)) == Answer::Wait);
  // 1's page arrived (its 10 bytes are in the heap now): 60 + 20 + 20 fits.
  heap = 60;
  budget.adjust(10, 10);
  CHECK(budget.try_reserve(3, 10, waker(3)) == Answer::Reserved);
  CHECK(budget.try_reserve(4, 10, waker(4)) == Answer::Retry);
  // A fetch that brought nothing gives its share back; freed pages count
  // once the allocator returned them.
  budget.cancel(10);
  heap = 40;
  CHECK(budget.try_reserve(4, 10, waker(4)) == Answer::Reserved);
  CHECK(budget.used() == 30);
  CHECK(budget.heap() == std::optional<size_t>(40));
}

TEST_CASE("memory budget (#30): a source that stops while queued withdraws; the ones behind it get the room") {
  using Answer = sched::MemoryBudget::Answer;
  sched::MemoryBudget budget(100);
  std::vector<int> woken;
  auto waker = [&](int who) { return [&woken, who] { woken.push_back(who); }; };
  CHECK(budget.try_reserve(1, 60, waker(1)) == Answer::Reserved);
  CHECK(budget.try_reserve(2, 60, waker(2)) == Answer::Wait);  // queued first
  CHECK(budget.try_reserve(3, 30, waker(3)) == Answer::Wait);  // fits, but behind 2
  // 2's source is revoked (handed to another replica): it never asks again.
  budget.withdraw(2);
  CHECK(budget.waiting() == 1);
  REQUIRE(woken == std::vector<int>{3});  // the new head is told at once: room for it
  CHECK(budget.try_reserve(3, 30, waker(3)) == Answer::Reserved);
  budget.withdraw(7);  // unknown: nothing happens
  CHECK(budget.used() == 90);
}

namespace {

std::string event_json(const std::string& account, int n) {
  char id[40];
  std::snprintf(id, sizeof id, "01H6PWD1WQFC6EYJCJ%03d%05d", static_cast<int>(account.size() + account[0]) % 1000, n);
  return std::string("{\"id\":\"") + id + "\",\"ip_address\":\"203.0.113.7\",\"method\":\"GET\",\"status\":200,"
         "\"timestamp\":\"2020-01-01T13:01:26Z\",\"url\":\"/api/v2/tickets/" + std::to_string(n) + ".json\",\"user_id\":1}";
}

// Pages from a list, without blocking; the page's body goes to the
// worker's buffer, as the pull source's does.
class ListSource final : public PollingSource {
 public:
  ListSource(std::string account, int pages, int events) : account_(std::move(account)), pages_(pages), events_(events) {}
  Poll poll(bool, PageBuffer& buffer) override {
    Poll p;
    if (next_ == pages_) {
      p.done = true;
      return p;
    }
    buffer.body = "[";
    for (int i = 0; i < events_; ++i) buffer.body += (i ? "," : "") + event_json(account_, next_ * 1000 + i);
    buffer.body += "]";
    SourcePage page;
    for (simdjson::dom::element e : buffer.parser.parse(buffer.body).get_array()) page.events.push_back(e);
    page.listed = page.events.size();
    page.token = static_cast<uint64_t>(++next_);
    page.span_start_s = 1577883600;
    page.span_end_s = 1577883700;
    p.page = std::move(page);
    return p;
  }
  std::optional<SourcePage> next(bool) override { throw std::logic_error("scheduled only"); }
  CommitCost commit(uint64_t token) override {
    committed = token;
    return {};
  }
  std::atomic<uint64_t> committed{0};

 private:
  std::string account_;
  int pages_, events_, next_ = 0;
};

// Holds every batch of the accounts named in `held` until release();
// acknowledges the others a little later, from its own thread, as a
// network sink does. Records the order batches arrived in.
struct SlowSink final : Sink {
  std::mutex mu;
  std::set<std::string> held_accounts;
  std::vector<std::pair<BatchPtr, AckCallback>> held, later;
  std::vector<std::string> arrivals;  // account per batch
  std::atomic<bool> stop{false};
  std::thread acker{[this] {
    while (!stop) {
      std::vector<std::pair<BatchPtr, AckCallback>> go;
      {
        std::lock_guard lock(mu);
        go.swap(later);
      }
      for (auto& [b, ack] : go) ack(Ack{b->seq, DeliveryStatus::Delivered, ""});
      std::this_thread::sleep_for(milliseconds(5));
    }
  }};
  ~SlowSink() override {
    stop = true;
    acker.join();
  }
  void send(BatchPtr b, AckCallback ack) override {
    std::lock_guard lock(mu);
    arrivals.push_back(b->account);
    (held_accounts.count(b->account) ? held : later).emplace_back(std::move(b), std::move(ack));
  }
  void release() {
    std::lock_guard lock(mu);
    held_accounts.clear();
    for (auto& h : held) later.push_back(std::move(h));
    held.clear();
  }
  bool flush(milliseconds) override { return true; }
  void close(milliseconds) override {}
};

struct Chain {
  Chain(const std::string& account, int pages, int events, Sink& sink, sched::Scheduler& pool,
        sched::Scheduler& commits, sched::MemoryBudget* budget, pipeline::BatchNumbers& numbers,
        ProcessMetrics& process, Logger& log, StopSignal& stop)
      : source(account, pages, events),
        metrics(process, account, account),
        committer([this](uint64_t t) { return source.commit(t); }, account, log, metrics, real_clock(), &commits),
        delivery({{"slow", &sink}}, 2, milliseconds(5), milliseconds(20), log, metrics,
                 [this](const pipeline::Commit& c) { committer.submit(c); }, &commits, budget),
        normalizer({account, false}),
        loop(source, normalizer, delivery, numbers, log, metrics, stop,
             {true, account, seconds(5), seconds(10), account, budget, 50 * 2400}) {
    loop.on_wake([&pool, this] { pool.wake(job.load()); });
    pool.add([this](PageBuffer& b) { return loop.step(b); }, steady_clock::now(), &job);
  }
  ListSource source;
  Metrics metrics;
  pipeline::Committer committer;
  pipeline::Delivery delivery;
  normalize::Normalizer normalizer;
  pipeline::Pipeline loop;
  std::atomic<sched::Scheduler::JobId> job{0};
};

}  // namespace

TEST_CASE("scheduler (#29): on one worker, a source whose sink holds its batches never delays another's pages") {
  std::ostringstream logs;
  Logger log{logs};
  ProcessMetrics process{"test"};
  StopSignal stop;
  SlowSink sink;
  sink.held_accounts = {"stuck"};
  pipeline::BatchNumbers numbers;
  sched::Scheduler commits(1, "commit"), pool(1, "fetch");
  Chain stuck("stuck", 10, 3, sink, pool, commits, nullptr, numbers, process, log, stop);
  Chain moving("moving", 30, 3, sink, pool, commits, nullptr, numbers, process, log, stop);
  for (int i = 0; i < 500 && moving.source.committed < 30; ++i) std::this_thread::sleep_for(milliseconds(10));
  CHECK(moving.source.committed == 30);  // every page of the moving source, on the only worker
  CHECK(stuck.source.committed == 0);
  CHECK(pool.jobs() == 1);  // the stuck one is parked, not holding the worker
  sink.release();
  REQUIRE(pool.wait_all_finished(seconds(10)));
  CHECK(stuck.loop.finish(seconds(5)).ok);
  CHECK(moving.loop.finish(seconds(5)).ok);
  stuck.committer.finish();
  CHECK(stuck.source.committed == 10);
}

TEST_CASE("memory budget (#29): sources catching up together stay within the bound and take turns") {
  std::ostringstream logs;
  Logger log{logs};
  ProcessMetrics process{"test"};
  StopSignal stop;
  SlowSink sink;
  pipeline::BatchNumbers numbers;
  sched::Scheduler commits(1, "commit"), pool(2, "fetch");
  // Room for about two pages of 50 events (each reckoned at 50 * 2400
  // bytes before it comes): five sources must take turns.
  sched::MemoryBudget budget(2 * 50 * 2400);
  std::vector<std::unique_ptr<Chain>> chains;
  const std::vector<std::string> names = {"a", "b", "c", "d", "e"};
  for (const auto& name : names)
    chains.push_back(std::make_unique<Chain>(name, 6, 50, sink, pool, commits, &budget, numbers, process, log, stop));
  REQUIRE(pool.wait_all_finished(seconds(20)));
  for (auto& c : chains) {
    CHECK(c->loop.finish(seconds(5)).ok);
    c->committer.finish();
    CHECK(c->source.committed == 6);
  }
  INFO("peak " << budget.peak() << " limit " << budget.limit());
  CHECK(budget.peak() <= budget.limit());
  CHECK(budget.peak() >= budget.limit() / 2);  // the bound was what held them back
  CHECK(budget.used() == 0);
  // Turns: within the first ten batches every source shipped one.
  std::lock_guard lock(sink.mu);
  REQUIRE(sink.arrivals.size() == 30);
  std::set<std::string> first(sink.arrivals.begin(), sink.arrivals.begin() + 10);
  CHECK(first.size() == names.size());
}
