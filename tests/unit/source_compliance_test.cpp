// The source contract (core/source.h), checked the same way for every
// source type, each over a loopback backend: tokens increase; next(once)
// ends once the backend has nothing more; commit(token), in order, makes
// the pages up to it durable (a source reopened on the same state ships
// exactly the pages not committed, and after a full commit nothing); a stop
// is honoured within a bound by a next() that is waiting.
//
// The source types are those the config accepts (read from its own error
// message for an unknown type), so a new type fails the first test case
// until it has a fixture below.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "app/app_config.h"
#include "config/config_node.h"
#include "core/errors.h"
#include "core/stop_signal.h"
#include "emulator/emulator.h"
#include "log/logger.h"
#include "metrics/metrics.h"
#include "sources/zendesk_pull/access_log_source.h"
#include "sources/zendesk_pull/pull_checkpoint.h"
#include "sources/zendesk_pull/pull_metrics.h"
#include "sources/zendesk_pull/rate_limiter.h"
#include "sources/recent_ids.h"
#include "sources/source_types.h"
#include "sources/zendesk_pull/skip_pushed.h"
#include "sources/zendesk_webhook/webhook_request.h"
#include "sources/zendesk_webhook/webhook_source.h"
#include "test_dirs.h"
#include "test_push.h"

using namespace zf;
using namespace zf::source;
using namespace zf::net;
using zf::testing::push_events;
using namespace std::chrono;
using namespace std::chrono_literals;

namespace {

// One source type on its backend. open() (re)builds the source on the
// durable state the fixture keeps (a checkpoint, an id file), as a
// restarted process would.
class Fixture {
 public:
  virtual ~Fixture() = default;
  virtual Source& open() = 0;
  virtual void close() = 0;
  // Makes the backend offer its events (again, for a push source: as
  // Zendesk retries what was not answered 200).
  virtual void offer() {}
  // Waits until what offer() sent was answered where the backend gets
  // answers (a push: 200 once delivered); checks nothing was refused.
  virtual void settle() {}
  // Every id the backend holds for this source to ship.
  virtual std::set<std::string> ids() = 0;
  StopSignal& stop() { return *stop_; }

 protected:
  std::unique_ptr<StopSignal> stop_ = std::make_unique<StopSignal>();
};

// ---- zendesk_pull: AccessLogSource over the emulator ----

class PullFixture : public Fixture {
 public:
  explicit PullFixture(std::string name, size_t events = 120, size_t pushed_share = 0)
      : dir_(zf::testing::temp_dir(name)), emu_(options(events)) {
    emu_.start();
    // SkipPushed: a push source already delivered every `pushed_share`th event.
    if (pushed_share) {
      pushed_ = std::make_shared<RecentIds>(100'000);
      size_t i = 0;
      std::vector<EventKey> keys;
      for (const auto& id : emu_.ids())
        if (i++ % pushed_share == 0) keys.push_back(event_key(id)), pushed_ids_.insert(id);
      pushed_->add(keys);
    }
  }
  ~PullFixture() override {
    close();
    std::filesystem::remove_all(dir_);
  }
  Source& open() override {
    close();
    stop_ = std::make_unique<StopSignal>();
    store_ = std::make_unique<PullCheckpoint>((dir_ / "cp.json").string());
    SourceSettings s;
    s.base_url = emu_.base_url();
    s.authorization = basic_authorization("agent@example.com/token", "emulator-token");
    s.page_size = 25;
    s.retry_initial = 10ms;
    s.retry_max = 100ms;
    s.windows.late_read_delay_s = 0;  // every window read once: next(once) ends when caught up
    source_ = std::make_unique<AccessLogSource>(s, http_, limiter_, *store_, log_, metrics_, *stop_);
    source_->open("acme", duration_cast<seconds>(system_clock::now().time_since_epoch()).count() - 3 * 3600);
    if (!pushed_) return *source_;
    skip_ = std::make_unique<SkipPushed>(*source_, pushed_, metrics_);
    return *skip_;
  }
  void close() override {
    skip_.reset();
    source_.reset();
    store_.reset();
  }
  std::set<std::string> ids() override {
    std::set<std::string> all;
    for (const auto& id : emu_.ids())
      if (!pushed_ids_.count(id)) all.insert(id);
    return all;
  }

 private:
  static emulator::Options options(size_t events) {
    emulator::Options o;
    o.events = events;
    o.span = 1h;
    o.rate_limit = 0;
    o.awkward = false;
    return o;
  }
  std::filesystem::path dir_;
  emulator::Emulator emu_;
  std::ostringstream logs_;
  Logger log_{logs_, LogLevel::Error};
  ProcessMetrics process_{"test"};
  PullMetrics metrics_{process_, "zendesk", "acme"};
  HttpClient http_{HttpSettings{}};
  RateLimiter limiter_{1000, seconds(60), milliseconds(0)};
  std::unique_ptr<PullCheckpoint> store_;
  std::unique_ptr<AccessLogSource> source_;
  std::shared_ptr<RecentIds> pushed_;
  std::set<std::string> pushed_ids_;
  std::unique_ptr<SkipPushed> skip_;
};

// ---- zendesk_webhook: WebhookSource with signed POSTs on loopback ----

class WebhookFixture : public Fixture {
 public:
  WebhookFixture() : dir_(zf::testing::temp_dir("compliance-webhook")) {
    for (int push = 0; push < 4; ++push) {
      std::vector<std::string> ids;
      for (int i = 0; i < 5; ++i) ids.push_back("P" + std::to_string(push) + "_" + std::to_string(i));
      pushes_.push_back(ids);
    }
  }
  ~WebhookFixture() override {
    close();
    std::filesystem::remove_all(dir_);
  }
  Source& open() override {
    close();
    stop_ = std::make_unique<StopSignal>();
    delivered_ = std::make_shared<RecentIds>(1000, (dir_ / "push.ids").string());
    WebhookSettings s;
    s.port = 0;
    s.path = "/h";
    s.secrets = {"k3y"};
    s.ack_timeout = 5s;  // longer than the test holds a push unanswered
    source_ = std::make_unique<WebhookSource>(s, delivered_, log_, metrics_, *stop_);
    port_ = source_->start();
    return *source_;
  }
  void close() override {
    source_.reset();  // answers what is still waiting 503 at once
    for (auto& f : answers_) f.wait();
    answers_.clear();
    delivered_.reset();
  }
  // Zendesk pushes every request (again): each waits for its answer.
  void offer() override {
    for (const auto& ids : pushes_) answers_.push_back(std::async(std::launch::async, [this, ids] { return push_events(port_, ids); }));
  }
  void settle() override {
    for (auto& f : answers_) {
      REQUIRE(f.wait_for(3s) == std::future_status::ready);
      CHECK(f.get() == 200);
    }
    answers_.clear();
  }
  std::set<std::string> ids() override {
    std::set<std::string> all;
    for (const auto& p : pushes_) all.insert(p.begin(), p.end());
    return all;
  }

 private:
  std::filesystem::path dir_;
  std::vector<std::vector<std::string>> pushes_;
  std::ostringstream logs_;
  Logger log_{logs_, LogLevel::Error};
  ProcessMetrics process_{"test"};
  Metrics metrics_{process_, "push", "acme"};
  std::shared_ptr<RecentIds> delivered_;
  std::unique_ptr<WebhookSource> source_;
  uint16_t port_ = 0;
  std::vector<std::future<int>> answers_;
};

struct Variant {
  std::string name;
  std::function<std::unique_ptr<Fixture>()> make;
};

// Every source type the config accepts, with the ways it runs.
std::map<std::string, std::vector<Variant>> fixtures() {
  return {
      {"zendesk_pull",
       {{"zendesk_pull (AccessLogSource over the emulator)",
         [] { return std::make_unique<PullFixture>("compliance-pull"); }},
        {"zendesk_pull with dedup_with (SkipPushed over AccessLogSource, every 3rd event already pushed)",
         [] { return std::make_unique<PullFixture>("compliance-skip", 120, 3); }}}},
      {"zendesk_webhook", {{"zendesk_webhook (WebhookSource, signed POSTs on loopback)",
                            [] { return std::make_unique<WebhookFixture>(); }}}},
  };
}

// The source types the config accepts, from its answer to an unknown one.
std::vector<std::string> configured_source_types() {
  std::vector<std::string> types;
  for (const auto& t : source::source_types()) types.push_back(t.name);
  return types;
}

struct Drained {
  std::vector<uint64_t> tokens;
  std::vector<std::set<std::string>> pages;  // the ids of each page
  std::multiset<std::string> all;
  bool ended = false;       // next(true) answered nullopt
  milliseconds took{0};
};

// Reads pages until `expected` ids arrived (next(false): a push may still
// be on its way), then next(true) until it ends. A guard requests stop if
// that takes longer than `limit`, so a source that never ends fails the
// checks instead of hanging.
Drained drain(Fixture& f, Source& s, const std::set<std::string>& expected, milliseconds limit = 5s) {
  Drained d;
  auto t0 = steady_clock::now();
  std::promise<void> done;
  auto finished = done.get_future();
  std::thread guard([&] {
    if (finished.wait_for(limit) == std::future_status::timeout) f.stop().request();
  });
  auto take = [&](SourcePage& page) {
    d.tokens.push_back(page.token);
    std::set<std::string> ids;
    for (simdjson::dom::element e : page.events) {
      std::string_view id;
      if (!e["id"].get_string().get(id)) ids.insert(std::string(id)), d.all.insert(std::string(id));
    }
    d.pages.push_back(std::move(ids));
  };
  auto have_all = [&] {
    for (const auto& id : expected)
      if (!d.all.count(id)) return false;
    return true;
  };
  try {
    while (!have_all()) {
      auto page = s.next(false);
      if (!page) break;
      take(*page);
    }
    for (int i = 0; i < 100 && !f.stop().requested(); ++i) {
      auto page = s.next(true);
      if (!page) {
        d.ended = !f.stop().requested();
        break;
      }
      take(*page);
    }
  } catch (...) {
    done.set_value();
    guard.join();
    throw;
  }
  done.set_value();
  guard.join();
  d.took = duration_cast<milliseconds>(steady_clock::now() - t0);
  return d;
}

std::set<std::string> as_set(const std::multiset<std::string>& m) { return {m.begin(), m.end()}; }

void check_contract(const Variant& v) {
  auto f = v.make();
  const auto expected = f->ids();
  REQUIRE(expected.size() > 0);

  // A first run: every event once, tokens increasing, and an end.
  Source* s = &f->open();
  f->offer();
  Drained first = drain(*f, *s, expected);
  CAPTURE(first.took.count());
  CHECK(first.ended);
  CHECK(as_set(first.all) == expected);
  CHECK(first.all.size() == expected.size());  // none twice
  REQUIRE(first.tokens.size() >= 2);
  for (size_t i = 1; i < first.tokens.size(); ++i) CHECK(first.tokens[i] > first.tokens[i - 1]);

  // Commit the first half of the pages, in token order; then restart.
  size_t half = first.tokens.size() / 2;
  std::set<std::string> committed;
  for (size_t i = 0; i < half; ++i) {
    s->commit(first.tokens[i]);
    committed.insert(first.pages[i].begin(), first.pages[i].end());
  }
  REQUIRE_FALSE(committed.empty());
  s = &f->open();
  f->offer();
  std::set<std::string> rest;
  for (const auto& id : expected)
    if (!committed.count(id)) rest.insert(id);
  Drained second = drain(*f, *s, rest);
  CAPTURE(second.took.count());
  CHECK(second.ended);
  // The committed pages are durable (not shipped again); the others are
  // shipped again: not one event lost, none of the committed twice.
  CHECK(as_set(second.all) == rest);
  for (size_t i = 1; i < second.tokens.size(); ++i) CHECK(second.tokens[i] > second.tokens[i - 1]);
  for (uint64_t t : second.tokens) s->commit(t);

  // Everything committed: a restart has nothing to ship.
  s = &f->open();
  f->offer();
  f->settle();  // a push already delivered is answered 200 at once, with no page
  Drained third = drain(*f, *s, {});
  CHECK(third.ended);
  CHECK(third.all.empty());
  f->close();
}

void check_stop(const Variant& v) {
  auto f = v.make();
  Source& s = f->open();
  f->offer();
  Drained caught_up = drain(*f, s, f->ids());
  REQUIRE(caught_up.ended);
  // Caught up: next(false) waits for more until stop is requested.
  auto waiting = std::async(std::launch::async, [&] { return s.next(false); });
  CHECK(waiting.wait_for(100ms) == std::future_status::timeout);
  auto t0 = steady_clock::now();
  f->stop().request();
  bool returned = waiting.wait_for(2s) == std::future_status::ready;
  auto took = duration_cast<milliseconds>(steady_clock::now() - t0);
  CAPTURE(took.count());
  REQUIRE_MESSAGE(returned, "CONTRACT VIOLATION: next(false) ignored the stop for 2 s");
  CHECK(took < 1s);
  CHECK_FALSE(waiting.get().has_value());
  f->close();
}

}  // namespace

TEST_CASE("source compliance: every entry of the source type table (source_types.cpp) has a fixture here") {
  auto types = configured_source_types();
  CHECK(types.size() >= 2);
  auto known = fixtures();
  for (const auto& type : types) {
    CAPTURE(type);
    CHECK_MESSAGE(known.count(type) == 1, "source type \"" << type << "\" is in source_types() but "
                                                           << "tests/unit/source_compliance_test.cpp has no fixture for it");
  }
  for (const auto& [type, variants] : known) {
    CAPTURE(type);
    CHECK(std::find(types.begin(), types.end(), type) != types.end());
  }
}

TEST_CASE("source compliance: tokens increase, next(once) ends, commit in order is durable across a restart") {
  for (const auto& [type, variants] : fixtures())
    for (const auto& v : variants) {
      std::string variant = v.name;
      CAPTURE(variant);
      check_contract(v);
    }
}

TEST_CASE("source compliance: a next() waiting for more returns nullopt soon after stop is requested") {
  for (const auto& [type, variants] : fixtures())
    for (const auto& v : variants) {
      std::string variant = v.name;
      CAPTURE(variant);
      check_stop(v);
    }
}
