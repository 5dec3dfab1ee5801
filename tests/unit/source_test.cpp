// The fetch stage's pure parts: reset parsing, origin rule, windows, budget.
#include <doctest/doctest.h>

#include "net/http_client.h"
#include "sources/zendesk_pull/page.h"
#include "sources/zendesk_pull/position.h"
#include "sources/zendesk_pull/rate_limiter.h"
#include "sources/zendesk_pull/request_journal.h"
#include "sources/zendesk_pull/ratelimit_reset.h"
#include "core/time_format.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

using namespace zf;
using namespace zf::source;
using namespace zf::net;
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

TEST_CASE("ratelimit-reset (#6): a reset in the past waits the floor, one far in the future (even past 2262) the cap") {
  CHECK(reset_wait(std::string_view(format_utc_seconds(kNow - 100)), std::nullopt, at(kNow)) == seconds(1));
  CHECK(reset_wait(std::string_view("0"), std::nullopt, at(kNow)) == seconds(1));
  CHECK(reset_wait(std::string_view(format_utc_seconds(kNow + 86400 * 30)), std::nullopt, at(kNow)) == minutes(15));
  // These overflowed system_clock's nanoseconds (UBSan) and waited 0 ms.
  for (const char* far : {"2262-04-12T00:00:00Z", "9999-12-31T23:59:59Z", "Fri, 31 Dec 9999 23:59:59 GMT",
                          "999999999999"}) {
    CAPTURE(far);
    CHECK(reset_wait(std::string_view(far), std::nullopt, at(kNow)) == minutes(15));
  }
  // Before 1678 it overflowed the other way (found by fuzz_ratelimit_reset).
  for (const char* past : {"Tue, 24 Nov 1013 12:00:05 GMT", "0001-01-01T00:00:00Z", "Mon, 01 Jan 0001 00:00:00 GMT"}) {
    std::string value = past;
    CAPTURE(value);
    CHECK(reset_wait(std::string_view(past), std::nullopt, at(kNow)) == seconds(1));
  }
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

TEST_CASE("windows: a first read ends settle_delay before now and spans at most max_window") {
  WindowSettings s{.settle_delay_s = 60, .max_window_s = 86400, .poll_interval_s = 30, .late_read_delay_s = 600};
  auto w = plan_first_read(kNow - 3 * 86400, kNow, s);
  REQUIRE(w);
  CHECK(w->window == Window{kNow - 3 * 86400, kNow - 2 * 86400});
  CHECK_FALSE(w->late_read);
}

TEST_CASE("windows: caught up means fewer than poll_interval settled seconds are new") {
  WindowSettings s{.settle_delay_s = 60, .max_window_s = 86400, .poll_interval_s = 30, .late_read_delay_s = 600};
  CHECK_FALSE(plan_first_read(kNow - 60 - 29, kNow, s));
  auto w = plan_first_read(kNow - 60 - 30, kNow, s);
  REQUIRE(w);
  CHECK(w->window == Window{kNow - 90, kNow - 60});
  CHECK(w->late_read);  // fresh: read once more 10 minutes after its end
  CHECK(first_read_due(kNow - 90, s) == kNow);
  CHECK(late_read_due(w->window, s) == kNow - 60 + 600);
}

TEST_CASE("windows: a window never straddles now - late_read_delay; only the fresh part gets a late read") {
  WindowSettings s{.settle_delay_s = 60, .max_window_s = 86400, .poll_interval_s = 30, .late_read_delay_s = 600};
  auto old = plan_first_read(kNow - 3600, kNow, s);
  REQUIRE(old);
  CHECK(old->window == Window{kNow - 3600, kNow - 600});
  CHECK_FALSE(old->late_read);  // read once: its first read is already late_read_delay after its end
  auto fresh = plan_first_read(kNow - 600, kNow, s);
  REQUIRE(fresh);
  CHECK(fresh->window == Window{kNow - 600, kNow - 60});
  CHECK(fresh->late_read);
}

TEST_CASE("windows: with late reads off every window is read once") {
  WindowSettings s{.settle_delay_s = 60, .max_window_s = 86400, .poll_interval_s = 30, .late_read_delay_s = 0};
  auto w = plan_first_read(kNow - 3600, kNow, s);
  REQUIRE(w);
  CHECK(w->window == Window{kNow - 3600, kNow - 60});
  CHECK_FALSE(w->late_read);
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

TEST_CASE("rate limiter: spare requests get what urgent ones leave, never the urgent ones' share") {
  auto t = std::make_shared<RateLimiter::Clock::time_point>(RateLimiter::Clock::now());
  RateLimiter limiter(50, seconds(60), milliseconds(0), [t] { return *t; });
  zf::StopSignal stop;
  // First reads at 1,000 events/s: a burst of 12 every 30 s, 24 a minute.
  for (int burst = 0; burst < 4; ++burst) {
    if (burst > 0) *t += seconds(30);
    for (int i = 0; i < 12; ++i) CHECK(limiter.acquire(stop));
  }
  *t += seconds(1);
  int spare = 0;
  while (limiter.try_acquire_spare()) ++spare;
  CHECK(spare == 50 - 1 - 24);  // late reads: the rest, less one of headroom
  CHECK(limiter.acquire(stop));  // the headroom: an urgent request still goes at once
  // Two minutes later every urgent request has aged out: spare ones get nearly all.
  *t += seconds(121);
  spare = 0;
  while (limiter.try_acquire_spare()) ++spare;
  CHECK(spare == 49);
  // A 429 hold stops spare requests too.
  RateLimiter held(10, seconds(60), milliseconds(0), [t] { return *t; });
  held.hold_until(*t + seconds(5));
  CHECK_FALSE(held.try_acquire_spare());
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

TEST_CASE("#26.14 rate limiter: a restarted process counts the dead one's requests of the last period") {
  auto dir = std::filesystem::temp_directory_path() / ("zf-journal-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::string path = (dir / "checkpoint.json.requests").string();
  auto t = std::make_shared<RateLimiter::Clock::time_point>(RateLimiter::Clock::now());
  zf::StopSignal stop;
  {
    RequestJournal journal(path, 5);
    CHECK(journal.earlier().empty());
    RateLimiter first(5, seconds(60), milliseconds(0), [t] { return *t; });
    first.keep_journal(journal, [](const std::string&) {});
    for (int i = 0; i < 4; ++i) CHECK(first.acquire(stop));
  }  // killed: nothing else is written on the way out
  {
    RequestJournal journal(path, 5);
    CHECK(journal.earlier().size() == 4);
    RateLimiter second(5, seconds(60), milliseconds(0), [t] { return *t; });
    second.keep_journal(journal, [](const std::string&) {});
    CHECK(second.in_use() == 4);  // a fresh limiter would say 0 and burst 5 more
    CHECK(second.acquire(stop));
    CHECK(second.next_delay() > seconds(50));
    // The ring keeps the newest 5 times: one more overwrites the oldest.
  }
  {
    RequestJournal journal(path, 5);
    CHECK(journal.earlier().size() == 5);
  }
  // A torn record reads as absent, not as a request at time zero.
  {
    std::FILE* f = std::fopen(path.c_str(), "r+");
    std::fputs("12x", f);
    std::fclose(f);
    RequestJournal journal(path, 5);
    CHECK(journal.earlier().size() == 4);
  }
  // Requests older than the period are not counted.
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fprintf(f, "%015lld\n", static_cast<long long>(duration_cast<milliseconds>(
                                                             system_clock::now().time_since_epoch()).count() - 61'000));
    std::fclose(f);
    RequestJournal journal(path, 5);
    RateLimiter third(5, seconds(60), milliseconds(0), [t] { return *t; });
    third.keep_journal(journal, [](const std::string&) {});
    CHECK(third.in_use() == 0);
  }
  std::filesystem::remove_all(dir);
}
