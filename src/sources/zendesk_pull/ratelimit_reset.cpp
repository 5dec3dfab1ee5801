#include "sources/zendesk_pull/ratelimit_reset.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <string>

#include "core/time_format.h"

namespace zf::source {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

int month_index(std::string_view m) {
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (size_t i = 0; i < kMonths.size(); ++i)
    if (m == kMonths[i]) return static_cast<int>(i);
  return -1;
}

// IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" and RFC 850
// "Sunday, 06-Nov-94 08:49:37 GMT" (the two HTTP-date forms servers send).
std::optional<int64_t> parse_http_date(std::string_view s) {
  size_t comma = s.find(", ");
  if (comma == std::string_view::npos) return std::nullopt;
  std::string rest(s.substr(comma + 2));
  int day = 0, year = 0, h = 0, m = 0, sec = 0;
  char mon[4] = {0}, zone[4] = {0};
  int consumed = 0;
  if (std::sscanf(rest.c_str(), "%2d %3s %4d %2d:%2d:%2d %3s%n", &day, mon, &year, &h, &m, &sec, zone, &consumed) == 7 &&
      static_cast<size_t>(consumed) == rest.size()) {
  } else if (std::sscanf(rest.c_str(), "%2d-%3[A-Za-z]-%2d %2d:%2d:%2d %3s%n", &day, mon, &year, &h, &m, &sec, zone,
                         &consumed) == 7 &&
             static_cast<size_t>(consumed) == rest.size()) {
    year += year < 70 ? 2000 : 1900;
  } else {
    return std::nullopt;
  }
  int mi = month_index(mon);
  if (mi < 0 || std::string_view(zone) != "GMT" || day < 1 || day > 31 || h > 23 || m > 59 || sec > 60)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mi;
  tm.tm_mday = day;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

std::optional<SystemTime> parse_reset_header(std::string_view value, SystemTime now) {
  value = trim(value);
  if (value.empty() || value.size() > 64) return std::nullopt;
  // In milliseconds first: system_clock counts nanoseconds and overflows
  // before 1678 and past 2262, which a bogus year must not reach (found by
  // fuzz_ratelimit_reset: "Tue, 24 Nov 1013 12:00:05 GMT").
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::optional<int64_t> ms;
  if (std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (value.size() > 12) return std::nullopt;
    int64_t n = std::stoll(std::string(value));
    ms = n <= 1'000'000'000 ? now_ms + n * 1000 : n * 1000;
  } else if (auto t = parse_rfc3339_ms(value)) {
    ms = *t;
  } else if (auto secs = parse_http_date(value)) {
    ms = *secs * 1000;
  } else {
    return std::nullopt;
  }
  constexpr int64_t kFarMs = 86'400'000;  // beyond any cap, either way
  return SystemTime(std::chrono::milliseconds(std::clamp(*ms, now_ms - kFarMs, now_ms + kFarMs)));
}

std::chrono::milliseconds reset_wait(std::optional<std::string_view> ratelimit_reset,
                                     std::optional<std::string_view> retry_after, SystemTime now,
                                     std::chrono::milliseconds fallback, std::chrono::milliseconds cap,
                                     std::chrono::milliseconds floor) {
  std::optional<SystemTime> when;
  if (ratelimit_reset) when = parse_reset_header(*ratelimit_reset, now);
  if (!when && retry_after) when = parse_reset_header(*retry_after, now);
  auto wait = when ? std::chrono::duration_cast<std::chrono::milliseconds>(*when - now) : fallback;
  return std::clamp(wait, floor, cap);
}

}  // namespace zf::source
