#pragma once
// The operator's window: /metrics (Prometheus text format), /healthz (the
// process loop is alive) and /readyz (fetching and delivering recently
// enough), each answering 200 or 503 with a short JSON reason.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace httplib { class Server; }

namespace zf {

class Metrics;

struct ReadinessRules {
  std::chrono::milliseconds max_fetch_age{300'000};
  std::chrono::milliseconds max_delivery_age{300'000};
};

// Liveness and readiness facts that do not live in metrics.
struct HealthState {
  std::atomic<int64_t> heartbeat_ms{0};     // updated by the run loop's ticker
  std::atomic<bool> running{true};          // false once the pipeline stopped
  std::atomic<int64_t> started_ms{0};

  // Why the API does not serve pages right now (refused credentials, no
  // cursor to go on), "" while it does; set by the source.
  void set_fetch_problem(std::string why) {
    std::lock_guard lock(mu_);
    fetch_problem_ = std::move(why);
  }
  std::string fetch_problem() const {
    std::lock_guard lock(mu_);
    return fetch_problem_;
  }

 private:
  mutable std::mutex mu_;
  std::string fetch_problem_;
};

struct HealthVerdict {
  bool ok;
  std::string reason;
};
// Pure, so it is unit-testable with synthetic values.
HealthVerdict judge_liveness(const HealthState& h, int64_t now_ms);
HealthVerdict judge_readiness(const Metrics& m, const ReadinessRules& rules, int64_t now_ms,
                              const std::string& fetch_problem = "");

class HttpEndpoint {
 public:
  HttpEndpoint(Metrics& metrics, HealthState& health, ReadinessRules rules);
  ~HttpEndpoint();
  // Binds "host:port" (port 0 picks one) and serves on a thread; returns
  // the bound "host:port". Throws std::runtime_error when it cannot bind.
  std::string start(const std::string& listen);
  void stop();

 private:
  Metrics& metrics_;
  HealthState& health_;
  ReadinessRules rules_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace zf
