#include "sources/zendesk_pull/position.h"

#include <algorithm>

namespace zf::source {

std::optional<PlannedWindow> plan_first_read(int64_t start, int64_t now, const WindowSettings& s) {
  int64_t newest = now - s.settle_delay_s;
  if (newest - start < s.poll_interval_s && newest - start < s.max_window_s) return std::nullopt;
  PlannedWindow p{{start, std::min(newest, start + s.max_window_s)}, false};
  if (s.late_read_delay_s > 0) {
    int64_t boundary = now - s.late_read_delay_s;
    if (p.window.start < boundary && p.window.end > boundary) p.window.end = boundary;
    p.late_read = p.window.end > boundary;
  }
  return p;
}

int64_t retention_floor(int64_t now) { return now - kRetentionSeconds + 600; }

}  // namespace zf::source
