#include "source/access_log_source.h"

#include <algorithm>
#include <set>

#include "core/encoding.h"
#include "core/errors.h"
#include "core/time_format.h"
#include "log/logger.h"
#include "source/pull_metrics.h"
#include "source/ratelimit_reset.h"

namespace zf::source {

namespace {


std::string status_class(long status) {
  if (status == 0) return "transport";
  if (status == 429) return "429";
  return std::to_string(status / 100) + "xx";
}

const char* read_name(ReadKind k) { return k == ReadKind::First ? "first" : "late"; }

}  // namespace

std::string basic_authorization(const std::string& user, const std::string& secret) {
  return "Basic " + base64_encode(user + ":" + secret);
}
std::string bearer_authorization(const std::string& token) { return "Bearer " + token; }

AccessLogSource::AccessLogSource(SourceSettings settings, HttpClient& http, RateLimiter& limiter,
                                 PullCheckpoint& store, Logger& log, PullMetrics& metrics, StopSignal& stop,
                                 const Clock& clock)
    : settings_(std::move(settings)),
      origin_(origin_of(settings_.base_url)),
      http_(http),
      limiter_(limiter),
      store_(store),
      ledger_(store.path() + ".ledger"),
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
  reconcile_ids(s, keep, has_counts);
  live_ = durable_ = s;
  if (store_.has_ids(s.first.window_start)) first_seen_ = EventKeySet(store_.read_ids(s.first.window_start));
  if (s.late.open()) {
    std::vector<EventKey> keys;
    for (const auto& w : s.awaiting)
      if (w.end <= s.late.window_end) {
        auto more = store_.read_ids(w.start);
        keys.insert(keys.end(), more.begin(), more.end());
      }
    late_seen_ = EventKeySet(std::move(keys));
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

void AccessLogSource::clip_to_retention(int64_t now) {
  int64_t floor = retention_floor(now);
  if (live_.first.window_start < floor) {
    log_.warn("start position is older than the API's 90-day retention; clipping it. Events before the new start "
              "are no longer available from Zendesk.",
              {{"requested_start", format_utc_seconds(live_.first.window_start)},
               {"clipped_start", format_utc_seconds(floor)}});
    live_.first = {floor, 0, ""};
  }
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

void AccessLogSource::backoff(const std::string& reason, const std::string& what) {
  metrics_.api_retries(reason).Increment();
  current_backoff_ = current_backoff_.count() == 0 ? settings_.retry_initial
                                                   : std::min(settings_.retry_max, current_backoff_ * 2);
  // Full jitter in [d/2, d]: many forwarders restarting together spread out.
  std::uniform_int_distribution<int64_t> dist(current_backoff_.count() / 2, current_backoff_.count());
  std::chrono::milliseconds wait(dist(jitter_));
  log_.warn("API request failed; retrying", {{"reason", reason}, {"error", what}, {"retry_in_ms", wait.count()}});
  stop_.sleep_for(wait);
}

// Late reads that cannot be served within late_read_max_backlog are given
// up (their late events, if any, are then missed) so that the id files and
// the state stay bounded when first reads need the whole budget.
void AccessLogSource::give_up_overdue(int64_t now) {
  const auto& w = settings_.windows;
  size_t given_up = 0, events = 0;
  while (!live_.awaiting.empty() && now > late_read_due(live_.awaiting.front(), w) + w.late_read_max_backlog_s) {
    Window win = live_.awaiting.front();
    if (live_.late.open()) {
      // The open late read covers this window: abandon it whole.
      live_.late = {};
      late_seen_ = {};
      late_link_.reset();
    }
    size_t ids = store_.count_ids(win.start);
    events += ids;
    ++given_up;
    skipped_seconds_ += static_cast<double>(win.end - win.start);
    metrics_.late_read_windows("skipped").Increment();
    metrics_.late_read_skipped_events.Increment(static_cast<double>(ids));
    retire_next_.push_back(win.start);
    live_.awaiting.erase(live_.awaiting.begin());
  }
  if (given_up > 0)
    log_.warn("late reads fell more than zendesk.late_read_max_backlog behind (first reads need the request budget); "
              "giving them up: late events in these windows are not collected. Raise the budget or shorten "
              "poll gaps, or accept the coverage shown by zendesk_forwarder_late_read_coverage_ratio.",
              {{"windows", given_up}, {"first_read_events", events}});
}

bool AccessLogSource::open_late_read(int64_t now, bool& waits_for_commit) {
  const auto& w = settings_.windows;
  if (live_.awaiting.empty() || now < late_read_due(live_.awaiting.front(), w)) return false;
  // The first read's ids must be durable before the late read compares
  // against them; with a stalled sink this waits.
  int64_t committed = committed_first_start();
  if (live_.awaiting.front().end > committed) {
    waits_for_commit = true;
    return false;
  }
  // One walk over consecutive due windows: fewer partial pages.
  size_t ids = store_.count_ids(live_.awaiting.front().start);
  size_t k = 1;
  while (k < live_.awaiting.size()) {
    const Window& next = live_.awaiting[k];
    size_t more = store_.count_ids(next.start);
    if (next.start != live_.awaiting[k - 1].end || now < late_read_due(next, w) || next.end > committed ||
        ids + more > settings_.late_read_max_ids)
      break;
    ids += more;
    ++k;
  }
  std::vector<EventKey> keys;
  keys.reserve(ids);
  for (size_t i = 0; i < k; ++i) {
    auto more = store_.read_ids(live_.awaiting[i].start);
    keys.insert(keys.end(), more.begin(), more.end());
  }
  late_seen_ = EventKeySet(std::move(keys));
  live_.late = {live_.awaiting.front().start, live_.awaiting[k - 1].end, ""};
  late_link_.reset();
  log_.debug("late read", {{"window_start", format_utc_seconds(live_.late.window_start)},
                           {"window_end", format_utc_seconds(live_.late.window_end)},
                           {"windows", k}, {"first_read_ids", late_seen_.size()}});
  return true;
}

AccessLogSource::Step AccessLogSource::plan(int64_t now, bool once, ReadKind& kind, int64_t& wake_ms) {
  const auto& w = settings_.windows;
  give_up_overdue(now);
  if (!live_.first.open()) {
    clip_to_retention(now);
    if (auto p = plan_first_read(live_.first.window_start, now, w)) {
      live_.first.window_end = p->window.end;
      live_.first.cursor.clear();
      live_.first_late_read = p->late_read;
      first_link_.reset();
    }
  }
  if (live_.first.open()) {
    kind = ReadKind::First;
    return Step::Fetch;
  }
  bool waits_for_commit = false;
  if (live_.late.open() || open_late_read(now, waits_for_commit)) {
    kind = ReadKind::Late;
    return Step::Fetch;
  }
  if (once && !waits_for_commit) return Step::Done;
  // Sleep until the next window closes or the next late read is due, to
  // the second: polling more often only costs CPU.
  int64_t wake_s = first_read_due(live_.first.window_start, w);
  if (!live_.awaiting.empty()) wake_s = std::min(wake_s, late_read_due(live_.awaiting.front(), w));
  wake_ms = wake_s * 1000 + 20;
  if (waits_for_commit || once) wake_ms = std::min(wake_ms, clock_.now_ms() + 50);
  return Step::Wait;
}

void AccessLogSource::update_gauges(int64_t now) {
  metrics_.backfill_position_ts.Set(static_cast<double>(live_.first.window_start));
  metrics_.backfill_remaining.Set(static_cast<double>(std::max<int64_t>(0, now - live_.first.window_start)));
  metrics_.retention_margin.Set(static_cast<double>(retention_margin(live_.first.window_start, now)));
  metrics_.late_read_pending_windows.Set(static_cast<double>(live_.awaiting.size()));
  int64_t backlog = live_.awaiting.empty()
                        ? 0
                        : std::max<int64_t>(0, now - late_read_due(live_.awaiting.front(), settings_.windows));
  metrics_.late_read_backlog_seconds.Set(static_cast<double>(backlog));
  // Windows whose late read is due but not done count as not covered until
  // it is: the ratio drops as soon as late reads fall behind, not only
  // when one is given up.
  double overdue = 0;
  for (const auto& win : live_.awaiting)
    if (now >= late_read_due(win, settings_.windows)) overdue += static_cast<double>(win.end - win.start);
  double judged = reread_seconds_ + skipped_seconds_ + overdue;
  metrics_.late_read_coverage_ratio.Set(judged > 0 ? reread_seconds_ / judged : 1.0);
}

std::optional<SourcePage> AccessLogSource::next(bool once) {
  while (!stop_.requested()) {
    int64_t now = clock_.now_s();
    ReadKind kind = ReadKind::First;
    int64_t wake_ms = 0;
    Step step = plan(now, once, kind, wake_ms);
    update_gauges(now);
    if (step == Step::Done) return std::nullopt;
    if (step == Step::Wait) {
      clock_.sleep_until(stop_, wake_ms);
      continue;
    }
    if (auto page = fetch(kind, once)) return page;
  }
  return std::nullopt;
}

std::optional<SourcePage> AccessLogSource::fetch(ReadKind kind, bool once) {
  ReadPosition& pos = kind == ReadKind::First ? live_.first : live_.late;
  std::optional<std::string>& link = kind == ReadKind::First ? first_link_ : late_link_;

  if (kind == ReadKind::First || once) {
    RateLimiter::Waited waited;
    if (!limiter_.acquire(stop_, &waited)) return std::nullopt;
    metrics_.rate_limit_wait_budget.Increment(waited.budget.count() / 1000.0);
    metrics_.rate_limit_wait_reset.Increment(waited.reset.count() / 1000.0);
  } else if (!limiter_.try_acquire_spare()) {
    // Late reads take only what first reads leave of the budget: the first
    // reads of the last period are what the next ones will need.
    stop_.sleep_for(std::chrono::milliseconds(250));
    return std::nullopt;
  }
  metrics_.rate_limit_in_use.Set(limiter_.in_use());

  std::string url = page_url(pos, link);
  log_.debug("requesting page", {{"url", url}, {"read", read_name(kind)}});
  HttpResponse resp = http_.get(url, settings_.authorization, [this] { return stop_.requested(); });
  if (stop_.requested()) return std::nullopt;
  metrics_.api_requests(status_class(resp.status)).Increment();
  metrics_.api_page_requests(read_name(kind)).Increment();
  metrics_.api_request_duration.Observe(resp.elapsed.count() / 1000.0);

  if (resp.status == 200) {
    body_ = std::move(resp.body);
    auto parsed = parse_page(parser_, body_);
    if (auto* problem = std::get_if<std::string>(&parsed)) {
      // One bad page is a glitch; the same page failing again and again
      // holds the whole pipeline, so /readyz says so.
      if (++consecutive_body_failures_ >= 3) report_problem_("the API's pages cannot be used: " + *problem);
      backoff("body", *problem + " (url " + url + ")");
      return std::nullopt;
    }
    consecutive_body_failures_ = 0;
    PageEnvelope& page = std::get<PageEnvelope>(parsed);
    // The way past this page, decided before anything of it is kept: a page
    // without one is a failure like a bad body (its backoff grows, nothing
    // of it is written ahead or shipped).
    std::optional<std::string> next_link;
    if (page.has_more) {
      if (page.next_link && origin_ && same_origin(*page.next_link, *origin_)) {
        next_link = page.next_link;
      } else if (page.next_link && !warned_foreign_link_) {
        warned_foreign_link_ = true;
        log_.warn("links.next points at another host; not following it (credentials go only to the configured "
                  "host), paging with meta.after_cursor instead",
                  {{"configured", settings_.base_url}});
      }
      if (page.after_cursor.empty() && !next_link) {
        // Shipping this page without a way past it would lose the rest of
        // the window: hold, retry, and say so on /readyz.
        std::string why = "the API says more events follow but gives no usable cursor (no meta.after_cursor, "
                          "links.next absent or on another host); retrying the page";
        report_problem_(why);
        backoff("body", why + " (url " + url + ")");
        return std::nullopt;
      }
    }
    current_backoff_ = std::chrono::milliseconds(0);
    consecutive_429_ = 0;
    report_problem_("");
    metrics_.last_fetch_success_ts.Set(clock_.now_ms() / 1000.0);

    const Window window = pos.window();
    SourcePage out;
    out.span_start_s = window.start;
    out.span_end_s = window.end;
    out.advances = kind == ReadKind::First;
    PendingCommit pc;
    const EventKeySet& seen = kind == ReadKind::First ? first_seen_ : late_seen_;
    bool record = kind == ReadKind::First && live_.first_late_read;
    std::vector<EventKey> ids;  // for the window's late read
    for (simdjson::dom::element event : page.events) {
      ++out.listed;
      std::string_view id;
      if (!event["id"].get_string().get(id) && !id.empty()) {
        EventKey key = event_key(id);
        if (!seen.empty() && seen.contains(key)) {
          ++out.duplicates;
          continue;
        }
        if (record) ids.push_back(key);
        std::string_view ts;
        auto ms = event["timestamp"].get_string().get(ts) ? std::nullopt : parse_rfc3339_ms(ts);
        pc.ledger[ms ? ledger_bucket_of(*ms) : kLedgerNoTime].add(id);
      }
      out.events.push_back(event);
    }
    // Durable before the page leaves: a late read must know every id a
    // delivered page shipped, wherever the state that says so is kept.
    if (!ids.empty()) {
      try {
        store_.append_ids(window.start, ids);
        store_.sync_ids();
      } catch (const std::exception& e) {
        throw FatalError(std::string(e.what()) + ". The forwarder stops before shipping the page; free the disk or "
                         "fix the checkpoint directory's permissions and start it again (the next start drops the "
                         "partial write).");
      }
      live_.id_counts[window.start] += ids.size();
    }

    if (page.has_more) {
      link = std::move(next_link);
      pos.cursor = page.after_cursor;
    }
    if (kind == ReadKind::First) {
      if (!page.has_more) {
        if (live_.first_late_read) live_.awaiting.push_back(window);
        else pc.retire.push_back(window.start);  // a resumed window's ids, if any
        live_.first = {window.end, 0, ""};
        live_.first_late_read = false;
        first_seen_ = {};
        first_link_.reset();
      }
    } else {
      metrics_.late_events.Increment(static_cast<double>(out.events.size()));
      if (!page.has_more) {
        while (!live_.awaiting.empty() && live_.awaiting.front().end <= live_.late.window_end) {
          const Window& done = live_.awaiting.front();
          reread_seconds_ += static_cast<double>(done.end - done.start);
          metrics_.late_read_windows("reread").Increment();
          pc.retire.push_back(done.start);
          live_.awaiting.erase(live_.awaiting.begin());
        }
        live_.late = {};
        late_seen_ = {};
        late_link_.reset();
      }
    }
    metrics_.duplicates_dropped.Increment(static_cast<double>(out.duplicates));
    pc.retire.insert(pc.retire.end(), retire_next_.begin(), retire_next_.end());
    retire_next_.clear();
    std::erase_if(live_.id_counts, [&](const auto& entry) {
      return entry.first != live_.first.window_start &&
             std::none_of(live_.awaiting.begin(), live_.awaiting.end(), [&](const Window& w) { return w.start == entry.first; });
    });
    pc.token = out.token = ++next_token_;
    pc.after = live_;
    out.position = serialize(live_);
    pc.events = out.events.size();
    {
      std::lock_guard lock(mu_);
      pending_.push_back(std::move(pc));
    }
    return out;
  }

  if (resp.status == 429) {
    metrics_.rate_limit_hits.Increment();
    auto reset_header = resp.header("ratelimit-reset");
    auto retry_after = resp.header("retry-after");
    auto wait = reset_wait(reset_header ? std::optional<std::string_view>(*reset_header) : std::nullopt,
                           retry_after ? std::optional<std::string_view>(*retry_after) : std::nullopt,
                           std::chrono::system_clock::now());  // the server's clock, not ours
    // 429 after 429 despite honoured resets: the header is wrong or another
    // tool shares the budget; back off further each time (up to a minute).
    ++consecutive_429_;
    wait = std::max(wait, std::chrono::milliseconds(std::min<int64_t>(60'000, 1000LL << std::min(consecutive_429_ - 1, 6))));
    limiter_.hold_until(RateLimiter::Clock::now() + wait);
    metrics_.api_retries("429").Increment();
    log_.warn("rate limited by Zendesk (429); waiting for ratelimit-reset. Lower zendesk.rate_limit.requests if "
              "other tools share this account's budget.",
              {{"ratelimit_reset", reset_header.value_or("")}, {"retry_after", retry_after.value_or("")},
               {"wait_ms", wait.count()}});
    return std::nullopt;
  }

  if (resp.status == 401 || resp.status == 403 || resp.status == 404) {
    std::string kind_name = resp.status == 401 ? "auth" : resp.status == 403 ? "forbidden" : "not_found";
    std::string hint =
        resp.status == 401
            ? "credentials were rejected: check zendesk.auth (email, API token or OAuth token) and that the token "
              "is active"
        : resp.status == 403
            ? "access denied: the user must be a Zendesk admin, and the account needs the Advanced Data Privacy "
              "and Protection add-on"
            : "the Access Log API is not available: turn it on in Admin Center (Account > Logs > Access log) and "
              "check zendesk.subdomain / zendesk.base_url";
    metrics_.api_errors(kind_name).Increment();
    report_problem_("HTTP " + std::to_string(resp.status) + ": " + hint);
    if (once)  // a cron job must fail, not wait for an operator
      throw FatalError("Zendesk refused the access log request (HTTP " + std::to_string(resp.status) + ": " +
                       error_detail(resp.body) + "): " + hint);
    metrics_.api_retries("auth").Increment();
    log_.error("Zendesk refused the access log request: " + hint,
               {{"status", resp.status}, {"detail", error_detail(resp.body)},
                {"retry_in_ms", settings_.auth_retry.count()}});
    stop_.sleep_for(settings_.auth_retry);
    return std::nullopt;
  }

  if (resp.status == 400) {
    metrics_.api_errors("bad_request").Increment();
    throw FatalError("Zendesk rejected the request as malformed (HTTP 400: " + error_detail(resp.body) +
                     "). Check zendesk.page_size (1 to 2500) and zendesk.start (within the last 90 days); if the "
                     "checkpoint holds an expired cursor, move the checkpoint file aside. Request: " + url);
  }

  std::string reason = resp.status == 0     ? "transport"
                       : resp.status >= 500 ? "5xx"
                       : resp.status >= 400 ? "4xx"
                       : resp.status >= 300 ? "redirect"
                                            : "unexpected_status";
  std::string what = resp.status == 0 ? resp.transport_error
                                      : "HTTP " + std::to_string(resp.status) + ": " + error_detail(resp.body);
  if (resp.status >= 300 && resp.status < 400)
    what = "HTTP " + std::to_string(resp.status) + " redirect to " + resp.header("location").value_or("(no Location)") +
           ": the Access Logs API does not redirect; check zendesk.base_url (https and the account's own host)";
  backoff(reason, what);
  return std::nullopt;
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
  // After the state: a crash in between leaves the ledger short, which only
  // makes verify read the sinks for those minutes, never report too much.
  Ledger delta;
  for (const auto& pc : done)
    for (const auto& [bucket, b] : pc.ledger) delta[bucket].merge(b);
  try {
    ledger_.append(delta);
  } catch (const std::exception& e) {
    log_.warn("delivery ledger not updated; verify --ledger will read the sinks for these minutes",
              {{"error", e.what()}});
  }
  cost.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return cost;
}

}  // namespace zf::source
