#include "metrics/http_endpoint.h"

#include <httplib.h>

#include <prometheus/text_serializer.h>

#include <nlohmann/json.hpp>

#include "metrics/metrics.h"

namespace zf {

namespace {
int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

HealthVerdict judge_liveness(const HealthState& h, int64_t now) {
  if (!h.running.load()) return {false, "pipeline stopped"};
  int64_t beat = h.heartbeat_ms.load();
  if (beat > 0 && now - beat > 30'000) return {false, "run loop heartbeat is " + std::to_string((now - beat) / 1000) + "s old"};
  return {true, "alive"};
}

HealthVerdict judge_readiness(const Metrics& cm, const ReadinessRules& rules, int64_t now,
                              const std::string& fetch_problem) {
  if (!fetch_problem.empty()) return {false, fetch_problem};
  auto& m = const_cast<Metrics&>(cm);  // prometheus-cpp getters are not const
  double fetch_s = m.last_fetch_success_ts.Value();
  if (fetch_s <= 0) return {false, "no page fetched yet"};
  int64_t fetch_age = now - static_cast<int64_t>(fetch_s * 1000);
  if (fetch_age > rules.max_fetch_age.count())
    return {false, "last successful fetch was " + std::to_string(fetch_age / 1000) + "s ago"};
  if (m.inflight_batches.Value() > 0) {
    double commit_s = m.checkpoint_last_commit_ts.Value();
    double since = commit_s > 0 ? commit_s : fetch_s;
    int64_t delivery_age = now - static_cast<int64_t>(since * 1000);
    if (delivery_age > rules.max_delivery_age.count())
      return {false, "batches are waiting for the sinks; nothing delivered for " + std::to_string(delivery_age / 1000) + "s"};
  }
  return {true, "fetching and delivering"};
}

HttpEndpoint::HttpEndpoint(Metrics& metrics, HealthState& health, ReadinessRules rules)
    : metrics_(metrics), health_(health), rules_(rules), server_(std::make_unique<httplib::Server>()) {
  auto verdict = [](httplib::Response& res, const HealthVerdict& v) {
    res.status = v.ok ? 200 : 503;
    res.set_content(nlohmann::json({{"status", v.ok ? "ok" : "unavailable"}, {"reason", v.reason}}).dump(),
                    "application/json");
  };
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    prometheus::TextSerializer serializer;
    res.set_content(serializer.Serialize(metrics_.registry().Collect()), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/healthz", [this, verdict](const httplib::Request&, httplib::Response& res) {
    verdict(res, judge_liveness(health_, now_ms()));
  });
  server_->Get("/readyz", [this, verdict](const httplib::Request&, httplib::Response& res) {
    verdict(res, judge_readiness(metrics_, rules_, now_ms(), health_.fetch_problem()));
  });
}

HttpEndpoint::~HttpEndpoint() { stop(); }

std::string HttpEndpoint::start(const std::string& listen) {
  size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int port = std::stoi(listen.substr(colon + 1));
  if (port == 0) {
    port = server_->bind_to_any_port(host);
  } else if (!server_->bind_to_port(host, port)) {
    port = -1;
  }
  if (port < 0) throw std::runtime_error("metrics.listen: cannot listen on " + listen + " (in use, or not a local address?)");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return host + ":" + std::to_string(port);
}

void HttpEndpoint::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace zf
