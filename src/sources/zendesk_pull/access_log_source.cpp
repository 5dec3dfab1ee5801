#include "sources/zendesk_pull/access_log_source.h"

#include <algorithm>
#include <set>

#include "core/encoding.h"
#include "core/errors.h"
#include "core/time_format.h"
#include "log/logger.h"
#include "sources/zendesk_pull/pull_metrics.h"
#include "sources/zendesk_pull/pull_response.h"

namespace zf::source {

namespace {


const char* read_name(ReadKind k) { return k == ReadKind::First ? "first" : "late"; }

Poll retry_in(std::chrono::milliseconds wait) {
  Poll p;
  p.retry_in = std::max(wait, std::chrono::milliseconds(1));
  return p;
}

}  // namespace

std::string basic_authorization(const std::string& user, const std::string& secret) {
  return "Basic " + base64_encode(user + ":" + secret);
}
std::string bearer_authorization(const std::string& token) { return "Bearer " + token; }

AccessLogSource::AccessLogSource(SourceSettings settings, HttpGet& http, RateLimiter& limiter,
                                 PullCheckpoint& store, Logger& log, PullMetrics& metrics, StopSignal& stop,
                                 const Clock& clock)
    : settings_(std::move(settings)),
      origin_(origin_of(settings_.base_url)),
      http_(http),
      limiter_(limiter),
      store_(store),
      log_(log),
      metrics_(metrics),
      stop_(stop),
      clock_(clock) {}

// Makes each kept window's id file hold exactly the ids the state covers.
// Ids written ahead of a commit that never came are cut off: their pages
// were not delivered (or, with Kafka exactly_once, not committed), so a
// late read must ship them. A file shorter than the state says has lost
// ids: its late read ships some events again (duplicates, never a loss).
void AccessLogSource::reconcile_ids(PullState& s, const std::set<int64_t>& keep, bool has_counts) {
  std::erase_if(s.id_counts, [&](const auto& entry) { return !keep.count(entry.first); });
  auto warn_missing = [&](int64_t start, uint64_t expected, uint64_t found) {
    log_.warn("the ids a window's first read delivered are missing; its late read will ship that window's events "
              "again (duplicates, never a loss)",
              {{"window_start", format_utc_seconds(start)}, {"directory", store_.path() + ".ids"},
               {"expected", expected}, {"found", found}});
  };
  for (int64_t start : keep) {
    uint64_t on_disk = store_.count_ids(start);
    auto it = s.id_counts.find(start);
    if (it == s.id_counts.end()) {
      if (has_counts) {  // none of them committed
        if (on_disk > 0) it = s.id_counts.emplace(start, 0).first;
      } else {  // a checkpoint from before id_counts: the file is all there is
        if (on_disk > 0) s.id_counts[start] = on_disk;
        else if (start != s.first.window_start) warn_missing(start, 0, 0);
      }
      if (it == s.id_counts.end()) continue;
    }
    if (on_disk > it->second) {
      if (it->second == 0) store_.remove_ids(start);
      else store_.truncate_ids(start, it->second);
      log_.info("ids written ahead of pages that were never committed are dropped; those pages are read again",
                {{"window_start", format_utc_seconds(start)}, {"dropped", on_disk - it->second}});
    } else if (on_disk < it->second) {
      warn_missing(start, it->second, on_disk);
      it->second = on_disk;
    }
    if (it->second == 0) s.id_counts.erase(it);
  }
}

void AccessLogSource::open(const std::string& account, int64_t start) {
  PullState s;
  bool has_counts = true;
  if (auto loaded = store_.load()) {
    s = loaded->state;
    has_counts = loaded->has_id_counts;
    if (s.account != account && !loaded->adopted_from.empty())
      throw FatalError("the position in " + loaded->adopted_from + " belongs to account \"" + s.account +
                       "\", but this source is for \"" + account + "\": another forwarder keeps positions under the "
                       "same source name in that topic. Give each forwarder its own checkpoint_topic, or its sources "
                       "distinct names. Nothing was written (checkpoint " + store_.path() + " is unchanged).");
    if (s.account != account)
      throw FatalError("checkpoint " + store_.path() + " belongs to account \"" + s.account +
                       "\", but the config is for \"" + account + "\". Use a separate checkpoint.path per account.");
    if (s.first.window_start > clock_.now_s() + 300)
      throw FatalError("checkpoint " + store_.path() + " says events up to " + format_utc_seconds(s.first.window_start) +
                       " were read, which is in the future: is this machine's clock right? Refusing to skip ahead; "
                       "fix the clock, or move the checkpoint aside to start again from zendesk.start.");
    // The file is only the adopted position's cache: written once it is
    // known to be this source's.
    if (!loaded->adopted_from.empty()) store_.save(s);
    if (loaded->version == 1) {
      // The window a version-1 file resumes in starts inside the overlap
      // it already shipped: its recent ids become that window's dedup ids.
      std::vector<EventKey> keys;
      keys.reserve(loaded->v1_recent_ids.size());
      for (const auto& id : loaded->v1_recent_ids) keys.push_back(event_key(id));
      store_.remove_ids(s.first.window_start);
      store_.append_ids(s.first.window_start, keys);
      store_.sync_ids();
      s.id_counts[s.first.window_start] = keys.size();
      has_counts = true;
      store_.save(s);
      log_.info("checkpoint migrated from version 1 (overlap re-reads) to version " +
                    std::to_string(kCheckpointVersion) + " (first and late reads)",
                {{"path", store_.path()}, {"recent_ids", keys.size()}});
    }
    log_.info("resuming from checkpoint",
              {{"path", store_.path()}, {"window_start", format_utc_seconds(s.first.window_start)},
               {"mid_window", s.first.open()}, {"awaiting_late_read", s.awaiting.size()},
               {"late_read_open", s.late.open()}});
  } else {
    s.account = account;
    s.first.window_start = start;
    log_.info("no checkpoint yet; starting backfill",
              {{"path", store_.path()}, {"start", format_utc_seconds(start)}});
  }
  std::set<int64_t> keep{s.first.window_start};
  for (const auto& w : s.awaiting) keep.insert(w.start);
  store_.remove_ids_except(keep);
  // The account's last owner ran elsewhere, or this disk is new: the ids
  // its first reads delivered come from beside the position.
  if (size_t restored = store_.restore_ids(s.id_counts))
    log_.info("ids of windows awaiting a late read restored from beside the position",
              {{"ids", restored}, {"windows", s.id_counts.size()}});
  reconcile_ids(s, keep, has_counts);
  view_.live = durable_ = s;
  if (store_.has_ids(s.first.window_start)) view_.first_seen = EventKeySet(store_.read_ids(s.first.window_start));
  if (s.late.open()) {
    std::vector<EventKey> keys;
    for (const auto& w : s.awaiting)
      if (w.end <= s.late.window_end) {
        auto more = store_.read_ids(w.start);
        keys.insert(keys.end(), more.begin(), more.end());
      }
    view_.late_seen = EventKeySet(std::move(keys));
  }
}

uint64_t AccessLogSource::events_delivered() const {
  std::lock_guard lock(mu_);
  return durable_.events_delivered;
}

int64_t AccessLogSource::committed_first_start() const {
  std::lock_guard lock(mu_);
  return durable_.first.window_start;
}

std::string AccessLogSource::page_url(const ReadPosition& pos, const std::optional<std::string>& link) const {
  if (link) return *link;
  std::string url = settings_.base_url + "/api/v2/access_logs?filter%5Bstart%5D=" +
                    url_encode(format_utc_seconds(pos.window_start)) +
                    "&filter%5Bend%5D=" + url_encode(format_utc_seconds(pos.window_end)) +
                    "&page%5Bsize%5D=" + std::to_string(settings_.page_size);
  if (!pos.cursor.empty()) url += "&page%5Bafter%5D=" + url_encode(pos.cursor);
  return url;
}

Poll AccessLogSource::backoff(const std::string& reason, const std::string& what) {
  metrics_.api_retries(reason).Increment();
  current_backoff_ = current_backoff_.count() == 0 ? settings_.retry_initial
                                                   : std::min(settings_.retry_max, current_backoff_ * 2);
  // Full jitter in [d/2, d]: many forwarders restarting together spread out.
  std::uniform_int_distribution<int64_t> dist(current_backoff_.count() / 2, current_backoff_.count());
  std::chrono::milliseconds wait(dist(jitter_));
  log_.warn("API request failed; retrying", {{"reason", reason}, {"error", what}, {"retry_in_ms", wait.count()}});
  return retry_in(wait);
}

void AccessLogSource::update_gauges(int64_t now) {
  metrics_.backfill_position_ts.Set(static_cast<double>(view_.live.first.window_start));
  metrics_.backfill_remaining.Set(static_cast<double>(std::max<int64_t>(0, now - view_.live.first.window_start)));
  metrics_.retention_margin.Set(static_cast<double>(retention_margin(view_.live.first.window_start, now)));
  metrics_.late_read_pending_windows.Set(static_cast<double>(view_.live.awaiting.size()));
  int64_t backlog = view_.live.awaiting.empty()
                        ? 0
                        : std::max<int64_t>(0, now - late_read_due(view_.live.awaiting.front(), settings_.windows));
  metrics_.late_read_backlog_seconds.Set(static_cast<double>(backlog));
  // Windows whose late read is due but not done count as not covered until
  // it is: the ratio drops as soon as late reads fall behind, not only
  // when one is given up.
  double overdue = 0;
  for (const auto& win : view_.live.awaiting)
    if (now >= late_read_due(win, settings_.windows)) overdue += static_cast<double>(win.end - win.start);
  double judged = reread_seconds_ + skipped_seconds_ + overdue;
  metrics_.late_read_coverage_ratio.Set(judged > 0 ? reread_seconds_ / judged : 1.0);
}

std::optional<SourcePage> AccessLogSource::next(bool once) {
  while (!stop_.requested()) {
    Poll p = poll(once, own_buffer_);
    if (p.page || p.done) return std::move(p.page);
    if (p.wake_wall_ms > 0) clock_.sleep_until(stop_, p.wake_wall_ms);
    if (p.retry_in.count() > 0) stop_.sleep_for(p.retry_in);
  }
  return std::nullopt;
}

Poll AccessLogSource::poll(bool once, PageBuffer& buffer) {
  if (stop_.requested()) return Poll{std::nullopt, true};
  const PlanSettings plan_settings{settings_.windows, settings_.late_read_max_ids};
  int64_t now_ms = clock_.now_ms();
  NextRequest req = plan_next(view_, now_ms, once, committed_first_start(), plan_settings,
                              [this](int64_t start) { return store_.count_ids(start); });
  note_plan(req);
  update_gauges(now_ms / 1000);
  if (req.step == NextRequest::Step::Done) return Poll{std::nullopt, true};
  if (req.step == NextRequest::Step::Wait) {
    Poll p;
    p.wake_wall_ms = req.wake_ms;
    return p;
  }
  return fetch(req.kind, once, buffer);
}

// The side effects of a plan: counts and logs, and the ids a late read
// compares against.
void AccessLogSource::note_plan(const NextRequest& req) {
  if (!req.given_up.empty()) {
    size_t events = 0;
    for (const auto& g : req.given_up) {
      events += g.ids;
      skipped_seconds_ += static_cast<double>(g.window.end - g.window.start);
      metrics_.late_read_windows("skipped").Increment();
      metrics_.late_read_skipped_events.Increment(static_cast<double>(g.ids));
    }
    log_.warn("late reads fell more than zendesk.late_read_max_backlog behind (first reads need the request budget); "
              "giving them up: late events in these windows are not collected. Raise the budget or shorten "
              "poll gaps, or accept the coverage shown by zendesk_forwarder_late_read_coverage_ratio.",
              {{"windows", req.given_up.size()}, {"first_read_events", events}});
  }
  if (req.clipped_from)
    log_.warn("start position is older than the API's 90-day retention; clipping it. Events before the new start "
              "are no longer available from Zendesk.",
              {{"requested_start", format_utc_seconds(*req.clipped_from)},
               {"clipped_start", format_utc_seconds(view_.live.first.window_start)}});
  if (req.late_windows > 0) {
    std::vector<EventKey> keys;
    for (size_t i = 0; i < req.late_windows; ++i) {
      auto more = store_.read_ids(view_.live.awaiting[i].start);
      keys.insert(keys.end(), more.begin(), more.end());
    }
    view_.late_seen = EventKeySet(std::move(keys));
    log_.debug("late read", {{"window_start", format_utc_seconds(view_.live.late.window_start)},
                             {"window_end", format_utc_seconds(view_.live.late.window_end)},
                             {"windows", req.late_windows}, {"first_read_ids", view_.late_seen.size()}});
  }
}

// One request and what follows from its answer: the steps decide
// (classify_response, way_past, scan_page, advance), this does the I/O.
Poll AccessLogSource::fetch(ReadKind kind, bool once, PageBuffer& buffer) {
  if (kind == ReadKind::First || once) {
    bool held_by_reset = false;
    auto wait = limiter_.try_acquire(&held_by_reset);
    auto now = std::chrono::steady_clock::now();
    if (wait.count() > 0) {
      // The time from the first refusal to the request counts as waited.
      if (!budget_wait_since_) budget_wait_since_ = now;
      budget_wait_on_reset_ = held_by_reset;
      return retry_in(wait);
    }
    if (budget_wait_since_) {
      double waited = std::chrono::duration<double>(now - *budget_wait_since_).count();
      (budget_wait_on_reset_ ? metrics_.rate_limit_wait_reset : metrics_.rate_limit_wait_budget).Increment(waited);
      budget_wait_since_.reset();
    }
  } else if (!limiter_.try_acquire_spare()) {
    // Late reads take only what first reads leave of the budget: the first
    // reads of the last period are what the next ones will need.
    return retry_in(std::chrono::milliseconds(250));
  }
  metrics_.rate_limit_in_use.Set(limiter_.in_use());

  std::string url = page_url(view_.position(kind), view_.link(kind));
  log_.debug("requesting page", {{"url", url}, {"read", read_name(kind)}});
  HttpResponse resp = http_.get(url, settings_.authorization, [this] { return stop_.requested(); });
  if (stop_.requested()) return Poll{std::nullopt, true};
  metrics_.api_requests(status_class(resp.status)).Increment();
  metrics_.api_page_requests(read_name(kind)).Increment();
  metrics_.api_request_duration.Observe(resp.elapsed.count() / 1000.0);

  if (resp.status == 429) ++consecutive_429_;
  Verdict verdict = classify_response(resp, url, consecutive_429_, std::chrono::system_clock::now());
  if (std::holds_alternative<AcceptPage>(verdict)) {
    buffer.body = std::move(resp.body);
    return accept(kind, url, buffer);
  }
  if (auto* w = std::get_if<WaitReset>(&verdict)) {
    metrics_.rate_limit_hits.Increment();
    limiter_.hold_until(RateLimiter::Clock::now() + w->wait);
    metrics_.api_retries("429").Increment();
    log_.warn("rate limited by Zendesk (429); waiting for ratelimit-reset. Lower zendesk.rate_limit.requests if "
              "other tools share this account's budget.",
              {{"ratelimit_reset", w->ratelimit_reset}, {"retry_after", w->retry_after}, {"wait_ms", w->wait.count()}});
    return retry_in(std::chrono::milliseconds(0));
  }
  if (auto* a = std::get_if<AuthProblem>(&verdict)) {
    metrics_.api_errors(a->kind).Increment();
    report_problem_("HTTP " + std::to_string(a->status) + ": " + a->hint);
    if (once)  // a cron job must fail, not wait for an operator
      throw FatalError("Zendesk refused the access log request (HTTP " + std::to_string(a->status) + ": " + a->detail +
                       "): " + a->hint);
    metrics_.api_retries("auth").Increment();
    log_.error("Zendesk refused the access log request: " + a->hint,
               {{"status", a->status}, {"detail", a->detail}, {"retry_in_ms", settings_.auth_retry.count()}});
    return retry_in(settings_.auth_retry);
  }
  if (auto* f = std::get_if<Fatal>(&verdict)) {
    metrics_.api_errors("bad_request").Increment();
    throw FatalError(f->message);
  }
  const auto& b = std::get<Backoff>(verdict);
  return backoff(b.reason, b.what);
}

Poll AccessLogSource::accept(ReadKind kind, const std::string& url, PageBuffer& buffer) {
  auto parsed = parse_page(buffer.parser, buffer.body);
  if (auto* problem = std::get_if<std::string>(&parsed)) {
    // One bad page is a glitch; the same page failing again and again
    // holds the whole pipeline, so /readyz says so.
    if (++consecutive_body_failures_ >= 3) report_problem_("the API's pages cannot be used: " + *problem);
    return backoff("body", *problem + " (url " + url + ")");
  }
  consecutive_body_failures_ = 0;
  const PageEnvelope& page = std::get<PageEnvelope>(parsed);
  // The way past this page, decided before anything of it is kept: a page
  // without one is a failure like a bad body (its backoff grows, nothing
  // of it is written ahead or shipped).
  WayPast way = way_past(page, origin_);
  if (way.foreign_link && !warned_foreign_link_) {
    warned_foreign_link_ = true;
    log_.warn("links.next points at another host; not following it (credentials go only to the configured "
              "host), paging with meta.after_cursor instead",
              {{"configured", settings_.base_url}});
  }
  if (way.stuck) {
    // Shipping this page without a way past it would lose the rest of
    // the window: hold, retry, and say so on /readyz.
    std::string why = "the API says more events follow but gives no usable cursor (no meta.after_cursor, "
                      "links.next absent or on another host); retrying the page";
    report_problem_(why);
    return backoff("body", why + " (url " + url + ")");
  }
  current_backoff_ = std::chrono::milliseconds(0);
  consecutive_429_ = 0;
  report_problem_("");
  metrics_.last_fetch_success_ts.Set(clock_.now_ms() / 1000.0);

  const Window window = view_.position(kind).window();
  ScannedPage scanned = scan_page(page.events, view_.seen(kind), kind == ReadKind::First && view_.live.first_late_read);
  std::vector<PositionPiece> pieces;
  std::map<int64_t, uint64_t> id_counts;  // before this page retires any window
  if (settings_.ids_beside_position) {
    if (!scanned.write_ahead.empty()) {
      if (!id_pieces_.holds(window.start)) id_pieces_.resume(window.start, store_.read_ids(window.start));
      pieces = id_pieces_.append(scanned.write_ahead);
    }
    id_counts = view_.live.id_counts;
    id_counts[window.start] += scanned.write_ahead.size();
  }
  // Durable before the page leaves: a late read must know every id a
  // delivered page shipped, wherever the state that says so is kept.
  if (!scanned.write_ahead.empty()) {
    try {
      store_.append_ids(window.start, scanned.write_ahead);
      store_.sync_ids();
    } catch (const std::exception& e) {
      throw FatalError(std::string(e.what()) + ". The forwarder stops before shipping the page; free the disk or "
                       "fix the checkpoint directory's permissions and start it again (the next start drops the "
                       "partial write).");
    }
  }
  Advanced adv = advance(view_, kind, window, page, std::move(way), scanned.write_ahead.size());
  if (kind == ReadKind::Late) metrics_.late_events.Increment(static_cast<double>(scanned.events.size()));
  for (const Window& done : adv.reread) {
    reread_seconds_ += static_cast<double>(done.end - done.start);
    metrics_.late_read_windows("reread").Increment();
  }
  metrics_.duplicates_dropped.Increment(static_cast<double>(scanned.duplicates));

  SourcePage out;
  out.span_start_s = window.start;
  out.span_end_s = window.end;
  out.advances = kind == ReadKind::First;
  out.listed = scanned.listed;
  out.duplicates = scanned.duplicates;
  out.events = std::move(scanned.events);
  PendingCommit pc;
  pc.retire = std::move(adv.retire);
  pc.token = out.token = ++next_token_;
  pc.after = view_.live;
  out.position = serialize(view_.live);
  if (settings_.ids_beside_position)
    for (int64_t start : pc.retire) {
      auto gone = erase_id_pieces(start, id_counts[start]);
      pieces.insert(pieces.end(), gone.begin(), gone.end());
      if (id_pieces_.holds(start)) id_pieces_.forget();
    }
  out.pieces = std::move(pieces);
  pc.events = out.events.size();
  {
    std::lock_guard lock(mu_);
    pending_.push_back(std::move(pc));
  }
  Poll p;
  p.page = std::move(out);
  return p;
}

CommitCost AccessLogSource::commit(uint64_t token) {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<PendingCommit> done;
  {
    std::lock_guard lock(mu_);
    while (!pending_.empty() && pending_.front().token <= token) {
      done.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
  }
  if (done.empty()) return {};
  CommitCost cost;
  PullState state = done.back().after;
  try {
    size_t events = 0;
    for (const auto& pc : done) events += pc.events;
    {
      std::lock_guard lock(mu_);
      state.events_delivered = durable_.events_delivered + events;
    }
    state.committed_at_s = clock_.now_s();
    cost.bytes += store_.save(state);
  } catch (...) {
    // Put the pages back: the next commit writes a state covering them.
    std::lock_guard lock(mu_);
    for (auto it = done.rbegin(); it != done.rend(); ++it) pending_.push_front(std::move(*it));
    throw;
  }
  {
    std::lock_guard lock(mu_);
    durable_ = state;
  }
  for (const auto& pc : done)
    for (int64_t start : pc.retire) store_.remove_ids(start);
  cost.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return cost;
}

}  // namespace zf::source
