#pragma once
// The operator's window: /metrics (Prometheus text format), /healthz (the
// process loop is alive) and /readyz (fetching and delivering recently
// enough), each answering 200 or 503 with a short JSON reason. Both judge
// every source, or only those named: /readyz?source=push. Served by the
// one HTTP server (net/http_listener.h): the same strict, fuzzed head
// parser, memory budget and deadlines as the webhook.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "net/http_listener.h"

namespace zf {

class ProcessMetrics;

struct ReadinessRules {
  std::chrono::milliseconds max_fetch_age{300'000};
  std::chrono::milliseconds max_delivery_age{300'000};
  // With coordination: why this replica is not a member with an assignment
  // ("" when it is); /readyz without ?source= fails while it says so.
  std::function<std::string()> membership;
};

// The facts liveness and readiness are judged on, kept here rather than
// read back from metrics: gauges are for Prometheus, not for decisions.
struct HealthState {
  std::atomic<int64_t> heartbeat_ms{0};     // updated by the run loop's ticker
  std::atomic<bool> running{true};          // false once the pipeline stopped
  std::atomic<int64_t> started_ms{0};
  std::atomic<int64_t> last_fetch_ok_ms{0};  // the last page the API served
  std::atomic<int64_t> last_commit_ms{0};    // the last checkpoint write
  std::atomic<int64_t> inflight_batches{0};  // shipped, not yet acknowledged by every sink

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
HealthVerdict judge_readiness(const HealthState& h, const ReadinessRules& rules, int64_t now_ms);

// One source's health. The process is alive and ready only when every
// source is; the reason names the source that is not.
struct NamedHealth {
  std::string source;
  HealthState* state;
};
using HealthJudge = HealthVerdict (*)(const HealthState&, const ReadinessRules&, int64_t);
HealthVerdict judge_all(const std::vector<NamedHealth>& sources, const ReadinessRules& rules, int64_t now_ms,
                        HealthJudge judge);
// The sources a probe names: "source=a,b" or "source=a&source=b" (the
// query of /readyz or /healthz); nullopt for anything else.
std::optional<std::vector<std::string>> readiness_sources(std::string_view query);

// What a client may cost the endpoint. Kubernetes probes it every few
// seconds and restarts the pod when it does not answer, so a client that
// trickles bytes must not be able to hold it: every request has an
// absolute deadline from accept to its last byte (answered 408 and closed
// past it), no thread waits on a client that is still sending, and when
// all connections are taken the one idle longest is dropped for the new one.
struct EndpointLimits {
  size_t max_connections = 64;
  std::chrono::milliseconds request_deadline{2000};
  size_t max_request_bytes = 8192;  // the request head; beyond: 431
  std::string metrics_token;  // when set, /metrics needs "Authorization: Bearer <token>"
};

class HttpEndpoint {
 public:
  HttpEndpoint(ProcessMetrics& metrics, std::vector<NamedHealth> health, ReadinessRules rules, EndpointLimits limits = {},
               const Clock& clock = real_clock());
  ~HttpEndpoint();
  // Binds "host:port" (port 0 picks one) and serves on threads; returns
  // the bound "host:port". Throws FatalError (a std::runtime_error) when it
  // cannot bind.
  std::string start(const std::string& listen);
  void stop();

  // The answer to one request the server accepted (GET or HEAD, head
  // complete).
  net::ServerResponse answer(const net::ServerRequest& req) const;

 private:
  ProcessMetrics& metrics_;
  std::vector<NamedHealth> health_;
  const Clock& clock_;
  ReadinessRules rules_;
  EndpointLimits limits_;
  std::unique_ptr<net::HttpListener> server_;
};

}  // namespace zf
