#pragma once
// Step 3 of a pull: what to do next (read a page of the first read, of a
// late read, wait until when, or stop a --once run), with no I/O. It moves
// the view as the plan says (opens windows, gives up overdue late reads)
// and returns what the source must do about it (count, log, load ids).
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "sources/zendesk_pull/position.h"
#include "sources/zendesk_pull/pull_page.h"

namespace zf::source {

struct PlanSettings {
  WindowSettings windows;
  size_t late_read_max_ids = 500'000;  // a late read covers due windows up to this many first-read ids
};

struct GivenUp {
  Window window;
  size_t ids = 0;  // its first read's ids: late events in it are not collected
};

struct NextRequest {
  enum class Step { Fetch, Wait, Done } step = Step::Done;
  ReadKind kind = ReadKind::First;
  int64_t wake_ms = 0;                  // Wait: unix ms to sleep until
  std::vector<GivenUp> given_up;        // late reads abandoned, their id files retired with the next page
  std::optional<int64_t> clipped_from;  // the first read's start, moved up to the retention floor
  size_t late_windows = 0;              // a late read opened over this many awaiting windows: load their ids
};

// `committed_first_start`: where the durable state's first read is (a late
// read compares against ids that must be committed first). `ids_in(start)`:
// how many ids a window's first read recorded.
NextRequest plan_next(PullView& view, int64_t now_ms, bool once, int64_t committed_first_start,
                      const PlanSettings& settings, const std::function<size_t(int64_t)>& ids_in);

}  // namespace zf::source
