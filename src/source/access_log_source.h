#pragma once
// The fetch stage: walks time windows of the Access Logs API page by page
// within the request budget, and hands each page to the pipeline with the
// position to store once that page is delivered.
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include <simdjson.h>

#include "core/stop_signal.h"
#include "source/http_client.h"
#include "source/page.h"
#include "source/position.h"
#include "source/rate_limiter.h"

namespace zf {
class Logger;
class Metrics;
}  // namespace zf

namespace zf::source {

struct SourceSettings {
  std::string base_url;       // "https://acme.zendesk.com" (no trailing slash)
  std::string authorization;  // the Authorization header value (a secret)
  int page_size = 2500;
  WindowSettings windows;
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{60'000};
  std::chrono::milliseconds auth_retry{60'000};  // 401/403/404: try again this rarely
};

struct FetchedPage {
  PageEnvelope page;        // events valid until the next call to next()
  Window window;            // the window the page belongs to
  Position after;           // resume here once this page is delivered
  int64_t remember_from_s;  // ids with timestamps >= this are re-read by the next window
};

class AccessLogSource {
 public:
  AccessLogSource(SourceSettings settings, HttpClient& http, RateLimiter& limiter, Logger& log,
                  Metrics& metrics, StopSignal& stop);

  void resume(const Position& from);
  const Position& position() const { return pos_; }

  // Blocks until the next page arrives. nullopt when stop was requested,
  // or, with `once`, when everything up to now - settle_delay was read.
  // Throws FatalError when retrying cannot help (HTTP 400).
  std::optional<FetchedPage> next(bool once);

 private:
  std::string page_url() const;
  void backoff(const std::string& reason, const std::string& what);
  void clip_to_retention(int64_t now);

  SourceSettings settings_;
  std::optional<Origin> origin_;
  HttpClient& http_;
  RateLimiter& limiter_;
  Logger& log_;
  Metrics& metrics_;
  StopSignal& stop_;
  simdjson::dom::parser parser_;
  std::string body_;  // the page the parser's elements point into
  Position pos_;
  std::optional<std::string> next_link_;
  std::chrono::milliseconds current_backoff_{0};
  std::mt19937_64 jitter_{std::random_device{}()};
  bool warned_foreign_link_ = false;
};

// "Basic base64(email/token:token)", "Basic base64(email:password)" or
// "Bearer token".
std::string basic_authorization(const std::string& user, const std::string& secret);
std::string bearer_authorization(const std::string& token);

}  // namespace zf::source
