#pragma once
// The API's events of a period, read by the pull source itself into a spool
// of JSON lines, for commands that need the whole period before acting
// (`verify`). Resumable: the spool and the listing's own checkpoint live in
// a state directory beside the source's checkpoint, so an interrupted
// listing of days continues where it stopped instead of starting over.
#include <cstdint>
#include <string>

#include "app/app_config.h"
#include "log/progress.h"
#include "core/stop_signal.h"
#include "log/logger.h"
#include "metrics/metrics.h"

namespace zf::app {

struct ListingOptions {
  int64_t since_s = 0, until_s = 0;  // [since, until), unix seconds
  double budget_share = 0.5;         // of the source's rate_limit.requests
  // Spool whole events (to ship them again); else only id and timestamp.
  bool keep_events = false;
  // Continue the interrupted listing of the same period; without it, one
  // left behind is discarded (and said so).
  bool resume = false;
  // Where the state directory goes; "" = beside the source's checkpoint.
  std::string state_parent;
};

struct Listing {
  std::string state_dir;
  // One event per line, in the API's JSON. An event may appear twice: the
  // page being written when a listing was interrupted is listed again.
  std::string spool_path;
  size_t pages = 0;  // read by this run
};

// The directory an interrupted listing of this source and period is kept in.
std::string listing_state_dir(const PullSourceConfig& source, const ListingOptions& options);

// Lists every event of the period. Throws FatalError when stopped (the
// state is kept for `resume`) or when a kept state does not match.
Listing list_api_events(const PullSourceConfig& source, const ListingOptions& options, ProcessMetrics& process,
                        Logger& log, StopSignal& stop, Progress& progress);

// The listing was used: its state is not needed again.
void discard(const Listing& listing);

}  // namespace zf::app
