#pragma once
// Where the fetch stage is, and which windows of event time it reads when.
//
// Event time is cut into contiguous windows [start, end). Each is read
// first when it closes (settle_delay after its end, for freshness) and,
// when that first read was fresh, once more late_read_delay after its end:
// the late read ships only the events its first read did not. A window
// whose first read already happens late_read_delay after its end (a
// backfill) is read once. So each window costs two walks at most, however
// often the forwarder polls.
#include <cstdint>
#include <optional>
#include <string>

namespace zf::source {

struct Window {
  int64_t start = 0, end = 0;  // unix seconds, [start, end)
  bool operator==(const Window&) const = default;
};

// One walk through a window with the API's cursor.
struct ReadPosition {
  int64_t window_start = 0;  // unix seconds, inclusive
  int64_t window_end = 0;    // unix seconds, exclusive; 0 = the window is not open yet
  std::string cursor;        // after_cursor within the open window; "" = its first page
  bool open() const { return window_end != 0; }
  Window window() const { return {window_start, window_end}; }
  bool operator==(const ReadPosition&) const = default;
};

struct WindowSettings {
  int64_t settle_delay_s = 60;        // never ask for events newer than now - settle
  int64_t max_window_s = 86400;       // longest window one cursor walk covers
  int64_t poll_interval_s = 30;       // once caught up, open a window when this much is new
  int64_t late_read_delay_s = 600;    // read each fresh window again this long after its end; 0 = never
  int64_t late_read_max_backlog_s = 1800;  // a late read this overdue is given up (counted)
};

inline constexpr int64_t kRetentionSeconds = 90LL * 86400;

// The next first-read window from `start` at `now`, or nullopt when fewer
// than poll_interval seconds of settled event time are available (caught
// up). A window never straddles now - late_read_delay: the part before it
// is read once, the part after it gets a late read.
struct PlannedWindow {
  Window window;
  bool late_read = false;  // this window is read again late_read_delay after its end
};
std::optional<PlannedWindow> plan_first_read(int64_t start, int64_t now, const WindowSettings& s);

// Unix second at which a window starting at `start` can be opened.
inline int64_t first_read_due(int64_t start, const WindowSettings& s) {
  return start + s.poll_interval_s + s.settle_delay_s;
}
inline int64_t late_read_due(const Window& w, const WindowSettings& s) { return w.end + s.late_read_delay_s; }

// The oldest start the API still serves, with a safety margin so a
// request built now is not rejected a few seconds later.
int64_t retention_floor(int64_t now);

// Seconds until unix second `when` is older than the retention (negative:
// already lost).
inline int64_t retention_margin(int64_t when, int64_t now) { return when - (now - kRetentionSeconds); }

}  // namespace zf::source
