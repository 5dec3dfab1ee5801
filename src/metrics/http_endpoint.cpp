#include "metrics/http_endpoint.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
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

std::string http_response(int status, const std::string& reason, const std::string& type, const std::string& body,
                          bool head_only, const std::string& extra_headers = "") {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + type +
                    "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n" +
                    extra_headers + "\r\n";
  if (!head_only) out += body;
  return out;
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

std::string header_value(const std::string& head, const std::string& lower_name) {
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    size_t end = head.find("\r\n", pos + 2);
    std::string line = head.substr(pos + 2, end == std::string::npos ? std::string::npos : end - pos - 2);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      if (name == lower_name) {
        std::string v = line.substr(colon + 1);
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.erase(v.begin());
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
        return v;
      }
    }
    pos = end;
  }
  return "";
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

std::string HttpEndpoint::answer(const std::string& head) {
  std::string line = head.substr(0, head.find("\r\n"));
  size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string::npos || sp2 <= sp1) return http_response(400, "Bad Request", "text/plain", "bad request\n", false);
  std::string method = line.substr(0, sp1);
  std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string query = path.find('?') == std::string::npos ? "" : path.substr(path.find('?') + 1);
  path = path.substr(0, path.find('?'));
  bool head_only = method == "HEAD";
  if (method != "GET" && !head_only)
    return http_response(405, "Method Not Allowed", "text/plain", "GET only\n", false, "Allow: GET, HEAD\r\n");
  if (path == "/healthz" || path == "/readyz") {
    HealthJudge judge = judge_readiness;
    if (path == "/healthz") judge = [](const HealthState& h, const ReadinessRules&, int64_t now) { return judge_liveness(h, now); };
    // ?source=NAME[,NAME...]: only those sources, so the Service that
    // carries the webhook routes on the push source's health and not on a
    // pull account's (a revoked token must not take pushes offline).
    std::vector<NamedHealth> judged = health_;
    if (!query.empty()) {
      auto names = readiness_sources(query);
      if (!names) return http_response(400, "Bad Request", "text/plain", "the only parameter is source=NAME[,NAME...]\n", false);
      judged.clear();
      for (const auto& name : *names) {
        auto it = std::find_if(health_.begin(), health_.end(), [&](const NamedHealth& h) { return h.source == name; });
        if (it == health_.end()) {
          std::string known;
          for (const auto& h : health_) known += (known.empty() ? "" : ", ") + h.source;
          return http_response(404, "Not Found", "application/json",
                               verdict_body({false, "no source named " + name.substr(0, 64) + " (sources: " + known + ")"}),
                               head_only);
        }
        judged.push_back(*it);
      }
    }
    HealthVerdict v = judge_all(judged, rules_, clock_.now_ms(), judge);
    return http_response(v.ok ? 200 : 503, v.ok ? "OK" : "Service Unavailable", "application/json", verdict_body(v),
                         head_only);
  }
  if (path == "/metrics") {
    if (!limits_.metrics_token.empty()) {
      std::string auth = header_value(head, "authorization");
      if (auth.rfind("Bearer ", 0) != 0 || !same_secret(auth.substr(7), limits_.metrics_token))
        return http_response(401, "Unauthorized", "text/plain", "a bearer token is required (metrics.auth_token)\n",
                             false, "WWW-Authenticate: Bearer\r\n");
    }
    prometheus::TextSerializer serializer;
    return http_response(200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                         serializer.Serialize(metrics_.registry().Collect()), head_only);
  }
  return http_response(404, "Not Found", "text/plain", "/metrics, /healthz, /readyz\n", head_only);
}

struct HttpEndpoint::Conn {
  int fd;
  std::chrono::steady_clock::time_point deadline;
  std::string in, out;
  size_t sent = 0;
};

std::string HttpEndpoint::start(const std::string& listen) {
  size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  std::string port = listen.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found) != 0 || !found)
    throw std::runtime_error("metrics.listen: cannot resolve " + listen);
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, freeaddrinfo);
  listen_fd_ = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (listen_fd_ < 0 || ::bind(listen_fd_, found->ai_addr, found->ai_addrlen) != 0 || ::listen(listen_fd_, 128) != 0) {
    std::string why = std::strerror(errno);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
    throw std::runtime_error("metrics.listen: cannot listen on " + listen + ": " + why +
                             " (in use, or not a local address?)");
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  int bound_port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                     : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  if (::pipe2(wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("metrics: pipe failed");
  thread_ = std::thread([this] { loop(); });
  return host + ":" + std::to_string(bound_port);
}

void HttpEndpoint::loop() {
  std::deque<Conn> conns;  // oldest first
  auto drop = [&](size_t i) {
    ::close(conns[i].fd);
    conns.erase(conns.begin() + static_cast<long>(i));
  };
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    for (size_t i = conns.size(); i-- > 0;)
      if (conns[i].deadline <= now) drop(i);
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    for (const auto& c : conns) fds.push_back({c.fd, static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
    int timeout_ms = 1000;
    for (const auto& c : conns)
      timeout_ms = std::min<int>(timeout_ms, static_cast<int>(std::max<int64_t>(
          1, std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now).count())));
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) break;
    if (fds[1].revents) break;  // stop()
    // Serve connections before accepting, so a flood of new ones cannot
    // push out a request that is ready.
    for (size_t i = conns.size(); i-- > 0;) {
      short ev = fds[i + 2].revents;
      if (!ev) continue;
      Conn& c = conns[i];
      if (c.out.empty()) {
        char buf[4096];
        ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n <= 0) {
          if (n == 0 || (errno != EAGAIN && errno != EINTR)) drop(i);
          continue;
        }
        c.in.append(buf, static_cast<size_t>(n));
        size_t end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) {
          if (c.in.size() > limits_.max_request_bytes) {
            c.out = http_response(431, "Request Header Fields Too Large", "text/plain", "request too large\n", false);
          }
          continue;
        }
        c.out = answer(c.in.substr(0, end + 2));
      }
      ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        drop(i);
        continue;
      }
      if (n > 0) c.sent += static_cast<size_t>(n);
      if (c.sent == c.out.size()) drop(i);
    }
    if (fds[0].revents & POLLIN) {
      for (;;) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        if (conns.size() >= limits_.max_connections) drop(0);
        conns.push_back({fd, std::chrono::steady_clock::now() + limits_.request_deadline, {}, {}, 0});
      }
    }
  }
  for (auto& c : conns) ::close(c.fd);
}

void HttpEndpoint::stop() {
  if (thread_.joinable()) {
    char x = 1;
    (void)!::write(wake_fds_[1], &x, 1);
    thread_.join();
  }
  for (int* fd : {&listen_fd_, &wake_fds_[0], &wake_fds_[1]})
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
}

}  // namespace zf
