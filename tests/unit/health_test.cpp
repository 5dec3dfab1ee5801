// Liveness and readiness verdicts on synthetic values.
#include <doctest/doctest.h>

#include "metrics/http_endpoint.h"
#include "metrics/metrics.h"

using namespace zf;

TEST_CASE("readiness: not ready before the first fetch, ready while fetching and delivering") {
  Metrics m("acme", "test");
  ReadinessRules rules{std::chrono::seconds(300), std::chrono::seconds(300)};
  int64_t now = 2'000'000'000'000;
  CHECK_FALSE(judge_readiness(m, rules, now).ok);
  m.last_fetch_success_ts.Set(now / 1000.0 - 10);
  CHECK(judge_readiness(m, rules, now).ok);
}

TEST_CASE("readiness: turns unavailable when fetching stalls or a sink holds batches too long") {
  Metrics m("acme", "test");
  ReadinessRules rules{std::chrono::seconds(300), std::chrono::seconds(60)};
  int64_t now = 2'000'000'000'000;
  m.last_fetch_success_ts.Set(now / 1000.0 - 400);
  auto v = judge_readiness(m, rules, now);
  CHECK_FALSE(v.ok);
  CHECK(v.reason.find("fetch") != std::string::npos);
  m.last_fetch_success_ts.Set(now / 1000.0 - 5);
  m.inflight_batches.Set(3);
  m.checkpoint_last_commit_ts.Set(now / 1000.0 - 120);
  v = judge_readiness(m, rules, now);
  CHECK_FALSE(v.ok);
  CHECK(v.reason.find("waiting for the sinks") != std::string::npos);
  m.checkpoint_last_commit_ts.Set(now / 1000.0 - 1);
  CHECK(judge_readiness(m, rules, now).ok);
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
  Metrics m("acme", "test");
  ReadinessRules rules{std::chrono::seconds(300), std::chrono::seconds(300)};
  int64_t now = 2'000'000'000'000;
  m.last_fetch_success_ts.Set(now / 1000.0 - 10);  // a page fetched just before the token was revoked
  auto v = judge_readiness(m, rules, now, "HTTP 401: credentials were rejected");
  CHECK_FALSE(v.ok);
  CHECK(v.reason == "HTTP 401: credentials were rejected");
  HealthState h;
  h.set_fetch_problem("x");
  CHECK(h.fetch_problem() == "x");
  h.set_fetch_problem("");
  CHECK(judge_readiness(m, rules, now, h.fetch_problem()).ok);
}
