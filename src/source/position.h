#pragma once
// Where the fetch stage is: a time window [start, end) of event time and a
// cursor inside it. This is the value the checkpoint stores; resuming from
// it, mid-window included, re-reads nothing that was acknowledged.
#include <cstdint>
#include <optional>
#include <string>

namespace zf::source {

struct Position {
  int64_t window_start = 0;  // unix seconds, inclusive
  int64_t window_end = 0;    // unix seconds, exclusive; 0 = the window is not open yet
  std::string cursor;        // after_cursor within the open window; "" = its first page
  bool operator==(const Position&) const = default;
};

struct WindowSettings {
  int64_t settle_delay_s = 60;   // never ask for events newer than now - settle
  int64_t overlap_s = 600;       // each window re-reads this much of the previous one
  int64_t max_window_s = 86400;  // longest window one cursor walk covers
  int64_t poll_interval_s = 30;  // once caught up, open a window when this much is new
};

inline constexpr int64_t kRetentionSeconds = 90LL * 86400;

// The window to open from `start` at `now`, or nullopt when fewer than
// poll_interval seconds of new event time are available (caught up).
struct Window {
  int64_t start, end;
};
std::optional<Window> plan_window(int64_t start, int64_t now, const WindowSettings& s);

// Where the next window starts once [start, end) has been read completely:
// `overlap` back, so late events inside it are seen (duplicates are dropped
// by id), but never before `start` (the window must make progress).
int64_t next_window_start(const Window& done, const WindowSettings& s);

// The oldest start the API still serves, with a safety margin so a
// request built now is not rejected a few seconds later.
int64_t retention_floor(int64_t now);

// Seconds until unix second `when` is older than the retention (negative:
// already lost).
inline int64_t retention_margin(int64_t when, int64_t now) { return when - (now - kRetentionSeconds); }

}  // namespace zf::source
