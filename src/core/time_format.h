#pragma once
// Time as the API and the records write it. The API speaks UTC at one-second granularity (yyyy-mm-ddThh:mm:ssZ);
// windows are kept as unix seconds.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zf {

// "2026-11-24T12:00:05Z"
std::string format_utc_seconds(int64_t unix_seconds);
// "2026-11-24T12:00:05.123Z"
std::string format_utc_millis(int64_t unix_ms);
// RFC 3339 with optional fraction and offset ("Z", "+02:00"); returns unix
// milliseconds. Rejects anything else, including out-of-range fields.
std::optional<int64_t> parse_rfc3339_ms(std::string_view text);

}  // namespace zf
