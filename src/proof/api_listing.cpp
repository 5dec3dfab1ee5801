#include "proof/api_listing.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "core/clock.h"
#include "core/errors.h"
#include "core/time_format.h"
#include "sources/zendesk_pull/access_log_source.h"
#include "sources/zendesk_pull/pull_metrics.h"
#include "sources/zendesk_pull/pull_checkpoint.h"

namespace zf::app {

namespace fs = std::filesystem;

namespace {

// What a kept state was made for: resuming it under other options would
// list another period or lack the events a repair needs.
nlohmann::json identity(const PullSourceConfig& c, const ListingOptions& o) {
  return {{"account", c.account}, {"since", o.since_s}, {"until", o.until_s}, {"keep_events", o.keep_events}};
}

// A crash can leave half a line at the end of the spool: cut back to the
// last newline, reading backwards (the spool may be gigabytes).
void cut_partial_line(const fs::path& spool) {
  std::error_code ec;
  uint64_t size = fs::file_size(spool, ec);
  if (ec || size == 0) return;
  std::ifstream in(spool, std::ios::binary);
  std::string chunk;
  for (uint64_t end = size; end > 0;) {
    uint64_t begin = end > 65536 ? end - 65536 : 0;
    chunk.resize(end - begin);
    in.seekg(static_cast<std::streamoff>(begin));
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    if (size_t nl = chunk.rfind('\n'); nl != std::string::npos) {
      fs::resize_file(spool, begin + nl + 1);
      return;
    }
    end = begin;
  }
  fs::resize_file(spool, 0);
}

void append_event(std::string& out, simdjson::dom::element e, bool whole) {
  simdjson::dom::element id;
  if (whole) {
    out += simdjson::minify(e);
  } else if (e["id"].get(id)) {
    return;  // nothing to compare without an id (the run logs such events in full)
  } else {
    out += "{\"id\":" + simdjson::minify(id);
    simdjson::dom::element ts;
    if (!e["timestamp"].get(ts)) out += ",\"timestamp\":" + simdjson::minify(ts);
    out += "}";
  }
  out += '\n';
}

}  // namespace

std::string listing_state_dir(const PullSourceConfig& c, const ListingOptions& o) {
  fs::path beside = o.state_parent.empty() ? fs::path(c.checkpoint_path).parent_path() : fs::path(o.state_parent);
  if (beside.empty()) beside = ".";
  return (beside / ("listing-" + c.name + "-" + std::to_string(o.since_s) + "-" + std::to_string(o.until_s))).string();
}

Listing list_api_events(const PullSourceConfig& c, const ListingOptions& o, ProcessMetrics& process, Logger& log,
                        StopSignal& stop, Progress& progress) {
  Listing listing{listing_state_dir(c, o), "", 0};
  fs::path dir = listing.state_dir, spool = dir / "events.jsonl", meta = dir / "listing.json";
  listing.spool_path = spool.string();
  if (fs::exists(dir) && !o.resume) {
    log.warn("discarding an interrupted listing of this period (pass --resume to continue it)", {{"state", dir.string()}});
    fs::remove_all(dir);
  }
  if (fs::exists(meta)) {
    nlohmann::json kept = nlohmann::json::parse(std::ifstream(meta), nullptr, false);
    if (kept != identity(c, o))
      throw FatalError("the interrupted listing in " + dir.string() + " was made for " + kept.dump() + ", not " +
                       identity(c, o).dump() + ": run without --resume to start over");
    cut_partial_line(spool);
  } else {
    if (o.resume) {
      // Most often a period given as a duration back from now: it moved.
      std::vector<std::string> others;
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(dir.parent_path(), ec))
        if (e.path().filename().string().rfind("listing-" + c.name + "-", 0) == 0) others.push_back(e.path().string());
      log.warn("nothing to resume for exactly this period: listing it from its start (give --since and --until as "
               "timestamps to resume)", {{"state", dir.string()}, {"other_listings", others}});
    }
    fs::create_directories(dir);
    std::ofstream(meta) << identity(c, o).dump() << "\n";
  }

  source::SourceSettings settings = c.source;
  settings.windows.settle_delay_s = 0;
  settings.windows.poll_interval_s = 1;
  settings.windows.late_read_delay_s = 0;
  // One cursor walk for the whole period: a window costs at least one
  // request, and nothing here needs short ones.
  settings.windows.max_window_s = std::max(settings.windows.max_window_s, o.until_s - o.since_s);
  int budget = std::max(1, static_cast<int>(c.rate_limit_requests * o.budget_share));
  source::RateLimiter limiter(budget, c.rate_limit_period, std::max(std::chrono::milliseconds(20), c.rate_limit_period / 500));
  net::HttpClient http(c.http);
  source::PullCheckpoint store((dir / "position.json").string());
  auto resumed = store.load();
  int64_t resumed_at = resumed ? resumed->state.first.window_start : o.since_s;
  if (resumed) log.info("resuming an interrupted listing", {{"state", dir.string()}, {"at", format_utc_seconds(resumed_at)}});
  PullMetrics metrics(process, c.name, c.account);
  // The source's clock stands at `until`: it reads every window up to there
  // and no further.
  ManualClock at_until(o.until_s * 1000);
  source::AccessLogSource src(settings, http, limiter, store, log, metrics, stop, at_until);
  src.open(c.account, o.since_s);

  std::ofstream out(spool, std::ios::app | std::ios::binary);
  size_t events = 0;
  std::string lines;
  progress.begin(o.since_s, o.until_s, resumed_at);
  while (auto page = src.next(/*once=*/true)) {
    ++listing.pages;
    lines.clear();
    for (simdjson::dom::element e : page->events) append_event(lines, e, o.keep_events);
    // The events first, then the position: a crash between them lists the
    // page again (a repeat in the spool), never skips it.
    out << lines << std::flush;
    if (!out) throw FatalError("cannot write the listing to " + spool.string() + ": is the disk full?");
    src.commit(page->token);
    events += page->events.size();
    progress.update(page->span_end_s, listing.pages, events);
  }
  if (stop.requested())
    throw FatalError("stopped before the API listing was complete; its state is kept in " + dir.string() +
                     ": to continue it, run the same command with --since " + format_utc_seconds(o.since_s) +
                     " --until " + format_utc_seconds(o.until_s) + " --resume");
  progress.finish(listing.pages, events);
  log.info("API listing complete", {{"source", c.name}, {"events_this_run", events}, {"pages_this_run", listing.pages},
                                    {"budget_per_period", budget}});
  return listing;
}

void discard(const Listing& listing) {
  std::error_code ec;
  fs::remove_all(listing.state_dir, ec);
}

}  // namespace zf::app
