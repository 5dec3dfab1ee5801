#pragma once
// Names for the user ids of access events, from the Zendesk Users API
// (GET /api/v2/users/show_many, 100 ids a request), cached with a TTL and a
// size bound, under a request budget of its own (the access logs' 50 a
// minute are not spent on names). Lookups never hold delivery up: when the
// budget is spent, the API refuses, fails or is slow, the ids stay unknown
// for now and the records go out without names.
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/people.h"
#include "core/stop_signal.h"
#include "net/http_client.h"
#include "sources/zendesk_pull/rate_limiter.h"

namespace zf {
class Logger;
}

namespace zf::enrich {

struct DirectorySettings {
  std::string base_url;       // "https://acme.zendesk.com"
  std::string authorization;  // the Authorization header value (a secret)
  net::HttpSettings http;  // a short total timeout: a slow Users API must not slow delivery
  int budget_requests = 100;
  std::chrono::milliseconds budget_period{60'000};
  std::chrono::seconds ttl{3600};          // a renamed agent shows the new name after this
  size_t max_entries = 100'000;            // oldest dropped beyond this
  std::chrono::seconds failure_pause{30};  // after a failure, no request for this long
};

struct DirectoryStats {
  uint64_t hits = 0, misses = 0;   // ids asked for: cached, or not
  uint64_t requests = 0;           // show_many requests sent
  uint64_t failures = 0;           // of which failed (status, transport, bad body)
  uint64_t rate_limited = 0;       // of which 429
  uint64_t unresolved = 0;         // ids left unknown by a resolve (budget, failure)
  uint64_t gave_up = 0;            // waiting resolves that stopped at their max_wait
  std::string last_failure;        // the last failure: "HTTP 500", "HTTP 429", "a body without a users list", a transport error
};

class UserDirectory final : public PeopleLookup {
 public:
  UserDirectory(DirectorySettings settings, Logger& log, const Clock& clock = real_clock());

  // Fetches the ids the cache lacks (or holds expired). `wait`: wait for
  // the budget (an export) rather than give up on it (a live pipeline).
  // Returns how many of `ids` remain unknown. A waiting resolve retries a
  // failing API with a growing pause (1 s doubling to 30 s) and gives up
  // when it has failed for `max_wait` with no success in between (0 = no
  // bound), or when a 429 asks it to wait beyond that.
  size_t resolve(const std::vector<std::string>& ids, bool wait, StopSignal& stop,
                 std::chrono::milliseconds max_wait = std::chrono::milliseconds::zero());
  const PersonInfo* find(std::string_view user_id) const override;
  // True when the API answered for this id (listed it, or did not: a
  // deleted user); false when it was never asked or its request failed.
  bool answered(std::string_view user_id) const { return cache_.count(std::string(user_id)) > 0; }

  const DirectoryStats& stats() const { return stats_; }
  size_t size() const { return cache_.size(); }

 private:
  struct Entry {
    PersonInfo person;
    bool known = false;  // the API answered and did not list the id (a deleted user)
    int64_t fetched_ms = 0;
  };
  // One show_many request; false when it failed.
  bool fetch(const std::vector<std::string>& batch, StopSignal& stop);
  void store(const std::string& id, Entry entry);

  DirectorySettings settings_;
  Logger& log_;
  const Clock& clock_;
  net::HttpClient http_;
  source::RateLimiter limiter_;
  std::unordered_map<std::string, Entry> cache_;
  std::deque<std::string> order_;  // insertion order, for the size bound
  int64_t paused_until_ms_ = 0;
  DirectoryStats stats_;
};

}  // namespace zf::enrich
