#pragma once
// The fetch stage: reads each window of the Access Logs API when it closes
// (first read) and, for fresh windows, once more late_read_delay later
// (late read, shipping only ids the first read did not), page by page
// within the request budget. It owns its position, its dedup ids and its
// checkpoint: each page it hands out carries a token, and commit(token)
// makes the state after that page durable once every sink delivered it.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <simdjson.h>

#include "core/clock.h"
#include "core/commit_cost.h"
#include "core/source.h"
#include "core/stop_signal.h"
#include "proof/delivery_ledger.h"
#include "sources/event_id.h"
#include "net/http_client.h"
#include "net/http_get.h"
#include "sources/zendesk_pull/id_pieces.h"
#include "sources/zendesk_pull/page.h"
#include "sources/zendesk_pull/position.h"
#include "sources/zendesk_pull/pull_checkpoint.h"
#include "sources/zendesk_pull/pull_page.h"
#include "sources/zendesk_pull/pull_plan.h"
#include "sources/zendesk_pull/rate_limiter.h"

namespace zf {
class Logger;
class PullMetrics;
}  // namespace zf

namespace zf::source {

using net::HttpClient;  // the one HTTP client lives in net/
using net::HttpGet;
using net::HttpResponse;
using net::Origin;
using net::origin_of;
using net::same_origin;

struct SourceSettings {
  std::string base_url;       // "https://acme.zendesk.com" (no trailing slash)
  std::string authorization;  // the Authorization header value (a secret)
  int page_size = 2500;
  WindowSettings windows;
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{60'000};
  std::chrono::milliseconds auth_retry{60'000};  // 401/403/404: try again this rarely
  // A late read covers consecutive due windows up to this many first-read
  // ids (its dedup set, 16 bytes each, is in memory while it runs).
  size_t late_read_max_ids = 500'000;
  // A sink keeps the position (Kafka exactly_once): the ids a late read
  // needs go beside it too, so the account's next owner has them.
  bool ids_beside_position = false;
};

class AccessLogSource final : public PollingSource {
 public:
  // `clock` decides which windows are due and when late reads are.
  AccessLogSource(SourceSettings settings, HttpGet& http, RateLimiter& limiter, PullCheckpoint& store,
                  Logger& log, PullMetrics& metrics, StopSignal& stop, const Clock& clock = real_clock());

  // Resumes from the checkpoint (migrating a version-1 file) or, without
  // one, starts a backfill at `start` (unix seconds). Throws FatalError for
  // a checkpoint of another account.
  void open(const std::string& account, int64_t start);

  // Blocks until the next page arrives. nullopt when stop was requested,
  // or, with `once`, when everything up to now - settle_delay was read and
  // no late read is due. Throws FatalError when retrying cannot help (HTTP 400).
  std::optional<SourcePage> next(bool once) override;
  // The same without blocking: one request at most, its page in `buffer`.
  Poll poll(bool once, PageBuffer& buffer) override;

  // Every page up to `token` was delivered by every sink. Called in token
  // order from one thread; throws std::runtime_error on I/O errors (the
  // next commit covers these pages again).
  CommitCost commit(uint64_t token) override;

  uint64_t events_delivered() const;

  // Told why the API does not serve pages (for /readyz), and "" once it does.
  void on_problem(std::function<void(const std::string&)> report) { report_problem_ = std::move(report); }

 private:
  // What one page changes, made durable by commit().
  struct PendingCommit {
    uint64_t token = 0;
    PullState after;
    std::vector<int64_t> retire;  // id files no longer needed once `after` is durable
    size_t events = 0;
  };

  void note_plan(const NextRequest& req);
  void reconcile_ids(PullState& s, const std::set<int64_t>& keep, bool has_counts);
  Poll fetch(ReadKind kind, bool once, PageBuffer& buffer);
  Poll accept(ReadKind kind, const std::string& url, PageBuffer& buffer);
  std::string page_url(const ReadPosition& pos, const std::optional<std::string>& link) const;
  Poll backoff(const std::string& reason, const std::string& what);
  void update_gauges(int64_t now);
  int64_t committed_first_start() const;

  SourceSettings settings_;
  std::optional<Origin> origin_;
  HttpGet& http_;
  RateLimiter& limiter_;
  PullCheckpoint& store_;
  Logger& log_;
  PullMetrics& metrics_;
  StopSignal& stop_;
  const Clock& clock_;
  PageBuffer own_buffer_;  // next()'s; a scheduler lends its worker's to poll()

  PullView view_;  // the fetch thread's
  IdPieceWriter id_pieces_;  // the fetch thread's (ids_beside_position)
  uint64_t next_token_ = 0;

  mutable std::mutex mu_;  // with the committing thread
  std::deque<PendingCommit> pending_;
  PullState durable_;

  std::chrono::milliseconds current_backoff_{0};
  int consecutive_429_ = 0;
  std::optional<std::chrono::steady_clock::time_point> budget_wait_since_;
  bool budget_wait_on_reset_ = false;
  int consecutive_body_failures_ = 0;
  std::mt19937_64 jitter_{std::random_device{}()};
  bool warned_foreign_link_ = false;
  std::function<void(const std::string&)> report_problem_ = [](const std::string&) {};
  double reread_seconds_ = 0, skipped_seconds_ = 0;
};

// "Basic base64(email/token:token)", "Basic base64(email:password)" or
// "Bearer token".
std::string basic_authorization(const std::string& user, const std::string& secret);
std::string bearer_authorization(const std::string& token);

}  // namespace zf::source
