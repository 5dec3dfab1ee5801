// The pull source in steps: what an answer means (classify_response), how
// a page is taken in (way_past, scan_page, advance), and the source driving
// them against a fake server with the manual clock: no socket, no sleep
// longer than a millisecond backoff.
#include <doctest/doctest.h>

#include <deque>
#include <functional>
#include <map>
#include <sstream>

#include "core/clock.h"
#include "core/encoding.h"
#include "core/errors.h"
#include "core/time_format.h"
#include "log/logger.h"
#include "sources/zendesk_pull/access_log_source.h"
#include "net/http_get.h"
#include "sources/zendesk_pull/pull_metrics.h"
#include "sources/zendesk_pull/pull_page.h"
#include "sources/zendesk_pull/pull_response.h"
#include "test_dirs.h"

using namespace zf;
using namespace zf::source;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

HttpResponse answer(long status, std::string body = "", std::map<std::string, std::string> headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

const SystemTime kServerNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

std::string event(const std::string& id, const std::string& ts = "2027-01-15T08:00:00Z") {
  return R"({"id":")" + id + R"(","timestamp":")" + ts + R"("})";
}

// A page body: events, then meta (has_more, after_cursor) and links.next.
std::string page_body(const std::vector<std::string>& events, bool has_more = false, const std::string& cursor = "",
                      const std::string& next = "") {
  std::string out = R"({"access_logs":[)";
  for (size_t i = 0; i < events.size(); ++i) out += (i ? "," : "") + events[i];
  out += R"(],"meta":{"has_more":)" + std::string(has_more ? "true" : "false");
  out += cursor.empty() ? R"(,"after_cursor":null})" : R"(,"after_cursor":")" + cursor + R"("})";
  if (!next.empty()) out += R"(,"links":{"next":")" + next + R"("})";
  return out + "}";
}

PageEnvelope parse(simdjson::dom::parser& parser, const std::string& body) {
  auto parsed = parse_page(parser, body);
  REQUIRE(std::holds_alternative<PageEnvelope>(parsed));
  return std::get<PageEnvelope>(parsed);
}

std::vector<std::string> ids_of(const std::vector<simdjson::dom::element>& events) {
  std::vector<std::string> out;
  for (auto e : events) out.emplace_back(std::string_view(e["id"].get_string().value()));
  return out;
}

}  // namespace

// ---------------------------------------------------------------- classify

TEST_CASE("pull steps, classify: 200 is a page to parse") {
  CHECK(std::holds_alternative<AcceptPage>(classify_response(answer(200, "{}"), "u", 0, kServerNow)));
}

TEST_CASE("pull steps, classify: transport errors, 5xx, other 4xx, 3xx and odd statuses back off with their reason") {
  HttpResponse transport = answer(0);
  transport.transport_error = "Connection refused";
  auto v = classify_response(transport, "u", 0, kServerNow);
  REQUIRE(std::holds_alternative<Backoff>(v));
  CHECK(std::get<Backoff>(v).reason == "transport");
  CHECK(std::get<Backoff>(v).what == "Connection refused");

  for (long status : {500L, 502L, 503L, 504L}) {
    auto b = classify_response(answer(status, R"({"errors":[{"title":"Oops","detail":"down"}]})"), "u", 0, kServerNow);
    REQUIRE(std::holds_alternative<Backoff>(b));
    CHECK(std::get<Backoff>(b).reason == "5xx");
    CHECK(std::get<Backoff>(b).what == "HTTP " + std::to_string(status) + ": Oops: down");
  }
  auto conflict = classify_response(answer(409, "busy"), "u", 0, kServerNow);
  CHECK(std::get<Backoff>(conflict).reason == "4xx");

  auto moved = classify_response(answer(301, "", {{"location", "https://evil.example/x"}}), "u", 0, kServerNow);
  REQUIRE(std::holds_alternative<Backoff>(moved));
  CHECK(std::get<Backoff>(moved).reason == "redirect");
  CHECK(std::get<Backoff>(moved).what.find("redirect to https://evil.example/x") != std::string::npos);
  auto no_location = classify_response(answer(307), "u", 0, kServerNow);
  CHECK(std::get<Backoff>(no_location).what.find("(no Location)") != std::string::npos);

  for (long status : {201L, 204L, 100L})
    CHECK(std::get<Backoff>(classify_response(answer(status), "u", 0, kServerNow)).reason == "unexpected_status");
}

TEST_CASE("pull steps, classify: 400 is fatal and names the request and what to check") {
  auto v = classify_response(answer(400, R"({"errors":[{"title":"Invalid","detail":"page[size]"}]})"),
                             "https://acme.zendesk.com/api/v2/access_logs?x", 0, kServerNow);
  REQUIRE(std::holds_alternative<Fatal>(v));
  const auto& msg = std::get<Fatal>(v).message;
  CHECK(msg.find("HTTP 400: Invalid: page[size]") != std::string::npos);
  CHECK(msg.find("zendesk.page_size") != std::string::npos);
  CHECK(msg.find("Request: https://acme.zendesk.com/api/v2/access_logs?x") != std::string::npos);
}

TEST_CASE("pull steps, classify: 401, 403 and 404 are auth problems with a hint each") {
  struct Case {
    long status;
    const char* kind;
    const char* hint_part;
  };
  for (auto c : {Case{401, "auth", "zendesk.auth"}, Case{403, "forbidden", "Advanced Data Privacy"},
                 Case{404, "not_found", "Admin Center"}}) {
    auto v = classify_response(answer(c.status, R"({"errors":[{"title":"No","detail":"why"}]})"), "u", 0, kServerNow);
    REQUIRE(std::holds_alternative<AuthProblem>(v));
    const auto& a = std::get<AuthProblem>(v);
    CHECK(a.status == c.status);
    CHECK(a.kind == c.kind);
    CHECK(a.hint.find(c.hint_part) != std::string::npos);
    CHECK(a.detail == "No: why");
  }
}

TEST_CASE("pull steps, classify: 429 waits for each form of the reset header, Retry-After, or 60 s") {
  auto wait_for = [](std::map<std::string, std::string> headers) {
    auto v = classify_response(answer(429, "", std::move(headers)), "u", 1, kServerNow);
    REQUIRE(std::holds_alternative<WaitReset>(v));
    return std::get<WaitReset>(v);
  };
  // 1'800'000'000 is 2027-01-15T08:00:00Z.
  CHECK(wait_for({{"ratelimit-reset", "2027-01-15T08:00:30Z"}}).wait == 30s);
  CHECK(wait_for({{"ratelimit-reset", "Fri, 15 Jan 2027 08:00:45 GMT"}}).wait == 45s);
  CHECK(wait_for({{"ratelimit-reset", "1800000020"}}).wait == 20s);  // epoch seconds
  CHECK(wait_for({{"ratelimit-reset", "12"}}).wait == 12s);          // delta seconds
  CHECK(wait_for({{"retry-after", "7"}}).wait == 7s);
  CHECK(wait_for({{"ratelimit-reset", "garbage"}, {"retry-after", "9"}}).wait == 9s);
  CHECK(wait_for({}).wait == 60s);
  CHECK(wait_for({{"ratelimit-reset", "2027-01-15T07:00:00Z"}}).wait == 1s);  // past: the floor
  CHECK(wait_for({{"ratelimit-reset", "2099-01-01T00:00:00Z"}}).wait == 15min);  // the cap
  auto w = wait_for({{"ratelimit-reset", "12"}, {"retry-after", "3"}});
  CHECK(w.ratelimit_reset == "12");
  CHECK(w.retry_after == "3");
}

TEST_CASE("pull steps, classify: 429 after 429 waits at least 1, 2, 4 ... s, capped at a minute") {
  auto wait_after = [](int consecutive) {
    auto v = classify_response(answer(429, "", {{"ratelimit-reset", "0"}}), "u", consecutive, kServerNow);
    return std::get<WaitReset>(v).wait;
  };
  CHECK(wait_after(1) == 1s);
  CHECK(wait_after(2) == 2s);
  CHECK(wait_after(3) == 4s);
  CHECK(wait_after(6) == 32s);
  CHECK(wait_after(7) == 60s);
  CHECK(wait_after(50) == 60s);
  // A longer server reset wins over the growth.
  CHECK(std::get<WaitReset>(classify_response(answer(429, "", {{"ratelimit-reset", "40"}}), "u", 2, kServerNow)).wait ==
        40s);
}

TEST_CASE("pull steps, classify: status classes for the request metric") {
  CHECK(status_class(0) == "transport");
  CHECK(status_class(429) == "429");
  CHECK(status_class(200) == "2xx");
  CHECK(status_class(404) == "4xx");
  CHECK(status_class(503) == "5xx");
}

// ---------------------------------------------------------------- a page

TEST_CASE("pull steps, way past: after_cursor, same-origin links.next, foreign links.next, last page") {
  simdjson::dom::parser parser;
  auto origin = origin_of("https://acme.zendesk.com");
  SUBCASE("the last page needs no way on") {
    auto way = way_past(parse(parser, page_body({event("a")})), origin);
    CHECK_FALSE(way.stuck);
    CHECK_FALSE(way.link);
  }
  SUBCASE("after_cursor alone") {
    auto way = way_past(parse(parser, page_body({event("a")}, true, "c1")), origin);
    CHECK_FALSE(way.stuck);
    CHECK_FALSE(way.link);
    CHECK_FALSE(way.foreign_link);
  }
  SUBCASE("links.next on the configured origin is followed") {
    std::string next = "https://acme.zendesk.com/api/v2/access_logs?page%5Bafter%5D=c1";
    auto way = way_past(parse(parser, page_body({event("a")}, true, "c1", next)), origin);
    REQUIRE(way.link);
    CHECK(*way.link == next);
  }
  SUBCASE("links.next on another host, port or scheme is not followed; the cursor is used") {
    for (std::string next : {"https://evil.example/api/v2/access_logs", "https://acme.zendesk.com:8443/x",
                             "http://acme.zendesk.com/x"}) {
      auto way = way_past(parse(parser, page_body({event("a")}, true, "c1", next)), origin);
      CHECK_FALSE(way.link);
      CHECK(way.foreign_link);
      CHECK_FALSE(way.stuck);
    }
  }
  SUBCASE("has_more with only a foreign links.next is stuck") {
    auto way = way_past(parse(parser, page_body({event("a")}, true, "", "https://evil.example/x")), origin);
    CHECK(way.stuck);
    CHECK(way.foreign_link);
  }
  SUBCASE("links.next only, same origin: not stuck") {
    auto way = way_past(parse(parser, page_body({event("a")}, true, "", "https://acme.zendesk.com/n")), origin);
    CHECK_FALSE(way.stuck);
    CHECK(way.link);
  }
  SUBCASE("without a configured origin no link is followed") {
    auto way = way_past(parse(parser, page_body({event("a")}, true, "c1", "https://acme.zendesk.com/n")), std::nullopt);
    CHECK_FALSE(way.link);
    CHECK(way.foreign_link);
  }
}

TEST_CASE("pull steps, scan: drops seen ids, records new ones only for a first read with a late read") {
  simdjson::dom::parser parser;
  auto page = parse(parser, page_body({event("A", "2027-01-15T08:00:10Z"), event("B", "2027-01-15T08:01:10Z"),
                                       event("C", "not a time"), R"({"action":"no id"})"}));
  SUBCASE("nothing seen, recording") {
    auto s = scan_page(page.events, {}, true);
    CHECK(s.listed == 4);
    CHECK(s.duplicates == 0);
    CHECK(s.events.size() == 4);
    CHECK(s.write_ahead == std::vector<EventKey>{event_key("A"), event_key("B"), event_key("C")});
  }
  SUBCASE("a late read: seen ids are dropped and nothing is written ahead") {
    auto s = scan_page(page.events, EventKeySet({event_key("A"), event_key("C")}), false);
    CHECK(s.listed == 4);
    CHECK(s.duplicates == 2);
    CHECK(s.events.size() == 2);
    CHECK(s.write_ahead.empty());
  }
}

TEST_CASE("pull steps, advance: a first read's pages move the cursor, its last page the window") {
  simdjson::dom::parser parser;
  PullView v;
  v.live.first = {1000, 2000, ""};
  v.live.first_late_read = true;
  v.first_seen = EventKeySet({event_key("old")});
  v.retire_next = {500};

  std::string next = "https://acme.zendesk.com/n";
  auto p1 = parse(parser, page_body({event("a")}, true, "c1", next));
  auto adv = advance(v, ReadKind::First, {1000, 2000}, p1, way_past(p1, origin_of("https://acme.zendesk.com")), 1);
  CHECK(v.live.first == ReadPosition{1000, 2000, "c1"});
  CHECK(v.first_link == next);
  CHECK(v.live.id_counts.at(1000) == 1);
  CHECK(adv.retire == std::vector<int64_t>{500});  // given-up windows leave with the next page
  CHECK(v.retire_next.empty());
  CHECK_FALSE(v.first_seen.empty());

  auto p2 = parse(parser, page_body({event("b"), event("c")}));
  adv = advance(v, ReadKind::First, {1000, 2000}, p2, {}, 2);
  CHECK(v.live.first == ReadPosition{2000, 0, ""});
  CHECK(v.live.awaiting == std::vector<Window>{{1000, 2000}});
  CHECK(v.live.id_counts.at(1000) == 3);  // kept for the late read
  CHECK_FALSE(v.live.first_late_read);
  CHECK_FALSE(v.first_link);
  CHECK(v.first_seen.empty());
  CHECK(adv.retire.empty());
}

TEST_CASE("pull steps, advance: a window read once retires its ids (a resumed window's) when done") {
  simdjson::dom::parser parser;
  PullView v;
  v.live.first = {1000, 2000, "c9"};
  v.live.id_counts[1000] = 5;  // written before a restart
  auto p = parse(parser, page_body({event("a")}));
  auto adv = advance(v, ReadKind::First, {1000, 2000}, p, {}, 0);
  CHECK(adv.retire == std::vector<int64_t>{1000});
  CHECK(v.live.awaiting.empty());
  CHECK(v.live.id_counts.empty());
  CHECK(v.live.first == ReadPosition{2000, 0, ""});
}

TEST_CASE("pull steps, advance: a late read's last page finishes every window it covers and retires their ids") {
  simdjson::dom::parser parser;
  PullView v;
  v.live.first = {4000, 0, ""};
  v.live.awaiting = {{1000, 2000}, {2000, 3000}, {3000, 4000}};
  v.live.id_counts = {{1000, 2}, {2000, 3}, {3000, 4}};
  v.live.late = {1000, 3000, ""};
  v.late_seen = EventKeySet({event_key("x")});

  auto p1 = parse(parser, page_body({event("a")}, true, "L1"));
  auto adv = advance(v, ReadKind::Late, {1000, 3000}, p1, {}, 0);
  CHECK(v.live.late == ReadPosition{1000, 3000, "L1"});
  CHECK(adv.reread.empty());
  CHECK(v.live.first == ReadPosition{4000, 0, ""});  // a late read never moves the first read

  auto p2 = parse(parser, page_body({}));
  adv = advance(v, ReadKind::Late, {1000, 3000}, p2, {}, 0);
  CHECK(adv.reread == std::vector<Window>{{1000, 2000}, {2000, 3000}});
  CHECK(adv.retire == std::vector<int64_t>{1000, 2000});
  CHECK(v.live.awaiting == std::vector<Window>{{3000, 4000}});
  CHECK(v.live.id_counts == std::map<int64_t, uint64_t>{{3000, 4}});
  CHECK_FALSE(v.live.late.open());
  CHECK(v.late_seen.empty());
}

// ---------------------------------------------------------------- the next request

namespace {

// Defaults: settle 60 s, poll 30 s, late reads 600 s after a window's end,
// given up 1800 s after they were due.
const PlanSettings kPlan{};
constexpr int64_t kT = 1'800'000'000;  // unix seconds
size_t no_ids(int64_t) { return 0; }

}  // namespace

TEST_CASE("pull steps, plan: opens the next first-read window, split where late reads begin") {
  PullView v;
  v.live.first.window_start = kT - 3600;
  auto r = plan_next(v, kT * 1000, false, kT - 3600, kPlan, no_ids);
  CHECK(r.step == NextRequest::Step::Fetch);
  CHECK(r.kind == ReadKind::First);
  CHECK(v.live.first == ReadPosition{kT - 3600, kT - 600, ""});  // older than now - late_read_delay: read once
  CHECK_FALSE(v.live.first_late_read);

  v.live.first = {kT - 600, 0, ""};
  v.first_link = "stale";
  r = plan_next(v, kT * 1000, false, kT - 600, kPlan, no_ids);
  CHECK(r.kind == ReadKind::First);
  CHECK(v.live.first == ReadPosition{kT - 600, kT - 60, ""});
  CHECK(v.live.first_late_read);
  CHECK_FALSE(v.first_link);
}

TEST_CASE("pull steps, plan: an open window is read on, whatever else is due") {
  PullView v;
  v.live.first = {kT - 600, kT - 60, "c1"};
  v.live.awaiting = {{kT - 5000, kT - 4000}};
  auto r = plan_next(v, kT * 1000, true, kT - 600, kPlan, no_ids);
  CHECK(r.kind == ReadKind::First);
  CHECK(v.live.first.cursor == "c1");
  CHECK_FALSE(v.live.late.open());
}

TEST_CASE("pull steps, plan: caught up, a --once run is done; a service sleeps until the next window or late read") {
  PullView v;
  v.live.first.window_start = kT - 70;  // 10 s settled: fewer than poll_interval
  auto r = plan_next(v, kT * 1000, true, kT - 70, kPlan, no_ids);
  CHECK(r.step == NextRequest::Step::Done);

  r = plan_next(v, kT * 1000 + 300, false, kT - 70, kPlan, no_ids);
  CHECK(r.step == NextRequest::Step::Wait);
  CHECK(r.wake_ms == (kT - 70 + 30 + 60) * 1000 + 20);  // first_read_due, to the second

  v.live.awaiting = {{kT - 700, kT - 595}};  // late read due at kT + 5
  r = plan_next(v, kT * 1000, false, kT - 70, kPlan, no_ids);
  CHECK(r.wake_ms == (kT + 5) * 1000 + 20);
}

TEST_CASE("pull steps, plan: a due late read waits for its first read's commit, then walks consecutive due windows") {
  PullView v;
  v.live.first.window_start = kT - 70;
  v.live.awaiting = {{kT - 3000, kT - 2000}, {kT - 2000, kT - 1500}, {kT - 1400, kT - 1000}, {kT - 1000, kT - 500}};
  SUBCASE("not committed yet: wait (at most 50 ms), even with --once") {
    auto r = plan_next(v, kT * 1000, true, kT - 2500, kPlan, no_ids);
    CHECK(r.step == NextRequest::Step::Wait);
    CHECK(r.wake_ms <= kT * 1000 + 50);
    CHECK_FALSE(v.live.late.open());
  }
  SUBCASE("committed: one late read up to a gap in the windows") {
    auto r = plan_next(v, kT * 1000, false, kT - 70, kPlan, no_ids);
    CHECK(r.step == NextRequest::Step::Fetch);
    CHECK(r.kind == ReadKind::Late);
    CHECK(r.late_windows == 2);
    CHECK(v.live.late == ReadPosition{kT - 3000, kT - 1500, ""});
  }
  SUBCASE("late_read_max_ids bounds the walk, but a window alone always goes") {
    PlanSettings small = kPlan;
    small.late_read_max_ids = 150;
    auto r = plan_next(v, kT * 1000, false, kT - 70, small, [](int64_t) -> size_t { return 100; });
    CHECK(r.late_windows == 1);
    CHECK(v.live.late == ReadPosition{kT - 3000, kT - 2000, ""});
  }
  SUBCASE("an open late read goes on") {
    v.live.late = {kT - 3000, kT - 2000, "L9"};
    auto r = plan_next(v, kT * 1000, false, kT - 70, kPlan, no_ids);
    CHECK(r.kind == ReadKind::Late);
    CHECK(r.late_windows == 0);  // its ids are loaded already
    CHECK(v.live.late.cursor == "L9");
  }
}

TEST_CASE("pull steps, plan: late reads overdue past the backlog are given up, an open one whole, ids retired later") {
  PullView v;
  v.live.first.window_start = kT - 70;
  // Due at end + 600, given up after due + 1800.
  v.live.awaiting = {{kT - 4000, kT - 3000}, {kT - 3000, kT - 2000}, {kT - 2000, kT - 1000}};
  v.live.late = {kT - 4000, kT - 2000, "L1"};
  v.late_seen = EventKeySet({event_key("x")});
  v.late_link = "link";
  auto r = plan_next(v, kT * 1000, false, kT - 70, kPlan, [](int64_t start) -> size_t { return start == kT - 4000 ? 7 : 3; });
  REQUIRE(r.given_up.size() == 1);
  CHECK(r.given_up[0].window == Window{kT - 4000, kT - 3000});
  CHECK(r.given_up[0].ids == 7);
  CHECK(v.retire_next == std::vector<int64_t>{kT - 4000});
  CHECK(v.live.awaiting.front() == Window{kT - 3000, kT - 2000});
  CHECK(v.late_seen.empty());  // the abandoned read's ids are dropped; a new late read opens over what is left
  CHECK(r.late_windows == 2);  // and its ids are for the source to load
  CHECK_FALSE(v.late_link);
  CHECK(v.live.late == ReadPosition{kT - 3000, kT - 1000, ""});
}

TEST_CASE("pull steps, plan: a start older than the retention is clipped to the floor") {
  PullView v;
  v.live.first.window_start = kT - 100 * 86400;
  auto r = plan_next(v, kT * 1000, false, 0, kPlan, no_ids);
  REQUIRE(r.clipped_from);
  CHECK(*r.clipped_from == kT - 100 * 86400);
  CHECK(v.live.first.window_start == retention_floor(kT));
  CHECK(r.kind == ReadKind::First);
}

// ---------------------------------------------------------------- the source driving the steps

namespace {

constexpr int64_t kNow = 1'800'000'000;  // unix seconds at the test's start
const std::string kBase = "https://acme.zendesk.com";

std::string start_param(int64_t s) { return "filter%5Bstart%5D=" + url_encode(format_utc_seconds(s)); }

// Answers from a script: per window start (the filter[start] of the URL),
// the next scripted answer, else an empty last page; `script` overrides
// everything while it has answers. Records every URL asked.
class FakeApi final : public HttpGet {
 public:
  std::deque<HttpResponse> script;
  std::map<int64_t, std::deque<std::string>> pages;  // window start -> bodies, in order
  std::vector<std::string> urls;
  std::vector<std::string> auths;

  HttpResponse get(const std::string& url, const std::string& authorization, const std::function<bool()>&) override {
    urls.push_back(url);
    auths.push_back(authorization);
    if (!script.empty()) {
      HttpResponse r = std::move(script.front());
      script.pop_front();
      return r;
    }
    for (auto& [start, bodies] : pages)
      if (url.find(start_param(start)) != std::string::npos && !bodies.empty()) {
        std::string b = std::move(bodies.front());
        bodies.pop_front();
        return answer(200, b);
      }
    return answer(200, page_body({}));
  }
};

struct Rig {
  fs::path dir;
  std::ostringstream logs;
  Logger log{logs};
  ProcessMetrics process_metrics{"test"};
  PullMetrics metrics{process_metrics, "zendesk", "127.0.0.1"};
  StopSignal stop;
  ManualClock clock{kNow * 1000};
  FakeApi api;
  // Seen an hour ahead: a 429's hold (on the real steady clock) is already
  // over, so the test does not sleep through it.
  RateLimiter limiter{50, std::chrono::seconds(60), std::chrono::milliseconds(0),
                      [] { return RateLimiter::Clock::now() + std::chrono::hours(1); }};
  PullCheckpoint store;
  AccessLogSource source;

  static SourceSettings settings() {
    SourceSettings s;
    s.base_url = kBase;
    s.authorization = "Bearer t";
    s.page_size = 100;
    s.retry_initial = 1ms;
    s.retry_max = 2ms;
    s.auth_retry = 1ms;
    return s;
  }
  explicit Rig(const std::string& name, SourceSettings s = settings())
      : dir(zf::testing::temp_dir(name)),
        store((dir / "checkpoint.json").string()),
        source(std::move(s), api, limiter, store, log, metrics, stop, clock) {}

  // The next page, committed at once (as if every sink delivered it).
  std::optional<SourcePage> next_committed(bool once = true) {
    auto page = source.next(once);
    if (page) source.commit(page->token);
    return page;
  }
};

}  // namespace

TEST_CASE("pull source on a fake server: first reads, then a late read ships only new ids and retires the window's ids") {
  Rig rig("pull-late");
  const int64_t w1 = kNow - 3600, w2 = kNow - 600;  // read once; read first and late
  rig.api.pages[w1] = {page_body({event("A")})};
  rig.api.pages[w2] = {page_body({event("B"), event("C")}),  // first read
                       page_body({event("B"), event("C"), event("D")}, true, "L1"), page_body({event("C")})};  // late
  rig.source.open("acme", w1);

  auto p1 = rig.next_committed();
  REQUIRE(p1);
  CHECK(ids_of(p1->events) == std::vector<std::string>{"A"});
  CHECK(p1->advances);
  CHECK(p1->span_start_s == w1);
  CHECK(p1->span_end_s == w2);
  CHECK_FALSE(rig.store.has_ids(w1));  // read once: no ids kept

  auto p2 = rig.next_committed();
  REQUIRE(p2);
  CHECK(ids_of(p2->events) == std::vector<std::string>{"B", "C"});
  CHECK(rig.store.count_ids(w2) == 2);  // written ahead for the late read
  CHECK_FALSE(rig.next_committed());    // caught up, late read not due yet
  CHECK(rig.api.urls.size() == 2);
  CHECK(rig.api.auths == std::vector<std::string>{"Bearer t", "Bearer t"});

  // 700 s later: two new first-read windows, then w2's late read is due.
  rig.clock.advance(std::chrono::seconds(700));
  struct Seen {  // a page's events live only until the next call
    std::vector<std::string> ids;
    size_t listed, duplicates;
    bool advances;
    int64_t span_start, span_end;
  };
  std::vector<Seen> later;
  while (auto p = rig.next_committed())
    later.push_back({ids_of(p->events), p->listed, p->duplicates, p->advances, p->span_start_s, p->span_end_s});
  REQUIRE(later.size() == 4);
  CHECK(later[0].advances);
  CHECK(later[1].advances);
  const Seen& late1 = later[2];
  CHECK_FALSE(late1.advances);
  CHECK(late1.span_start == w2);
  CHECK(late1.span_end == kNow - 60);
  CHECK(late1.ids == std::vector<std::string>{"D"});  // only what the first read did not ship
  CHECK(late1.listed == 3);
  CHECK(late1.duplicates == 2);
  CHECK(rig.api.urls[5].find("page%5Bafter%5D=L1") != std::string::npos);
  CHECK(later[3].ids.empty());
  CHECK(later[3].duplicates == 1);
  CHECK_FALSE(rig.store.has_ids(w2));  // retired once the late read was committed
  auto state = rig.store.load();
  REQUIRE(state);
  CHECK(state->state.awaiting.size() == 1);  // the newest window waits for its own late read
  CHECK(state->state.events_delivered == 4);
}

TEST_CASE("pull source on a fake server: cursor and same-origin links.next are followed page by page") {
  Rig rig("pull-cursor");
  const int64_t w1 = kNow - 3600;
  std::string next = kBase + "/api/v2/access_logs?" + start_param(w1) + "&page%5Bafter%5D=viaLink";
  rig.api.pages[w1] = {page_body({event("A")}, true, "c1", next), page_body({event("B")}, true, "c2"),
                       page_body({event("C")}, true, "c3", "https://evil.example/steal"), page_body({event("D")})};
  rig.source.open("acme", w1);
  std::vector<std::string> shipped;
  for (int i = 0; i < 4; ++i) {
    auto p = rig.next_committed();
    REQUIRE(p);
    for (auto& id : ids_of(p->events)) shipped.push_back(id);
  }
  CHECK(shipped == std::vector<std::string>{"A", "B", "C", "D"});
  REQUIRE(rig.api.urls.size() >= 4);
  CHECK(rig.api.urls[1] == next);
  CHECK(rig.api.urls[2].find("page%5Bafter%5D=c2") != std::string::npos);
  CHECK(rig.api.urls[3].find("evil.example") == std::string::npos);
  CHECK(rig.api.urls[3].find("page%5Bafter%5D=c3") != std::string::npos);
  CHECK(rig.logs.str().find("links.next points at another host") != std::string::npos);
}

TEST_CASE("pull source on a fake server: transport, 5xx, 3xx, a bad body and a stuck page are retried, then the page ships") {
  Rig rig("pull-retry");
  HttpResponse transport = answer(0);
  transport.transport_error = "Connection reset by peer";
  rig.api.script = {transport, answer(503, "down"), answer(302, "", {{"location", "https://elsewhere.example/"}}),
                    answer(200, "not json"),
                    answer(200, page_body({event("X")}, true, "", "https://evil.example/next")),
                    answer(200, page_body({event("A")}))};
  rig.source.open("acme", kNow - 3600);
  auto p = rig.next_committed();
  REQUIRE(p);
  CHECK(ids_of(p->events) == std::vector<std::string>{"A"});  // nothing of the stuck page was shipped
  CHECK(rig.api.urls.size() == 6);
  for (const auto& url : rig.api.urls) CHECK(url == rig.api.urls[0]);  // the same request each time
  std::string logs = rig.logs.str();
  CHECK(logs.find("Connection reset by peer") != std::string::npos);
  CHECK(logs.find("redirect to https://elsewhere.example/") != std::string::npos);
  CHECK(logs.find("no usable cursor") != std::string::npos);
  CHECK_FALSE(rig.store.has_ids(kNow - 3600));
}

TEST_CASE("pull source on a fake server: 429 holds the budget and the same page is asked again") {
  Rig rig("pull-429");
  rig.api.script = {answer(429, "", {{"ratelimit-reset", "5"}}), answer(429, "", {{"retry-after", "1"}}),
                    answer(200, page_body({event("A")}))};
  rig.source.open("acme", kNow - 3600);
  auto p = rig.next_committed();
  REQUIRE(p);
  CHECK(ids_of(p->events) == std::vector<std::string>{"A"});
  CHECK(rig.api.urls.size() == 3);
  CHECK(rig.api.urls[2] == rig.api.urls[0]);
  std::string logs = rig.logs.str();
  CHECK(logs.find("rate limited by Zendesk (429)") != std::string::npos);
  std::vector<int64_t> waits;  // the reset is read on the real clock: 5 s less a millisecond's part
  for (size_t at = logs.find("\"wait_ms\":"); at != std::string::npos; at = logs.find("\"wait_ms\":", at + 1))
    waits.push_back(std::stoll(logs.substr(at + 10)));
  REQUIRE(waits.size() == 2);
  CHECK(waits[0] >= 4990);
  CHECK(waits[0] <= 5000);
  CHECK(waits[1] == 2000);  // the second 429 in a row waits at least 2 s
}

TEST_CASE("pull source on a fake server: 400 stops; 401/403/404 stop a --once run and are retried in a service") {
  SUBCASE("400") {
    Rig rig("pull-400");
    rig.api.script = {answer(400, R"({"errors":[{"title":"Invalid","detail":"bad size"}]})")};
    rig.source.open("acme", kNow - 3600);
    CHECK_THROWS_WITH_AS(rig.source.next(false), doctest::Contains("HTTP 400: Invalid: bad size"), FatalError);
  }
  SUBCASE("401 with --once") {
    Rig rig("pull-401-once");
    rig.api.script = {answer(401, R"({"errors":[{"title":"Couldn't authenticate you"}]})")};
    rig.source.open("acme", kNow - 3600);
    CHECK_THROWS_WITH_AS(rig.source.next(true), doctest::Contains("zendesk.auth"), FatalError);
  }
  SUBCASE("403 and 404 in a service: reported, retried, cleared once a page comes") {
    Rig rig("pull-403");
    std::vector<std::string> problems;
    rig.source.on_problem([&](const std::string& p) { problems.push_back(p); });
    rig.api.script = {answer(403, "{}"), answer(404, "{}"), answer(200, page_body({event("A")}))};
    rig.source.open("acme", kNow - 3600);
    auto p = rig.next_committed(false);
    REQUIRE(p);
    CHECK(ids_of(p->events) == std::vector<std::string>{"A"});
    REQUIRE(problems.size() == 3);
    CHECK(problems[0].find("HTTP 403") == 0);
    CHECK(problems[1].find("HTTP 404") == 0);
    CHECK(problems[2].empty());
  }
}

TEST_CASE("pull source on a fake server (#26.8): a page with has_more and no usable cursor backs off, its wait growing") {
  // Each page parsed used to reset the backoff before the cursor check, so
  // such a page was retried every retry_initial and spent the budget.
  for (std::string next : {"", "https://elsewhere.example/x"}) {
    CAPTURE(next);
    SourceSettings s = Rig::settings();
    s.retry_initial = 8ms;
    s.retry_max = 1000ms;
    Rig rig("pull-stuck", s);
    AccessLogSource& source = rig.source;
    std::string stuck = next.empty() ? R"({"access_logs":[],"links":{"next":null},"meta":{"has_more":true,"after_cursor":null}})"
                                     : page_body({event("X")}, true, "", next);
    for (int i = 0; i < 5; ++i) rig.api.script.push_back(answer(200, stuck));
    rig.api.script.push_back(answer(200, page_body({event("A")})));
    source.open("acme", kNow - 3600);
    auto p = source.next(true);
    REQUIRE(p);
    CHECK(ids_of(p->events) == std::vector<std::string>{"A"});
    // Full jitter in [d/2, d] with d = 8, 16, 32, 64, 128 ms.
    std::vector<int64_t> waits;
    std::string logs = rig.logs.str();
    for (size_t at = logs.find("\"retry_in_ms\":"); at != std::string::npos; at = logs.find("\"retry_in_ms\":", at + 1))
      waits.push_back(std::stoll(logs.substr(at + 14)));
    REQUIRE(waits.size() == 5);
    for (size_t k = 0; k < waits.size(); ++k) {
      CAPTURE(k);
      CHECK(waits[k] >= (8 << k) / 2);
      CHECK(waits[k] <= (8 << k));
    }
  }
}

TEST_CASE("pull source on a fake server: 401/403/404 in a service wait auth_retry before asking again") {
  SourceSettings s = Rig::settings();
  s.auth_retry = 150ms;
  Rig rig("pull-auth-slow", s);
  AccessLogSource& source = rig.source;
  rig.api.script = {answer(401, "{}"), answer(200, page_body({event("A")}))};
  source.open("acme", kNow - 3600);
  auto t0 = std::chrono::steady_clock::now();
  auto p = source.next(false);
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(p);
  CHECK(took >= 150ms);
  CHECK(rig.logs.str().find("credentials were rejected") != std::string::npos);
  CHECK(rig.logs.str().find("\"retry_in_ms\":150") != std::string::npos);
}
