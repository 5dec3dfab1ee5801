#include "sources/zendesk_pull/pull_page.h"

#include <algorithm>

#include "core/time_format.h"
#include "proof/raw_event.h"

namespace zf::source {

WayPast way_past(const PageEnvelope& page, const std::optional<Origin>& origin) {
  WayPast way;
  if (!page.has_more) return way;
  if (page.next_link && origin && same_origin(*page.next_link, *origin)) way.link = page.next_link;
  else if (page.next_link) way.foreign_link = true;
  way.stuck = page.after_cursor.empty() && !way.link;
  return way;
}

ScannedPage scan_page(const simdjson::dom::array& events, const EventKeySet& seen, bool record) {
  ScannedPage out;
  out.events.reserve(events.size());
  for (simdjson::dom::element event : events) {
    ++out.listed;
    auto id = proof::raw_id(event);
    if (id && !id->empty()) {
      EventKey key = event_key(*id);
      if (!seen.empty() && seen.contains(key)) {
        ++out.duplicates;
        continue;
      }
      if (record) out.write_ahead.push_back(key);
    }
    out.events.push_back(event);
  }
  return out;
}

Advanced advance(PullView& view, ReadKind kind, const Window& window, const PageEnvelope& page, WayPast way,
                 size_t written_ahead) {
  Advanced out;
  PullState& live = view.live;
  if (written_ahead > 0) live.id_counts[window.start] += written_ahead;
  if (page.has_more) {
    view.link(kind) = std::move(way.link);
    view.position(kind).cursor = page.after_cursor;
  }
  if (kind == ReadKind::First) {
    if (!page.has_more) {
      if (live.first_late_read) live.awaiting.push_back(window);
      else out.retire.push_back(window.start);  // a resumed window's ids, if any
      live.first = {window.end, 0, ""};
      live.first_late_read = false;
      view.first_seen = {};
      view.first_link.reset();
    }
  } else if (!page.has_more) {
    while (!live.awaiting.empty() && live.awaiting.front().end <= live.late.window_end) {
      out.reread.push_back(live.awaiting.front());
      out.retire.push_back(live.awaiting.front().start);
      live.awaiting.erase(live.awaiting.begin());
    }
    live.late = {};
    view.late_seen = {};
    view.late_link.reset();
  }
  out.retire.insert(out.retire.end(), view.retire_next.begin(), view.retire_next.end());
  view.retire_next.clear();
  std::erase_if(live.id_counts, [&](const auto& entry) {
    return entry.first != live.first.window_start &&
           std::none_of(live.awaiting.begin(), live.awaiting.end(), [&](const Window& w) { return w.start == entry.first; });
  });
  return out;
}

}  // namespace zf::source
