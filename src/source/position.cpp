#include "source/position.h"

#include <algorithm>

namespace zf::source {

std::optional<Window> plan_window(int64_t start, int64_t now, const WindowSettings& s) {
  int64_t newest = now - s.settle_delay_s;
  // A window must add poll_interval seconds beyond the part it re-reads.
  if (newest - start < s.overlap_s + s.poll_interval_s && newest - start < s.max_window_s) return std::nullopt;
  return Window{start, std::min(newest, start + s.max_window_s)};
}

int64_t next_window_start(const Window& done, const WindowSettings& s) {
  return std::max(done.start + 1, done.end - s.overlap_s);
}

int64_t retention_floor(int64_t now) { return now - kRetentionSeconds + 600; }

}  // namespace zf::source
