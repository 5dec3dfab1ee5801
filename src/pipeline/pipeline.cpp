#include "pipeline/pipeline.h"

#include <algorithm>

#include "core/errors.h"
#include "encode/ecs.h"
#include "log/logger.h"
#include "metrics/metrics.h"
#include "core/time_format.h"

namespace zf::pipeline {

Pipeline::Pipeline(Source& source, const normalize::Normalizer& normalizer, Delivery& delivery,
                   BatchNumbers& numbers, Logger& log, Metrics& metrics, StopSignal& stop, RunSettings settings, const Clock& clock)
    : source_(source),
      normalizer_(normalizer),
      delivery_(delivery),
      numbers_(numbers),
      log_(log),
      metrics_(metrics),
      stop_(stop),
      clock_(clock),
      settings_(std::move(settings)) {}

BatchPtr Pipeline::shape(const SourcePage& fetched, uint64_t seq, BatchMeta& meta, RunResult& result) {
  auto batch = std::make_shared<Batch>();
  batch->seq = seq;
  batch->account = settings_.account;
  batch->source = settings_.source;
  batch->position = fetched.position;
  batch->records.reserve(fetched.events.size());
  result.duplicates += fetched.duplicates;
  result.events_fetched += fetched.listed;
  std::string problem;
  for (simdjson::dom::element event : fetched.events) {
    // Shaped in place: a Record is large, and moving each one into the
    // batch was a tenth of this stage's time.
    Record& record = batch->records.emplace_back();
    if (!normalizer_.normalize_into(event, record, problem)) {
      batch->records.pop_back();
      // Without an id an event cannot be deduplicated or keyed; keep it in
      // the log in full so it is not lost silently.
      ++result.invalid;
      metrics_.events_invalid.Increment();
      log_.error("event without a usable id; not shipped, recorded here in full",
                 {{"problem", problem}, {"event", simdjson::minify(event)}});
      continue;
    }
    if (!record.event.timestamp_is_ingest_time)  // "now" would hide the lag
      meta.newest_event_ms = std::max(meta.newest_event_ms, record.event.timestamp_ms);
  }
  if (enricher_) {
    enricher_->enrich(batch->records);
    if (encode_ecs_after_enrich_)
      for (Record& r : batch->records) encode::write_ecs_json(r.event, r.json);
  }
  meta.events = batch->records.size();
  metrics_.events_fetched.Increment(static_cast<double>(fetched.listed));
  metrics_.page_events.Observe(static_cast<double>(fetched.listed));
  return batch;
}

void Pipeline::report_progress(const SourcePage& page, const RunResult& result) {
  auto now = std::chrono::steady_clock::now();
  int64_t now_s = clock_.now_s();
  // Every progress_interval while backfilling; ten times rarer once caught
  // up (the window is then within a few poll intervals of now).
  bool backfilling = now_s - page.span_start_s > 3 * (page.span_end_s - page.span_start_s) + 60 ||
                     now_s - page.span_end_s > 300;
  auto interval = backfilling ? settings_.progress_interval : settings_.progress_interval * 10;
  if (now - last_progress_ < interval) return;
  last_progress_ = now;
  // Event time reached: the newest event delivered, else the window start.
  int64_t reached = std::max<int64_t>(page.span_start_s, delivery_.newest_delivered_event_ms() / 1000);
  reached = std::min(reached, now_s);
  nlohmann::json fields = {{"position", format_utc_seconds(reached)},
                           {"behind_seconds", now_s - reached},
                           {"events_fetched", result.events_fetched},
                           {"events_shipped", result.events_shipped},
                           {"duplicates_dropped", result.duplicates},
                           {"pages", result.pages}};
  if (progress_mark_s_ > 0) {
    double elapsed = std::chrono::duration<double>(now - progress_mark_at_).count();
    double speed = (reached - progress_mark_s_) / std::max(elapsed, 1e-3);  // event-seconds per second
    if (speed > 0) fields["eta_seconds"] = static_cast<int64_t>((now_s - reached) / speed);
  }
  progress_mark_s_ = reached;
  progress_mark_at_ = now;
  log_.info("progress", fields);
}

RunResult Pipeline::run() {
  RunResult result;
  try {
    while (delivery_.wait_for_room(stop_)) {
      auto page = source_.next(settings_.once);
      if (!page) break;
      BatchMeta meta;
      meta.received = std::chrono::steady_clock::now();
      meta.source_token = page->token;
      BatchPtr batch = shape(*page, numbers_.next(), meta, result);
      ++result.pages;
      result.events_shipped += batch->records.size();
      delivery_.dispatch(std::move(batch), meta);
      if (page->advances) report_progress(*page, result);
    }
  } catch (const FatalError& e) {
    result.ok = false;
    result.error = e.what();
  }
  result.stopping_since = std::chrono::steady_clock::now();
  if (auto failure = delivery_.failure()) {
    result.ok = false;
    result.error = *failure;
  }
  if (result.ok) {
    result.drained = delivery_.drain(settings_.shutdown_timeout);
    if (!result.drained) {
      if (auto failure = delivery_.failure()) {
        result.ok = false;
        result.error = *failure;
      } else {
        log_.warn("shutdown timeout reached with batches still unacknowledged; they are not committed and will be "
                  "fetched again on the next start",
                  {{"inflight_batches", delivery_.inflight()}});
      }
    }
  }
  return result;
}

}  // namespace zf::pipeline
