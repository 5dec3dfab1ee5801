#include "pipeline/pipeline.h"

#include <algorithm>

#include "core/errors.h"
#include "encode/ecs.h"
#include "log/logger.h"
#include "metrics/metrics.h"
#include "core/time_format.h"

namespace zf::pipeline {

namespace {
// The heap a record holds: its strings beyond the small-string buffer.
size_t record_bytes(const Record& r) {
  auto heap = [](const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; };
  const AccessEvent& e = r.event;
  size_t n = sizeof(Record) + heap(r.json);
  for (const std::string* s : {&e.id, &e.account, &e.timestamp, &e.timestamp_raw, &e.user_id, &e.user_name,
                               &e.user_email, &e.user_role, &e.target_user_name, &e.target_user_email, &e.source_ip,
                               &e.method, &e.url, &e.referrer, &e.user_agent, &e.origin_service,
                               &e.authorization_type, &e.category, &e.summary, &e.action, &e.search_query,
                               &e.extra_json})
    n += heap(*s);
  for (const std::string& ip : e.ips) n += sizeof(std::string) + heap(ip);
  return n;
}
}  // namespace

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
      settings_(std::move(settings)),
      polling_(dynamic_cast<PollingSource*>(&source)),
      page_estimate_(settings_.first_page_estimate_bytes),
      budget_id_(reinterpret_cast<uintptr_t>(this)) {}

BatchPtr Pipeline::shape(const SourcePage& fetched, uint64_t seq, BatchMeta& meta, RunResult& result) {
  auto batch = std::make_shared<Batch>();
  batch->seq = seq;
  batch->account = settings_.account;
  batch->source = settings_.source;
  batch->position = fetched.position;
  batch->pieces = fetched.pieces;
  batch->records.reserve(fetched.events.size());
  result.duplicates += fetched.duplicates;
  result.events_fetched += fetched.listed;
  std::string problem;
  // A page's events come in time order, so most fall in the minute before:
  // its ledger bucket is kept at hand rather than looked up per event.
  int64_t bucket_key = 0;
  source::LedgerBucket* bucket = nullptr;
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
    // The proof's ledger, from the typed event whatever the source: the
    // committer appends it once every sink acknowledged the batch.
    int64_t minute = record.event.timestamp_is_ingest_time ? source::kLedgerNoTime
                                                           : source::ledger_bucket_of(record.event.timestamp_ms);
    if (!bucket || minute != bucket_key) {
      bucket = &meta.ledger[minute];  // std::map: the pointer stays valid as others are added
      bucket_key = minute;
    }
    bucket->add(record.event.id);
  }
  if (enricher_) {
    enricher_->enrich(batch->records);
    if (encode_ecs_after_enrich_)
      for (Record& r : batch->records) encode::write_ecs_json(r.event, r.json);
  }
  meta.events = batch->records.size();
  // What the batch holds until every sink acknowledged it: records and
  // their encoded documents (an estimate: allocator slack is not counted).
  size_t bytes = sizeof(Batch);
  for (const Record& r : batch->records) bytes += record_bytes(r);
  meta.bytes = bytes;
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

void Pipeline::ship(SourcePage& page, RunResult& result) {
  BatchMeta meta;
  meta.received = std::chrono::steady_clock::now();
  meta.source_token = page.token;
  BatchPtr batch = shape(page, numbers_.next(), meta, result);
  ++result.pages;
  result.events_shipped += batch->records.size();
  if (settings_.budget) {
    settings_.budget->adjust(reserved_, meta.bytes);
    reserved_ = 0;
    page_estimate_ = std::max(meta.bytes, page_estimate_ / 2);  // follows the pages, falling slowly
  }
  delivery_.dispatch(std::move(batch), meta);
  if (page.advances) report_progress(page, result);
}

RunResult Pipeline::run() {
  RunResult result;
  try {
    while (delivery_.wait_for_room(stop_)) {
      auto page = source_.next(settings_.once);
      if (!page) break;
      ship(*page, result);
    }
  } catch (const FatalError& e) {
    result.ok = false;
    result.error = e.what();
  }
  result.stopping_since = std::chrono::steady_clock::now();
  result_ = result;
  return finish(settings_.shutdown_timeout);
}

void Pipeline::on_wake(std::function<void()> wake) {
  wake_ = std::move(wake);
  delivery_.on_room(wake_);
}

sched::Next Pipeline::stopped() {
  finished_ = true;
  result_.stopping_since = std::chrono::steady_clock::now();
  if (settings_.budget && reserved_ > 0) {
    settings_.budget->cancel(reserved_);
    reserved_ = 0;
  }
  if (settings_.budget) settings_.budget->withdraw(budget_id_);
  return sched::Next::finished();
}

sched::Next Pipeline::step(PageBuffer& buffer) {
  if (finished_) return sched::Next::finished();
  if (!polling_) throw std::logic_error("Pipeline::step needs a PollingSource");
  try {
    if (stop_.requested() || delivery_.failure()) return stopped();
    if (!delivery_.has_room()) return sched::Next::parked();  // woken by the acker
    if (settings_.budget && reserved_ == 0) {
      switch (settings_.budget->try_reserve(budget_id_, page_estimate_, wake_)) {
        case sched::MemoryBudget::Answer::Reserved:
          reserved_ = page_estimate_;
          break;
        case sched::MemoryBudget::Answer::Wait:
          return sched::Next::parked();  // woken at its turn
        case sched::MemoryBudget::Answer::Retry:
          return sched::Next::in(std::chrono::milliseconds(50));  // the allocator returns pages within its decay
      }
    }
    Poll poll = polling_->poll(settings_.once, buffer);
    if (poll.done) return stopped();
    if (!poll.page) {
      // Nothing fetched: the reservation goes back to those waiting.
      if (settings_.budget && reserved_ > 0) {
        settings_.budget->cancel(reserved_);
        reserved_ = 0;
      }
      auto in = poll.retry_in;
      if (poll.wake_wall_ms > 0)
        in = std::max(in, std::chrono::milliseconds(std::max<int64_t>(1, poll.wake_wall_ms - clock_.now_ms())));
      return sched::Next::in(in);
    }
    ship(*poll.page, result_);
    return sched::Next::now();
  } catch (const FatalError& e) {
    result_.ok = false;
    result_.error = e.what();
    return stopped();
  } catch (const std::exception& e) {
    // A thread of its own would have ended the process this way too.
    result_.ok = false;
    result_.error = std::string("unexpected error: ") + e.what();
    return stopped();
  }
}

RunResult Pipeline::finish(std::chrono::milliseconds timeout) {
  RunResult& result = result_;
  if (auto failure = delivery_.failure()) {
    result.ok = false;
    result.error = *failure;
  }
  if (result.ok) {
    result.drained = delivery_.drain(timeout);
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
