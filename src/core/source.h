#pragma once
// The source contract: a source yields pages of raw access events, each
// with an opaque position token, and is told, in token order, when a token
// is committed: every sink delivered its page and every page before it.
// What a token means (a window and cursor, a webhook offset) and how it is
// made durable (the source's own checkpoint) is the source's business; the
// pipeline only carries tokens back.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <simdjson.h>

#include "core/commit_cost.h"
#include "core/record.h"

namespace zf {

struct SourcePage {
  std::vector<simdjson::dom::element> events;  // to ship; valid until the next call to next()
  size_t listed = 0;                           // events the page held, shipped ones included
  size_t duplicates = 0;                       // events dropped: already shipped
  uint64_t token = 0;                          // pass to commit() once every sink delivered the page
  // For progress reports: the span of event time the page belongs to (unix
  // seconds, [start, end)), and whether it moves the source forward (a late
  // re-read of an old span does not).
  int64_t span_start_s = 0, span_end_s = 0;
  bool advances = true;
  // The source's checkpoint once this page and every one before it are
  // committed, for a sink that stores it with the records in one
  // transaction (Kafka exactly_once); "" when the source keeps none.
  std::string position;
  // Kept beside the position by such a sink, in the same transaction.
  std::vector<PositionPiece> pieces;
};

class Source {
 public:
  virtual ~Source() = default;
  // Blocks until the next page. nullopt when stop was requested or, with
  // `once`, when the source has caught up. Throws FatalError when retrying
  // cannot help.
  virtual std::optional<SourcePage> next(bool once) = 0;
  // Called in token order from one thread; throws std::runtime_error on I/O
  // errors (a later commit covers the same pages again).
  virtual CommitCost commit(uint64_t token) = 0;
};

// Where a fetched page's body and parsed document live until its events are
// shaped. A scheduler worker owns one and lends it to whichever source it
// runs, so a thousand idle accounts hold no page memory.
struct PageBuffer {
  simdjson::dom::parser parser;
  std::string body;
};

// What a source that never blocks has now: a page, nothing yet (ask again
// at a time), or nothing more (`once` and caught up).
struct Poll {
  std::optional<SourcePage> page;
  bool done = false;
  // Without a page: ask again once the source's clock reads wake_wall_ms
  // (a window closing, a late read falling due) and retry_in has passed
  // on the steady clock (budget waits, backoff).
  int64_t wake_wall_ms = 0;
  std::chrono::milliseconds retry_in{0};
};

// A source a scheduler can run: poll() does at most one request and never
// sleeps. Its pages point into `buffer` until the next poll with it.
class PollingSource : public Source {
 public:
  virtual Poll poll(bool once, PageBuffer& buffer) = 0;
};

}  // namespace zf
