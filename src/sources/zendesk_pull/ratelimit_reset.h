#pragma once
// When may we ask again after a 429? Zendesk documents `ratelimit-reset`
// as a date-time, but it has been seen as RFC 3339, HTTP-date, epoch
// seconds and delta seconds; other Zendesk endpoints send `Retry-After`.
#include <chrono>
#include <optional>
#include <string_view>

namespace zf::source {

using SystemTime = std::chrono::system_clock::time_point;

// Parses one header value into an absolute time. Integers up to 1e9 are
// delta seconds, larger ones epoch seconds. nullopt for anything else.
std::optional<SystemTime> parse_reset_header(std::string_view value, SystemTime now);

// How long to wait given the two headers (either may be absent): the
// parsed reset, else Retry-After, else `fallback` (60 s). At least `floor`:
// a reset already past (clock skew, a stale header) must not turn 429s into
// a tight loop; never longer than `cap`, so a garbage date far in the
// future cannot stall the forwarder for days.
std::chrono::milliseconds reset_wait(std::optional<std::string_view> ratelimit_reset,
                                     std::optional<std::string_view> retry_after, SystemTime now,
                                     std::chrono::milliseconds fallback = std::chrono::seconds(60),
                                     std::chrono::milliseconds cap = std::chrono::minutes(15),
                                     std::chrono::milliseconds floor = std::chrono::seconds(1));

}  // namespace zf::source
