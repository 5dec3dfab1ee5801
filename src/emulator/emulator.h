#pragma once
// An emulator of the Zendesk Access Logs API (GET /api/v2/access_logs) on
// real HTTP, for tests, benchmarks and the demo: pagination with both
// cursor spellings, auth, the 50-per-minute style rate limit answering 429
// with `ratelimit-reset` in a chosen format, deterministic realistic data,
// live and late events, and injected faults. It records the ground truth
// (every id it has, every id it served) and whether clients honour resets.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulator/webhook_sender.h"

namespace httplib { class Server; }

namespace zf::emulator {

enum class ResetFormat { Rfc3339, HttpDate, EpochSeconds, DeltaSeconds, RetryAfterOnly, None, Garbage };
enum class Fault { ServerError, DropConnection, Slow, TruncatedBody, MalformedJson };

struct Options {
  uint64_t seed = 1;
  size_t events = 10000;                                // historical events present at start
  std::chrono::seconds span{std::chrono::hours(6)};     // spread over [now-span-end_gap, now-end_gap)
  std::chrono::seconds end_gap{120};
  double live_rate = 0;                                 // new events per second while running
  double late_fraction = 0;                             // share of live events stamped in the past...
  std::chrono::seconds late_max{300};                   // ...by up to this much
  bool descending = false;                              // newest first (also ?sort=-created_at)
  int rate_limit = 50;                                  // requests per window; 0 = off
  std::chrono::milliseconds rate_window{60000};
  ResetFormat reset_format = ResetFormat::Rfc3339;
  std::string email = "agent@example.com";
  std::string api_token = "emulator-token";
  std::string password = "emulator-password";
  std::string bearer = "emulator-oauth";
  int force_status = 0;                                 // 401/403/404/500: every API request answers this
  double fault_rate = 0;
  std::vector<Fault> faults;
  std::chrono::milliseconds slow_delay{2000};
  bool awkward = true;                                  // mix in awkward values
  // Compress when the client accepts it, as Zendesk does. Off by default:
  // cpp-httplib's gzip/brotli cost ~0.3-0.8 s per page, which would make
  // the emulator, not the forwarder, the bottleneck of every test.
  bool gzip = false;
  // The account's people, for the Users API (GET /api/v2/users,
  // /api/v2/users/show_many): with agents > 0 every event's actor is one
  // of them, and user profiles accessed are end users'. 0 = actors are
  // random ids, unknown to the Users API.
  size_t agents = 0;
  size_t end_users = 0;
  bool hostile_names = false;  // the first six agents' names attack their reader (dataset.h)
  int users_rate_limit = 700;                            // Users API requests per rate_window; 0 = off
  bool users_down = false;                               // the Users API answers 503
  // The Users API fails every request this way: "500", "503", "429" (with
  // Retry-After: 1), "garbage" (200 with a body that is not a users list);
  // "" = answers normally.
  std::string users_fault;
  // Pushes of live events to a webhook, as Zendesk makes them; also turned
  // on by creating a webhook subscribed to access_log.created through the
  // Webhooks API (its endpoint and signing secret).
  PushOptions push;
  // An account that does not offer the access-log webhook event: creating
  // or updating a webhook subscribed to it answers this status (400 or
  // 422, as Zendesk does for an unknown event type). 0 = offered.
  int refuse_subscription = 0;
};

struct Stats {
  uint64_t requests = 0;         // API requests (admin endpoints excluded)
  uint64_t ok = 0;
  uint64_t rate_limited = 0;
  uint64_t faults_injected = 0;
  uint64_t early_requests = 0;   // requests sent before the reset their client was given
  std::map<int, uint64_t> by_status;
  std::vector<int64_t> arrivals_ms;  // the request log: when each API request arrived, in order
  uint64_t users_requests = 0;       // Users API requests (not in the counts above)
  uint64_t users_rate_limited = 0;
};

// A person of the account, as the Users API shows them.
struct Person {
  int64_t id;
  std::string name, email, role;  // role: "agent", "admin" or "end-user"
};

class Emulator {
 public:
  explicit Emulator(Options options);
  ~Emulator();
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  uint16_t start(const std::string& host = "127.0.0.1", uint16_t port = 0);
  void stop();
  std::string base_url() const;

  std::vector<std::string> ids() const;         // every event that exists now
  std::vector<std::string> served_ids() const;  // every id returned in a 200 page
  // Every event with its timestamp and when the API first listed it (its
  // insertion: the start for historical events, arrival for live ones).
  struct Listed {
    std::string id;
    int64_t ts_ms;
    int64_t visible_ms;
  };
  std::vector<Listed> listing() const;
  Stats stats() const;
  std::vector<Person> people() const;
  PushStats push_stats() const;
  // Runtime changes: rate_limit, rate_window_ms, reset_format, fault_rate,
  // faults, force_status, live_rate, users_down, refuse_subscription (keys as in Options), and
  // push: {url, secret, batch, linger_ms, drop, corrupt, replay, duplicate, retries}.
  void update(const nlohmann::json& patch);

  struct Event {
    int64_t ts_ms;
    std::string id;
    std::string json;
    int64_t user_id;
    std::string path;  // url without query, for filter[path]
    bool served = false;
    int64_t visible_ms = 0;  // when the API first listed it
  };

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A ULID: 48-bit millisecond time and 80 random bits, Crockford base32.
std::string make_ulid(int64_t ms, std::mt19937_64& rng);
std::string to_string(ResetFormat f);
ResetFormat parse_reset_format(const std::string& s);  // throws std::invalid_argument
Fault parse_fault(const std::string& s);               // throws std::invalid_argument

}  // namespace zf::emulator
