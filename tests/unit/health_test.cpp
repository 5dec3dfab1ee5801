// Liveness and readiness verdicts on synthetic values.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "metrics/http_endpoint.h"
#include "metrics/metrics.h"
#include "sources/zendesk_pull/pull_metrics.h"

#include <prometheus/text_serializer.h>

using namespace zf;

TEST_CASE("readiness: not ready before the first fetch, ready while fetching and delivering") {
  HealthState h;
  ReadinessRules rules{std::chrono::seconds(300), std::chrono::seconds(300)};
  int64_t now = 2'000'000'000'000;
  CHECK_FALSE(judge_readiness(h, rules, now).ok);
  h.last_fetch_ok_ms = now - 10'000;
  CHECK(judge_readiness(h, rules, now).ok);
}

TEST_CASE("readiness: turns unavailable when fetching stalls or a sink holds batches too long") {
  HealthState h;
  ReadinessRules rules{std::chrono::seconds(300), std::chrono::seconds(60)};
  int64_t now = 2'000'000'000'000;
  h.last_fetch_ok_ms = now - 400'000;
  auto v = judge_readiness(h, rules, now);
  CHECK_FALSE(v.ok);
  CHECK(v.reason.find("fetch") != std::string::npos);
  h.last_fetch_ok_ms = now - 5'000;
  h.inflight_batches = 3;
  h.last_commit_ms = now - 120'000;
  v = judge_readiness(h, rules, now);
  CHECK_FALSE(v.ok);
  CHECK(v.reason.find("waiting for the sinks") != std::string::npos);
  h.last_commit_ms = now - 1'000;
  CHECK(judge_readiness(h, rules, now).ok);
}

TEST_CASE("liveness: alive while the loop beats, not once the pipeline stopped") {
  HealthState h;
  int64_t now = 2'000'000'000'000;
  h.heartbeat_ms = now - 1000;
  CHECK(judge_liveness(h, now).ok);
  h.heartbeat_ms = now - 60'000;
  CHECK_FALSE(judge_liveness(h, now).ok);
  h.heartbeat_ms = now;
  h.running = false;
  CHECK_FALSE(judge_liveness(h, now).ok);
}

TEST_CASE("readiness (#9): a refusal reported by the source makes /readyz unavailable with that reason") {
  HealthState h;
  ReadinessRules rules{std::chrono::seconds(300), std::chrono::seconds(300)};
  int64_t now = 2'000'000'000'000;
  h.last_fetch_ok_ms = now - 10'000;  // a page fetched just before the token was revoked
  h.set_fetch_problem("HTTP 401: credentials were rejected");
  auto v = judge_readiness(h, rules, now);
  CHECK_FALSE(v.ok);
  CHECK(v.reason == "HTTP 401: credentials were rejected");
  h.set_fetch_problem("");
  CHECK(judge_readiness(h, rules, now).ok);
}

namespace {

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// One request, the whole answer (the server closes after it); "" on timeout.
std::string ask(int port, const std::string& request, int timeout_ms = 1000) {
  int fd = connect_to(port);
  if (fd < 0) return "";
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

}  // namespace

TEST_CASE("endpoint (#3): probes are answered while 200 clients trickle requests that never end") {
  ProcessMetrics process_metrics("test");
  HealthState h;  // no heartbeat yet: alive
  HttpEndpoint endpoint(process_metrics, {{"zendesk", &h}}, {});
  std::string bound = endpoint.start("127.0.0.1:0");
  int port = std::stoi(bound.substr(bound.rfind(':') + 1));
  std::vector<int> slow;
  for (int i = 0; i < 200; ++i) {
    int fd = connect_to(port);
    REQUIRE(fd >= 0);
    ::send(fd, "GET /he", 7, MSG_NOSIGNAL);
    slow.push_back(fd);
  }
  // cpp-httplib's 8 workers were all held by 8 such clients for 40 s.
  for (int round = 0; round < 5; ++round) {
    for (int fd : slow) ::send(fd, "a", 1, MSG_NOSIGNAL);  // one more byte each: a restarting read timeout
    auto t0 = std::chrono::steady_clock::now();
    std::string answer = ask(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    CAPTURE(round);
    CHECK(answer.rfind("HTTP/1.1 200 OK", 0) == 0);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(500));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  for (int fd : slow) ::close(fd);
}

TEST_CASE("endpoint (#3): /metrics can require a bearer token; bad methods, paths and huge requests are refused") {
  ProcessMetrics process_metrics("test");
  HealthState h;
  EndpointLimits limits;
  limits.metrics_token = "scrape-secret";
  HttpEndpoint endpoint(process_metrics, {{"zendesk", &h}}, {}, limits);
  std::string bound = endpoint.start("127.0.0.1:0");
  int port = std::stoi(bound.substr(bound.rfind(':') + 1));
  CHECK(ask(port, "GET /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 401", 0) == 0);
  CHECK(ask(port, "GET /metrics HTTP/1.1\r\nAuthorization: Bearer wrong-secret\r\n\r\n").rfind("HTTP/1.1 401", 0) == 0);
  std::string ok = ask(port, "GET /metrics HTTP/1.1\r\nauthorization: Bearer scrape-secret\r\n\r\n");
  CHECK(ok.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(ok.find("zendesk_forwarder_build_info") != std::string::npos);
  CHECK(ask(port, "GET /readyz HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 503", 0) == 0);  // probes need no token
  CHECK(ask(port, "POST /healthz HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0) == 0);
  CHECK(ask(port, "GET /other HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0) == 0);
  CHECK(ask(port, "GET /healthz HTTP/1.1\r\nX: " + std::string(10000, 'a')).rfind("HTTP/1.1 431", 0) == 0);
  // A client that never finishes its request is answered 408 and closed
  // at the deadline.
  int fd = connect_to(port);
  ::send(fd, "GET /healthz", 12, MSG_NOSIGNAL);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto t0 = std::chrono::steady_clock::now();
  std::string late;
  char buf[512];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) late.append(buf, static_cast<size_t>(n));
  CHECK(n == 0);  // closed by the server
  CHECK(late.rfind("HTTP/1.1 408", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(4));
  ::close(fd);
}

TEST_CASE("endpoint (#28): the metrics endpoint parses heads with the webhook's strict, fuzzed parser") {
  ProcessMetrics process_metrics("test");
  HealthState h;
  HttpEndpoint endpoint(process_metrics, {{"zendesk", &h}}, {});
  std::string bound = endpoint.start("127.0.0.1:0");
  int port = std::stoi(bound.substr(bound.rfind(':') + 1));
  CHECK(ask(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 200 OK", 0) == 0);
  // The old endpoint's own parser answered these (200, 404): a head two parsers
  // read differently is how a request is smuggled past a proxy.
  CHECK(ask(port, "GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  CHECK(ask(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  CHECK(ask(port, "GET /healthz HTTP/1.1\nHost: x\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  CHECK(ask(port, "GET /healthz HTTP/2.0\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  CHECK(ask(port, "GET healthz HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  // A refused method says which are allowed, from the head alone.
  std::string post = ask(port, "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
  CHECK(post.rfind("HTTP/1.1 405", 0) == 0);
  CHECK(post.find("Allow: GET, HEAD\r\n") != std::string::npos);
  // HEAD: the GET's status and length, no body.
  std::string get = ask(port, "GET /healthz HTTP/1.1\r\n\r\n");
  std::string head = ask(port, "HEAD /healthz HTTP/1.1\r\n\r\n");
  REQUIRE(get.find("\r\n\r\n") != std::string::npos);
  CHECK(head.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(head == get.substr(0, get.find("\r\n\r\n") + 4));
  // One request per connection: the answer closes it even when asked to keep it.
  CHECK(ask(port, "GET /healthz HTTP/1.1\r\nConnection: keep-alive\r\n\r\n").find("Connection: close\r\n") !=
        std::string::npos);
}

TEST_CASE("endpoint (#13): /readyz and /healthz judge by the injected clock, not the machine's") {
  ProcessMetrics process_metrics("test");
  HealthState h;
  ManualClock clock(2'000'000'000'000);
  HttpEndpoint endpoint(process_metrics, {{"zendesk", &h}}, {std::chrono::seconds(300), std::chrono::seconds(300)}, {}, clock);
  std::string bound = endpoint.start("127.0.0.1:0");
  int port = std::stoi(bound.substr(bound.rfind(':') + 1));
  h.last_fetch_ok_ms = clock.now_ms();
  h.heartbeat_ms = clock.now_ms();
  CHECK(ask(port, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 200", 0) == 0);
  // Five minutes pass in an instant: the last fetch is now too old, and
  // the run loop's heartbeat too.
  clock.advance(std::chrono::seconds(301));
  std::string ready = ask(port, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(ready.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(ready.find("last successful fetch was 301s ago") != std::string::npos);
  CHECK(ask(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 503", 0) == 0);
  endpoint.stop();
}

TEST_CASE("health (#13): with several sources the process is ready only when every source is, and says which is not") {
  int64_t now = 2'000'000'000'000;
  ReadinessRules rules{std::chrono::seconds(300), std::chrono::seconds(300)};
  HealthState a, b;
  a.last_fetch_ok_ms = now - 1000;
  b.last_fetch_ok_ms = now - 1000;
  std::vector<NamedHealth> both{{"acme", &a}, {"globex", &b}};
  CHECK(judge_all(both, rules, now, judge_readiness).ok);

  b.set_fetch_problem("the API refused the credentials (401)");
  HealthVerdict v = judge_all(both, rules, now, judge_readiness);
  CHECK_FALSE(v.ok);
  CHECK(v.reason == "source globex: the API refused the credentials (401)");

  // One source alone keeps today's reasons, without a source prefix.
  std::vector<NamedHealth> one{{"zendesk", &b}};
  CHECK(judge_all(one, rules, now, judge_readiness).reason == "the API refused the credentials (401)");
}

TEST_CASE("metrics (#13): each source's series carry its source and account labels, one family per name") {
  ProcessMetrics process("test");
  Metrics acme(process, "acme", "acme");
  Metrics globex(process, "globex-eu", "globex");
  PullMetrics acme_pull(process, "acme", "acme");
  acme.events_fetched.Increment(7);
  globex.events_fetched.Increment(3);
  acme_pull.api_requests("2xx").Increment();
  acme.sink("kafka").events_delivered.Increment(7);
  globex.sink("kafka").events_delivered.Increment(3);
  std::string text = prometheus::TextSerializer().Serialize(process.registry().Collect());
  CAPTURE(text);
  CHECK(text.find("zendesk_forwarder_events_fetched_total{account=\"acme\",source=\"acme\"} 7") != std::string::npos);
  CHECK(text.find("zendesk_forwarder_events_fetched_total{account=\"globex\",source=\"globex-eu\"} 3") !=
        std::string::npos);
  CHECK(text.find("zendesk_forwarder_api_requests_total{account=\"acme\",source=\"acme\",status_class=\"2xx\"} 1") !=
        std::string::npos);
  CHECK(text.find("zendesk_forwarder_events_delivered_total{account=\"globex\",sink=\"kafka\",source=\"globex-eu\"} 3") !=
        std::string::npos);
  // A second source adds series to the same family, not a second family.
  size_t helps = 0;
  for (size_t at = 0; (at = text.find("# HELP zendesk_forwarder_events_fetched_total ", at)) != std::string::npos; ++at)
    ++helps;
  CHECK(helps == 1);
  CHECK(text.find("process_open_fds") != std::string::npos);
}

TEST_CASE("metrics (#26.3): a source exports only its type's series: no pull series without a pull source") {
  ProcessMetrics process("test");
  Metrics push(process, "push", "acme");
  push.webhook_requests("accepted").Increment();
  push.webhook_ack_latency().Observe(0.02);
  std::string text = prometheus::TextSerializer().Serialize(process.registry().Collect());
  CAPTURE(text);
  CHECK(text.find("zendesk_forwarder_webhook_requests_total{account=\"acme\",outcome=\"accepted\",source=\"push\"} 1") !=
        std::string::npos);
  CHECK(text.find("retention_margin") == std::string::npos);  // a 0 here fired RetentionEdge
  CHECK(text.find("zendesk_forwarder_api_requests_total") == std::string::npos);
  CHECK(text.find("late_read") == std::string::npos);

  PullMetrics pull(process, "pull", "acme");
  Metrics pull_common(process, "pull", "acme");
  pull.retention_margin.Set(86400 * 80);
  text = prometheus::TextSerializer().Serialize(process.registry().Collect());
  CHECK(text.find("zendesk_forwarder_retention_margin_seconds{account=\"acme\",source=\"pull\"}") != std::string::npos);
  CHECK(text.find("retention_margin_seconds{account=\"acme\",source=\"push\"}") == std::string::npos);
  CHECK(text.find("webhook_ack_latency_seconds_count{account=\"acme\",source=\"pull\"}") == std::string::npos);
}

TEST_CASE("endpoint (#27): /readyz?source=NAME judges the named sources only: a revoked pull token keeps push routable") {
  ProcessMetrics process_metrics("test");
  HealthState push, pull;
  ManualClock clock(2'000'000'000'000);
  HttpEndpoint endpoint(process_metrics, {{"push", &push}, {"pull", &pull}},
                        {std::chrono::seconds(300), std::chrono::seconds(300)}, {}, clock);
  std::string bound = endpoint.start("127.0.0.1:0");
  int port = std::stoi(bound.substr(bound.rfind(':') + 1));
  push.last_fetch_ok_ms = clock.now_ms();
  pull.last_fetch_ok_ms = clock.now_ms();
  pull.set_fetch_problem("the API refused the credentials (401)");
  auto get = [&](const std::string& target) { return ask(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"); };
  CHECK(get("/readyz").rfind("HTTP/1.1 503", 0) == 0);  // the whole process: not every source is ready
  CHECK(get("/readyz?source=push").rfind("HTTP/1.1 200", 0) == 0);
  std::string pull_only = get("/readyz?source=pull");
  CHECK(pull_only.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(pull_only.find("refused the credentials") != std::string::npos);
  CHECK(get("/readyz?source=push,pull").rfind("HTTP/1.1 503", 0) == 0);
  CHECK(get("/readyz?source=push&source=pull").rfind("HTTP/1.1 503", 0) == 0);
  std::string unknown = get("/readyz?source=nope");
  CHECK(unknown.rfind("HTTP/1.1 404", 0) == 0);
  CHECK(unknown.find("sources: push, pull") != std::string::npos);
  CHECK(get("/readyz?verbose=1").rfind("HTTP/1.1 400", 0) == 0);
  // The push source's own problem (its ids cannot be written) takes it out.
  push.set_fetch_problem("the delivered ids could not be written: No space left on device");
  CHECK(get("/readyz?source=push").rfind("HTTP/1.1 503", 0) == 0);
  endpoint.stop();
}

TEST_CASE("endpoint (#27): the sources a probe names") {
  using V = std::vector<std::string>;
  CHECK(readiness_sources("source=push") == V{"push"});
  CHECK(readiness_sources("source=a,b&source=c") == V{"a", "b", "c"});
  CHECK_FALSE(readiness_sources("source=").has_value());
  CHECK_FALSE(readiness_sources("source=a,").has_value());
  CHECK_FALSE(readiness_sources("x=1").has_value());
  CHECK_FALSE(readiness_sources("").has_value());
}

TEST_CASE("endpoint (#30): with coordination /readyz is 503 until the replica is a member with an assignment") {
  ProcessMetrics process_metrics("test");
  ManualClock clock(2'000'000'000'000);
  std::atomic<bool> member{false};
  ReadinessRules rules{std::chrono::seconds(300), std::chrono::seconds(300)};
  rules.membership = [&member]() -> std::string { return member ? "" : "not a coordination group member"; };
  // No source of its own yet (none assigned): membership alone decides.
  HttpEndpoint endpoint(process_metrics, {}, rules, {}, clock);
  std::string bound = endpoint.start("127.0.0.1:0");
  int port = std::stoi(bound.substr(bound.rfind(':') + 1));
  auto get = [&](const std::string& target) { return ask(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"); };
  std::string ready = get("/readyz");
  CHECK(ready.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(ready.find("not a coordination group member") != std::string::npos);
  CHECK(get("/healthz").rfind("HTTP/1.1 200", 0) == 0);  // alive all the same: no restart for waiting
  member = true;
  CHECK(get("/readyz").rfind("HTTP/1.1 200", 0) == 0);
  endpoint.stop();
}
