// The fetch stage's pure parts: reset parsing, origin rule, windows, budget.
#include <doctest/doctest.h>

#include "source/http_client.h"
#include "source/page.h"
#include "source/position.h"
#include "source/rate_limiter.h"
#include "source/ratelimit_reset.h"
#include "core/time_format.h"

using namespace zf;
using namespace zf::source;
using namespace std::chrono;

namespace {
SystemTime at(int64_t unix_s) { return SystemTime(seconds(unix_s)); }
constexpr int64_t kNow = 1795000000;  // 2026-11-18T...
}  // namespace

TEST_CASE("ratelimit-reset: RFC 3339 date-time gives that instant") {
  auto t = parse_reset_header(format_utc_seconds(kNow + 17), at(kNow));
  REQUIRE(t);
  CHECK(*t == at(kNow + 17));
  auto frac = parse_reset_header("2026-11-18T10:13:37.250Z", at(kNow));
  REQUIRE(frac);
  CHECK(duration_cast<milliseconds>(frac->time_since_epoch()).count() % 1000 == 250);
  auto offset = parse_reset_header("2026-11-18T12:13:37+02:00", at(kNow));
  auto utc = parse_reset_header("2026-11-18T10:13:37Z", at(kNow));
  REQUIRE(offset);
  CHECK(*offset == *utc);
}

TEST_CASE("ratelimit-reset: HTTP-date (IMF-fixdate and RFC 850) gives that instant") {
  auto imf = parse_reset_header("Wed, 18 Nov 2026 10:13:37 GMT", at(kNow));
  auto rfc850 = parse_reset_header("Wednesday, 18-Nov-26 10:13:37 GMT", at(kNow));
  auto iso = parse_reset_header("2026-11-18T10:13:37Z", at(kNow));
  REQUIRE(imf);
  REQUIRE(rfc850);
  CHECK(*imf == *iso);
  CHECK(*rfc850 == *iso);
}

TEST_CASE("ratelimit-reset: small integers are delta seconds, large ones epoch seconds") {
  CHECK(*parse_reset_header("5", at(kNow)) == at(kNow + 5));
  CHECK(*parse_reset_header(" 0 ", at(kNow)) == at(kNow));
  CHECK(*parse_reset_header(std::to_string(kNow + 42), at(kNow)) == at(kNow + 42));
}

TEST_CASE("ratelimit-reset: garbage is rejected, and the wait falls back to 60 s") {
  for (const char* bad : {"", "soon", "-5", "12abc", "2026-13-01T00:00:00Z", "2026-11-18T10:13:37",
                          "Wed, 18 Foo 2026 10:13:37 GMT", "Wed, 18 Nov 2026 10:13:37 PST", "99999999999999999999",
                          "1.5", "\x01\x02"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_reset_header(bad, at(kNow)));
  }
  CHECK(reset_wait(std::string_view("soon"), std::nullopt, at(kNow)) == seconds(60));
  CHECK(reset_wait(std::nullopt, std::nullopt, at(kNow)) == seconds(60));
}

TEST_CASE("ratelimit-reset: Retry-After is used when ratelimit-reset is absent or unusable") {
  CHECK(reset_wait(std::nullopt, std::string_view("7"), at(kNow)) == seconds(7));
  CHECK(reset_wait(std::string_view("garbage"), std::string_view("3"), at(kNow)) == seconds(3));
  CHECK(reset_wait(std::string_view("2"), std::string_view("30"), at(kNow)) == seconds(2));
}

TEST_CASE("ratelimit-reset: a reset in the past waits zero, one far in the future is capped") {
  CHECK(reset_wait(std::string_view(format_utc_seconds(kNow - 100)), std::nullopt, at(kNow)) == milliseconds(0));
  CHECK(reset_wait(std::string_view(format_utc_seconds(kNow + 86400 * 30)), std::nullopt, at(kNow)) == minutes(15));
}

TEST_CASE("same-origin rule: credentials only go to the configured scheme, host and port") {
  auto configured = origin_of("https://acme.zendesk.com");
  REQUIRE(configured);
  CHECK(same_origin("https://acme.zendesk.com/api/v2/access_logs?page[after]=x", *configured));
  CHECK(same_origin("https://ACME.zendesk.com:443/api/v2/access_logs", *configured));
  CHECK_FALSE(same_origin("https://evil.example/api/v2/access_logs", *configured));
  CHECK_FALSE(same_origin("http://acme.zendesk.com/api/v2/access_logs", *configured));
  CHECK_FALSE(same_origin("https://acme.zendesk.com:8443/api/v2/access_logs", *configured));
  CHECK_FALSE(same_origin("https://acme.zendesk.com.evil.example/x", *configured));
  CHECK_FALSE(same_origin("https://acme.zendesk.com@evil.example/x", *configured));
  CHECK_FALSE(same_origin("not a url", *configured));
  auto local = origin_of("http://127.0.0.1:8080");
  REQUIRE(local);
  CHECK(same_origin("http://127.0.0.1:8080/api", *local));
  CHECK_FALSE(same_origin("http://127.0.0.1:8081/api", *local));
}

TEST_CASE("time format: one-second UTC round trip") {
  CHECK(format_utc_seconds(0) == "1970-01-01T00:00:00Z");
  CHECK(format_utc_seconds(1795000000) == "2026-11-18T11:06:40Z");
  CHECK(*parse_rfc3339_ms("2026-11-18T11:06:40Z") == 1795000000LL * 1000);
  CHECK(*parse_rfc3339_ms("2024-02-29T23:59:59.999Z") % 1000 == 999);
}

TEST_CASE("windows: a window ends settle_delay before now and spans at most max_window") {
  WindowSettings s{60, 600, 86400, 30};
  auto w = plan_window(kNow - 3 * 86400, kNow, s);
  REQUIRE(w);
  CHECK(w->start == kNow - 3 * 86400);
  CHECK(w->end == kNow - 2 * 86400);
  auto last = plan_window(kNow - 3600, kNow, s);
  REQUIRE(last);
  CHECK(last->end == kNow - 60);
}

TEST_CASE("windows: caught up means fewer than overlap + poll_interval seconds are available") {
  WindowSettings s{60, 600, 86400, 30};
  CHECK_FALSE(plan_window(kNow - 60 - 629, kNow, s));
  CHECK(plan_window(kNow - 60 - 630, kNow, s));
}

TEST_CASE("windows: the next window re-reads the overlap but always moves forward") {
  WindowSettings s{60, 600, 86400, 30};
  CHECK(next_window_start({1000, 5000}, s) == 4400);
  CHECK(next_window_start({1000, 1200}, s) == 1001);
}

TEST_CASE("windows: retention floor is 90 days back plus a margin") {
  CHECK(retention_floor(kNow) == kNow - 90 * 86400 + 600);
  CHECK(retention_margin(kNow - 89 * 86400, kNow) == 86400);
}

TEST_CASE("rate limiter: never more than the budget in any period, and waits for a reset") {
  auto t = std::make_shared<RateLimiter::Clock::time_point>(RateLimiter::Clock::now());
  RateLimiter limiter(3, seconds(10), milliseconds(0), [t] { return *t; });
  zf::StopSignal stop;
  CHECK(limiter.acquire(stop));
  CHECK(limiter.acquire(stop));
  CHECK(limiter.acquire(stop));
  CHECK(limiter.in_use() == 3);
  CHECK(limiter.next_delay() == seconds(10));
  *t += seconds(10);
  CHECK(limiter.next_delay() == milliseconds(0));
  limiter.hold_until(*t + seconds(4));
  CHECK(limiter.next_delay() == seconds(4));
}

TEST_CASE("rate limiter: acquire returns false when stopped while waiting") {
  RateLimiter limiter(1, seconds(60), milliseconds(0));
  zf::StopSignal stop;
  CHECK(limiter.acquire(stop));
  std::thread stopper([&] {
    std::this_thread::sleep_for(milliseconds(50));
    stop.request();
  });
  auto t0 = steady_clock::now();
  CHECK_FALSE(limiter.acquire(stop));
  CHECK(steady_clock::now() - t0 < seconds(5));
  stopper.join();
}

TEST_CASE("page: a body with invalid UTF-8 is repaired, not retried forever") {
  simdjson::dom::parser parser;
  std::string body = "{\"access_logs\":[{\"id\":\"01HBAD\",\"url\":\"/x\xff\"}],\"meta\":{\"has_more\":false}}";
  auto parsed = parse_page(parser, body);
  REQUIRE(std::holds_alternative<PageEnvelope>(parsed));
  auto& page = std::get<PageEnvelope>(parsed);
  CHECK(page.events.size() == 1);
  std::string_view url;
  CHECK_FALSE(page.events.at(0)["url"].get_string().get(url));
  CHECK(url == "/x\xEF\xBF\xBD");
}

TEST_CASE("page: envelope errors say what is wrong") {
  simdjson::dom::parser parser;
  auto msg = [&](const std::string& body) {
    auto r = parse_page(parser, body);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : std::string("accepted");
  };
  CHECK(msg("{\"access_logs\":[") .find("not valid JSON") != std::string::npos);
  CHECK(msg("{\"meta\":{}}").find("no access_logs array") != std::string::npos);
  CHECK(msg("{\"access_logs\":[],\"meta\":{\"has_more\":\"yes\"}}").find("has_more is not a boolean") != std::string::npos);
  CHECK(msg("{\"access_logs\":[],\"meta\":{\"has_more\":true}}").find("neither") != std::string::npos);
  CHECK(msg("{\"access_logs\":[],\"links\":{\"next\":null},\"meta\":{\"after_cursor\":null,\"has_more\":false}}") == "accepted");
}
