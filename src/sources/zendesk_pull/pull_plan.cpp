#include "sources/zendesk_pull/pull_plan.h"

#include <algorithm>

namespace zf::source {

namespace {

// Late reads that cannot be served within late_read_max_backlog are given
// up (their late events, if any, are then missed) so that the id files and
// the state stay bounded when first reads need the whole budget.
void give_up_overdue(PullView& v, int64_t now, const WindowSettings& w, const std::function<size_t(int64_t)>& ids_in,
                     std::vector<GivenUp>& out) {
  while (!v.live.awaiting.empty() && now > late_read_due(v.live.awaiting.front(), w) + w.late_read_max_backlog_s) {
    Window win = v.live.awaiting.front();
    if (v.live.late.open()) {
      // The open late read covers this window: abandon it whole.
      v.live.late = {};
      v.late_seen = {};
      v.late_link.reset();
    }
    out.push_back({win, ids_in(win.start)});
    v.retire_next.push_back(win.start);
    v.live.awaiting.erase(v.live.awaiting.begin());
  }
}

// The number of consecutive due windows one late read walks (0: none due,
// or the first read's ids are not durable yet: `waits_for_commit`).
size_t late_read_windows(const PullView& v, int64_t now, int64_t committed, const PlanSettings& s,
                         const std::function<size_t(int64_t)>& ids_in, bool& waits_for_commit) {
  const auto& w = s.windows;
  const auto& awaiting = v.live.awaiting;
  if (awaiting.empty() || now < late_read_due(awaiting.front(), w)) return 0;
  // The first read's ids must be durable before the late read compares
  // against them; with a stalled sink this waits.
  if (awaiting.front().end > committed) {
    waits_for_commit = true;
    return 0;
  }
  // One walk over consecutive due windows: fewer partial pages.
  size_t ids = ids_in(awaiting.front().start);
  size_t k = 1;
  while (k < awaiting.size()) {
    const Window& next = awaiting[k];
    size_t more = ids_in(next.start);
    if (next.start != awaiting[k - 1].end || now < late_read_due(next, w) || next.end > committed ||
        ids + more > s.late_read_max_ids)
      break;
    ids += more;
    ++k;
  }
  return k;
}

}  // namespace

NextRequest plan_next(PullView& v, int64_t now_ms, bool once, int64_t committed_first_start,
                      const PlanSettings& settings, const std::function<size_t(int64_t)>& ids_in) {
  const auto& w = settings.windows;
  const int64_t now = now_ms / 1000;
  NextRequest out;
  give_up_overdue(v, now, w, ids_in, out.given_up);
  if (!v.live.first.open()) {
    int64_t floor = retention_floor(now);
    if (v.live.first.window_start < floor) {
      out.clipped_from = v.live.first.window_start;
      v.live.first = {floor, 0, ""};
    }
    if (auto p = plan_first_read(v.live.first.window_start, now, w)) {
      v.live.first.window_end = p->window.end;
      v.live.first.cursor.clear();
      v.live.first_late_read = p->late_read;
      v.first_link.reset();
    }
  }
  if (v.live.first.open()) {
    out.step = NextRequest::Step::Fetch;
    out.kind = ReadKind::First;
    return out;
  }
  bool waits_for_commit = false;
  if (!v.live.late.open()) {
    out.late_windows = late_read_windows(v, now, committed_first_start, settings, ids_in, waits_for_commit);
    if (out.late_windows > 0) {
      v.live.late = {v.live.awaiting.front().start, v.live.awaiting[out.late_windows - 1].end, ""};
      v.late_link.reset();
    }
  }
  if (v.live.late.open()) {
    out.step = NextRequest::Step::Fetch;
    out.kind = ReadKind::Late;
    return out;
  }
  if (once && !waits_for_commit) {
    out.step = NextRequest::Step::Done;
    return out;
  }
  // Sleep until the next window closes or the next late read is due, to
  // the second: polling more often only costs CPU.
  int64_t wake_s = first_read_due(v.live.first.window_start, w);
  if (!v.live.awaiting.empty()) wake_s = std::min(wake_s, late_read_due(v.live.awaiting.front(), w));
  out.step = NextRequest::Step::Wait;
  out.wake_ms = wake_s * 1000 + 20;
  if (waits_for_commit || once) out.wake_ms = std::min(out.wake_ms, now_ms + 50);
  return out;
}

}  // namespace zf::source
