#pragma once
// Step 2 of a pull: taking a 200 page into the pull's state, with no I/O.
// The source parses the body, asks way_past() how to go on, scans the
// events (dedup, ids to write ahead, ledger), writes those ids durably,
// then advance() moves the windows and says which id files to retire.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <simdjson.h>

#include "proof/delivery_ledger.h"
#include "sources/event_id.h"
#include "net/http_client.h"
#include "sources/zendesk_pull/page.h"
#include "sources/zendesk_pull/position.h"
#include "sources/zendesk_pull/pull_checkpoint.h"

namespace zf::source {

using net::Origin;

enum class ReadKind { First, Late };

// The fetch thread's view: the state once every page handed out is
// delivered, plus what a restart does not need to keep.
struct PullView {
  PullState live;
  std::optional<std::string> first_link, late_link;  // links.next, when on the configured host
  EventKeySet first_seen;  // after a restart: ids the open first-read window already delivered
  EventKeySet late_seen;   // ids the first reads of the open late read's windows delivered
  std::vector<int64_t> retire_next;  // id files given up since the last page, retired with it

  ReadPosition& position(ReadKind k) { return k == ReadKind::First ? live.first : live.late; }
  std::optional<std::string>& link(ReadKind k) { return k == ReadKind::First ? first_link : late_link; }
  const EventKeySet& seen(ReadKind k) const { return k == ReadKind::First ? first_seen : late_seen; }
};

// How to get past a page. A page that says more follow but gives no
// usable way on (no after_cursor, links.next absent or on another origin)
// is `stuck`: shipping it would lose the rest of the window.
struct WayPast {
  std::optional<std::string> link;  // links.next, only when on `origin`
  bool foreign_link = false;        // links.next was there but on another origin
  bool stuck = false;
};
WayPast way_past(const PageEnvelope& page, const std::optional<Origin>& origin);

// The events of a page to ship, and what they add to the proof.
struct ScannedPage {
  std::vector<simdjson::dom::element> events;  // not seen before
  size_t listed = 0, duplicates = 0;
  std::vector<EventKey> write_ahead;  // ids the window's late read must know (before the page leaves)
};
// `record`: the page belongs to a first read that gets a late read.
ScannedPage scan_page(const simdjson::dom::array& events, const EventKeySet& seen, bool record);

// What a page changed beyond the position.
struct Advanced {
  std::vector<int64_t> retire;  // id files no longer needed once the state after this page is durable
  std::vector<Window> reread;   // windows whose late read this page finished
};
// Moves `view` past a page of read `kind` over `window` whose `write_ahead`
// ids were written: the cursor or link within the window, or, on its last
// page, the next window (first read) or the end of the late read.
Advanced advance(PullView& view, ReadKind kind, const Window& window, const PageEnvelope& page, WayPast way,
                 size_t written_ahead);

}  // namespace zf::source
