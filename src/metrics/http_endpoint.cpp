#include "metrics/http_endpoint.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include <prometheus/text_serializer.h>

#include <nlohmann/json.hpp>

#include "metrics/metrics.h"

namespace zf {


HealthVerdict judge_liveness(const HealthState& h, int64_t now) {
  if (!h.running.load()) return {false, "pipeline stopped"};
  int64_t beat = h.heartbeat_ms.load();
  if (beat > 0 && now - beat > 30'000) return {false, "run loop heartbeat is " + std::to_string((now - beat) / 1000) + "s old"};
  return {true, "alive"};
}

HealthVerdict judge_readiness(const HealthState& h, const ReadinessRules& rules, int64_t now) {
  std::string problem = h.fetch_problem();
  if (!problem.empty()) return {false, problem};
  int64_t fetch_ms = h.last_fetch_ok_ms.load();
  if (fetch_ms <= 0) return {false, "no page fetched yet"};
  int64_t fetch_age = now - fetch_ms;
  if (fetch_age > rules.max_fetch_age.count())
    return {false, "last successful fetch was " + std::to_string(fetch_age / 1000) + "s ago"};
  if (h.inflight_batches.load() > 0) {
    int64_t commit_ms = h.last_commit_ms.load();
    int64_t delivery_age = now - (commit_ms > 0 ? commit_ms : fetch_ms);
    if (delivery_age > rules.max_delivery_age.count())
      return {false, "batches are waiting for the sinks; nothing delivered for " + std::to_string(delivery_age / 1000) + "s"};
  }
  return {true, "fetching and delivering"};
}

HealthVerdict judge_all(const std::vector<NamedHealth>& sources, const ReadinessRules& rules, int64_t now,
                        HealthJudge judge) {
  HealthVerdict all{true, ""};
  for (const auto& s : sources) {
    HealthVerdict v = judge(*s.state, rules, now);
    if (sources.size() > 1) v.reason = "source " + s.source + ": " + v.reason;
    if (v.ok == all.ok) {
      all.reason += (all.reason.empty() ? "" : "; ") + v.reason;
    } else if (!v.ok) {
      all = v;  // the first failing source, then any further ones
    }
  }
  return all;
}

HttpEndpoint::HttpEndpoint(ProcessMetrics& metrics, std::vector<NamedHealth> health, ReadinessRules rules,
                           EndpointLimits limits, const Clock& clock)
    : metrics_(metrics), health_(std::move(health)), clock_(clock), rules_(rules), limits_(std::move(limits)) {}

HttpEndpoint::~HttpEndpoint() { stop(); }

namespace {

net::ServerResponse response(int status, std::string content_type, std::string body) {
  return net::ServerResponse{status, std::move(body), std::move(content_type), {}};
}

std::string verdict_body(const HealthVerdict& v) {
  return nlohmann::json({{"status", v.ok ? "ok" : "unavailable"}, {"reason", v.reason}}).dump();
}

// Compares without an early exit, so the time taken says nothing about
// how much of a guessed token was right.
bool same_secret(std::string_view given, std::string_view secret) {
  if (given.size() != secret.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < secret.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ secret[i]);
  return diff == 0;
}

}  // namespace

std::optional<std::vector<std::string>> readiness_sources(std::string_view query) {
  std::vector<std::string> names;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.rfind("source=", 0) != 0) return std::nullopt;
    part.remove_prefix(7);
    for (;;) {
      size_t comma = part.find(',');
      std::string_view name = part.substr(0, comma);
      if (name.empty()) return std::nullopt;  // "source=", "a,,b", "a,"
      names.emplace_back(name);
      if (comma == std::string_view::npos) break;
      part.remove_prefix(comma + 1);
    }
  }
  if (names.empty()) return std::nullopt;
  return names;
}

net::ServerResponse HttpEndpoint::answer(const net::ServerRequest& req) const {
  // Only GET and HEAD reach here (the server refuses others with 405); a
  // HEAD's body is dropped by the server.
  const std::string& path = req.path;
  if (path == "/healthz" || path == "/readyz") {
    HealthJudge judge = judge_readiness;
    if (path == "/healthz") judge = [](const HealthState& h, const ReadinessRules&, int64_t now) { return judge_liveness(h, now); };
    // ?source=NAME[,NAME...]: only those sources, so the Service that
    // carries the webhook routes on the push source's health and not on a
    // pull account's (a revoked token must not take pushes offline).
    std::vector<NamedHealth> judged = health_;
    if (!req.query.empty()) {
      auto names = readiness_sources(req.query);
      if (!names) return response(400, "text/plain", "the only parameter is source=NAME[,NAME...]\n");
      judged.clear();
      for (const auto& name : *names) {
        auto it = std::find_if(health_.begin(), health_.end(), [&](const NamedHealth& h) { return h.source == name; });
        if (it == health_.end()) {
          std::string known;
          for (const auto& h : health_) known += (known.empty() ? "" : ", ") + h.source;
          return response(404, "application/json",
                          verdict_body({false, "no source named " + name.substr(0, 64) + " (sources: " + known + ")"}));
        }
        judged.push_back(*it);
      }
    }
    HealthVerdict v = judge_all(judged, rules_, clock_.now_ms(), judge);
    if (path == "/readyz" && req.query.empty() && rules_.membership) {
      std::string why = rules_.membership();
      if (!why.empty()) v = {false, why};
      else if (v.reason.empty()) v.reason = "coordination member with an assignment";
    }
    return response(v.ok ? 200 : 503, "application/json", verdict_body(v));
  }
  if (path == "/metrics") {
    if (!limits_.metrics_token.empty()) {
      std::string auth = req.header("authorization");
      if (auth.rfind("Bearer ", 0) != 0 || !same_secret(std::string_view(auth).substr(7), limits_.metrics_token)) {
        auto refused = response(401, "text/plain", "a bearer token is required (metrics.auth_token)\n");
        refused.headers.emplace_back("WWW-Authenticate", "Bearer");
        return refused;
      }
    }
    prometheus::TextSerializer serializer;
    return response(200, "text/plain; version=0.0.4; charset=utf-8", serializer.Serialize(metrics_.registry().Collect()));
  }
  return response(404, "text/plain", "/metrics, /healthz, /readyz\n");
}

std::string HttpEndpoint::start(const std::string& listen) {
  size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  net::ListenerSettings s;
  s.name = "metrics.listen";
  s.host = host;
  try {
    s.port = static_cast<uint16_t>(std::stoul(listen.substr(colon + 1)));
  } catch (const std::exception&) {
    throw std::runtime_error("metrics.listen: no port in " + listen + " (host:port)");
  }
  s.methods = {"GET", "HEAD"};
  s.keep_alive = false;  // a probe or a scrape is one request: no slot held between them
  s.max_connections = limits_.max_connections;
  s.request_timeout = limits_.request_deadline;
  s.max_head_bytes = limits_.max_request_bytes;
  s.max_body_bytes = limits_.max_request_bytes;  // GETs carry none; one sent anyway is read and ignored
  // Every connection's head and body at once, with room for the doubling
  // of a growing head buffer.
  s.max_buffered_bytes = limits_.max_connections * 2 * (s.max_head_bytes + 4 + s.max_body_bytes);
  s.workers = 2;  // answers take microseconds; two keep a scrape from delaying a probe
  s.max_waiting = limits_.max_connections;
  server_ = std::make_unique<net::HttpListener>(
      s, [this](const net::ServerRequest& req) { return answer(req); }, nullptr);
  uint16_t port = server_->start();
  return host + ":" + std::to_string(port);
}

void HttpEndpoint::stop() { server_.reset(); }

}  // namespace zf
