#include "source/access_log_source.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/encoding.h"
#include "core/errors.h"
#include "log/logger.h"
#include "metrics/metrics.h"
#include "source/ratelimit_reset.h"
#include "core/time_format.h"

namespace zf::source {

namespace {

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string status_class(long status) {
  if (status == 0) return "transport";
  if (status == 429) return "429";
  return std::to_string(status / 100) + "xx";
}

}  // namespace

std::string basic_authorization(const std::string& user, const std::string& secret) {
  return "Basic " + base64_encode(user + ":" + secret);
}
std::string bearer_authorization(const std::string& token) { return "Bearer " + token; }

AccessLogSource::AccessLogSource(SourceSettings settings, HttpClient& http, RateLimiter& limiter, Logger& log,
                                 Metrics& metrics, StopSignal& stop)
    : settings_(std::move(settings)),
      origin_(origin_of(settings_.base_url)),
      http_(http),
      limiter_(limiter),
      log_(log),
      metrics_(metrics),
      stop_(stop) {}

void AccessLogSource::resume(const Position& from) {
  pos_ = from;
  next_link_.reset();
}

void AccessLogSource::clip_to_retention(int64_t now) {
  int64_t floor = retention_floor(now);
  if (pos_.window_start < floor) {
    log_.warn("start position is older than the API's 90-day retention; clipping it. Events before the new start "
              "are no longer available from Zendesk.",
              {{"requested_start", format_utc_seconds(pos_.window_start)}, {"clipped_start", format_utc_seconds(floor)}});
    pos_.window_start = floor;
    pos_.window_end = 0;
    pos_.cursor.clear();
  }
}

std::string AccessLogSource::page_url() const {
  if (next_link_) return *next_link_;
  std::string url = settings_.base_url + "/api/v2/access_logs?filter%5Bstart%5D=" +
                    url_encode(format_utc_seconds(pos_.window_start)) +
                    "&filter%5Bend%5D=" + url_encode(format_utc_seconds(pos_.window_end)) +
                    "&page%5Bsize%5D=" + std::to_string(settings_.page_size);
  if (!pos_.cursor.empty()) url += "&page%5Bafter%5D=" + url_encode(pos_.cursor);
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

std::optional<FetchedPage> AccessLogSource::next(bool once) {
  while (!stop_.requested()) {
    int64_t now = now_s();
    if (pos_.window_end == 0) {
      clip_to_retention(now);
      auto w = plan_window(pos_.window_start, now, settings_.windows);
      if (!w) {
        if (once) return std::nullopt;
        stop_.sleep_for(std::chrono::seconds(std::max<int64_t>(1, settings_.windows.poll_interval_s / 4)));
        continue;
      }
      pos_.window_end = w->end;
      pos_.cursor.clear();
      next_link_.reset();
    }
    metrics_.backfill_position_ts.Set(static_cast<double>(pos_.window_start));
    metrics_.backfill_remaining.Set(static_cast<double>(std::max<int64_t>(0, now - pos_.window_start)));
    metrics_.retention_margin.Set(static_cast<double>(retention_margin(pos_.window_start, now)));

    RateLimiter::Waited waited;
    if (!limiter_.acquire(stop_, &waited)) return std::nullopt;
    metrics_.rate_limit_wait_budget.Increment(waited.budget.count() / 1000.0);
    metrics_.rate_limit_wait_reset.Increment(waited.reset.count() / 1000.0);
    metrics_.rate_limit_in_use.Set(limiter_.in_use());

    std::string url = page_url();
    log_.debug("requesting page", {{"url", url}});
    HttpResponse resp = http_.get(url, settings_.authorization);
    metrics_.api_requests(status_class(resp.status)).Increment();
    metrics_.api_request_duration.Observe(resp.elapsed.count() / 1000.0);

    if (resp.status == 200) {
      body_ = std::move(resp.body);
      auto parsed = parse_page(parser_, body_);
      if (auto* problem = std::get_if<std::string>(&parsed)) {
        backoff("body", *problem + " (url " + url + ")");
        continue;
      }
      current_backoff_ = std::chrono::milliseconds(0);
      metrics_.last_fetch_success_ts.Set(now_seconds());
      FetchedPage out{std::move(std::get<PageEnvelope>(parsed)), Window{pos_.window_start, pos_.window_end}, {}, 0};
      out.remember_from_s = pos_.window_end - settings_.windows.overlap_s;
      if (out.page.has_more) {
        next_link_.reset();
        if (out.page.next_link && origin_ && same_origin(*out.page.next_link, *origin_)) {
          next_link_ = out.page.next_link;
        } else if (out.page.next_link && !warned_foreign_link_) {
          warned_foreign_link_ = true;
          log_.warn("links.next points at another host; not following it (credentials go only to the configured "
                    "host), paging with meta.after_cursor instead",
                    {{"configured", settings_.base_url}});
        }
        pos_.cursor = out.page.after_cursor;
        if (pos_.cursor.empty() && !next_link_) {
          backoff("body", "meta.has_more is true but no usable cursor was given");
          continue;
        }
      } else {
        pos_ = Position{next_window_start(out.window, settings_.windows), 0, ""};
        next_link_.reset();
      }
      out.after = pos_;
      return out;
    }

    if (resp.status == 429) {
      metrics_.rate_limit_hits.Increment();
      auto reset_header = resp.header("ratelimit-reset");
      auto retry_after = resp.header("retry-after");
      auto wait = reset_wait(reset_header ? std::optional<std::string_view>(*reset_header) : std::nullopt,
                             retry_after ? std::optional<std::string_view>(*retry_after) : std::nullopt,
                             std::chrono::system_clock::now());
      limiter_.hold_until(RateLimiter::Clock::now() + wait);
      metrics_.api_retries("429").Increment();
      log_.warn("rate limited by Zendesk (429); waiting for ratelimit-reset. Lower zendesk.rate_limit.requests if "
                "other tools share this account's budget.",
                {{"ratelimit_reset", reset_header.value_or("")}, {"retry_after", retry_after.value_or("")},
                 {"wait_ms", wait.count()}});
      continue;
    }

    if (resp.status == 401 || resp.status == 403 || resp.status == 404) {
      std::string kind = resp.status == 401 ? "auth" : resp.status == 403 ? "forbidden" : "not_found";
      std::string hint =
          resp.status == 401
              ? "credentials were rejected: check zendesk.auth (email, API token or OAuth token) and that the token "
                "is active"
          : resp.status == 403
              ? "access denied: the user must be a Zendesk admin, and the account needs the Advanced Data Privacy "
                "and Protection add-on"
              : "the Access Log API is not available: turn it on in Admin Center (Account > Logs > Access log) and "
                "check zendesk.subdomain / zendesk.base_url";
      metrics_.api_errors(kind).Increment();
      metrics_.api_retries("auth").Increment();
      log_.error("Zendesk refused the access log request: " + hint,
                 {{"status", resp.status}, {"detail", error_detail(resp.body)},
                  {"retry_in_ms", settings_.auth_retry.count()}});
      stop_.sleep_for(settings_.auth_retry);
      continue;
    }

    if (resp.status == 400) {
      metrics_.api_errors("bad_request").Increment();
      throw FatalError("Zendesk rejected the request as malformed (HTTP 400: " + error_detail(resp.body) +
                       "). Check zendesk.page_size (1 to 2500) and zendesk.start (within the last 90 days); if the "
                       "checkpoint holds an expired cursor, move the checkpoint file aside. Request: " + url);
    }

    std::string what = resp.status == 0 ? resp.transport_error
                                        : "HTTP " + std::to_string(resp.status) + ": " + error_detail(resp.body);
    backoff(resp.status == 0 ? "transport" : "5xx", what);
  }
  return std::nullopt;
}

}  // namespace zf::source
