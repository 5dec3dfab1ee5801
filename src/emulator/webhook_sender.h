#pragma once
// Zendesk's side of an access-log webhook: signs and POSTs the emulator's new
// events as zen:event-type:access_log.created requests, retries as Zendesk
// does, and can be told to misbehave as Zendesk (or the network between) can:
// drop pushes, corrupt signatures, replay old requests, send duplicates.
// It records what push delivered and what it lost, so a test can compare
// the forwarder's measured push loss with the truth.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace zf::emulator {

struct PushOptions {
  std::string url;     // e.g. http://127.0.0.1:8443/zendesk/access-logs; "" = no pushes
  std::string secret;  // the webhook's signing secret
  // Events per request at most, and how long a request waits for more.
  size_t batch = 100;
  std::chrono::milliseconds linger{100};
  double drop = 0;       // share of requests never sent
  double corrupt = 0;    // share sent with a wrong signature (401: not retried)
  double replay = 0;     // share of requests after which an older one is re-sent as it was signed then
  double duplicate = 0;  // share of requests sent twice
  // Share of requests held back `late_delay` before their first attempt, as
  // Zendesk's queue sometimes does: the pull source may ship them first.
  double late = 0;
  std::chrono::milliseconds late_delay{60'000};
  // Like Zendesk: 409 is retried up to `retries` times; 429 and 503 too,
  // after Retry-After when it is at most 60 s. Anything else is final.
  int retries = 3;
  size_t senders = 4;  // requests in flight at once
  std::chrono::milliseconds timeout{12000};
};

struct PushStats {
  uint64_t requests = 0;  // every POST made, retries and replays included
  std::map<int, uint64_t> by_status;  // 0: no answer (connection failed, timeout)
  uint64_t events = 0;              // events made while pushing was on
  uint64_t events_acknowledged = 0; // in a request answered 2xx
  uint64_t events_dropped = 0;      // in a dropped request
  uint64_t events_corrupted = 0;    // in a request sent only with a wrong signature
  uint64_t events_given_up = 0;     // retries exhausted or a final error
  uint64_t retries = 0, replays = 0, duplicates = 0, late = 0;
  std::vector<double> ack_latency_s;  // per acknowledged event: made -> 2xx
};

class WebhookSender {
 public:
  WebhookSender(PushOptions options, uint64_t seed);
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // New events, as the API lists them; made_ms: when Zendesk made them.
  void push(const std::vector<std::string>& events_json, int64_t made_ms);
  PushStats stats() const;
  // url, secret, batch, linger_ms, drop, corrupt, replay, duplicate, late, late_delay_ms, retries.
  void update(const nlohmann::json& patch);
  bool active() const;

 private:
  struct Request {
    std::string body, timestamp, signature;
    size_t events = 0;
    int64_t made_ms = 0;
    int attempt = 0;
    bool corrupted = false, copy = false;  // copy: a duplicate or replay, not counted as the events' delivery
  };
  void batch_loop();
  void send_loop();
  void seal(std::vector<nlohmann::json> events, int64_t made_ms);  // under mu_
  void finish(Request& r, int status, int retry_after_s);

  PushOptions opts_;
  mutable std::mutex mu_;
  std::condition_variable work_;
  std::mt19937_64 rng_;
  bool stopping_ = false;
  std::vector<nlohmann::json> open_;  // the request being filled
  int64_t open_made_ms_ = 0;
  std::chrono::steady_clock::time_point open_since_;
  std::multimap<std::chrono::steady_clock::time_point, Request> due_;  // to send, by when
  std::deque<Request> sent_;  // recent requests as sent, for replays
  PushStats stats_;
  std::thread batcher_;
  std::vector<std::thread> senders_;
};

}  // namespace zf::emulator
