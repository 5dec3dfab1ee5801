// Config is validated once at start; every error names the key.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/app_config.h"
#include "config/config_node.h"
#include "log/logger.h"
#include "test_dirs.h"

using namespace zf;
using zf::source::PullSourceConfig;
using zf::source::WebhookSourceConfig;

// The i-th source of one type, as the config lists them.
const PullSourceConfig& pull(const app::AppConfig& c, size_t i) { return *app::sources_of<PullSourceConfig>(c).at(i); }
const WebhookSourceConfig& webhook(const app::AppConfig& c, size_t i) {
  return *app::sources_of<WebhookSourceConfig>(c).at(i);
}

namespace {
const std::string kValid = R"(zendesk:
  subdomain: acme
  auth:
    type: api_token
    email: soc@acme.example
    token: s3cr3t-token-value
checkpoint: {path: /tmp/zf-cp.json}
sinks:
  - type: jsonl
    path: "-"
)";

std::string error_of(const std::string& yaml) {
  try {
    app::load_config(ConfigNode::load_string(yaml));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

struct ErrorCase {
  std::string from, to, key, expect;
};

// Each case edits the valid config (`from` -> `to`); the error must name
// `key` and say `expect`, and never show `hidden`.
void check_errors(const std::vector<ErrorCase>& cases, const std::string& hidden = "") {
  for (const auto& c : cases) {
    std::string yaml = kValid;
    yaml.replace(yaml.find(c.from), c.from.size(), c.to);
    CAPTURE(yaml);
    std::string err = error_of(yaml);
    CHECK(err.find("config: " + c.key + ":") != std::string::npos);
    CHECK(err.find(c.expect) != std::string::npos);
    if (!hidden.empty()) CHECK(err.find(hidden) == std::string::npos);
  }
}
}  // namespace

TEST_CASE("config: a minimal valid config loads with production defaults") {
  auto app = app::load_config(ConfigNode::load_string(kValid));
  REQUIRE(app.sources.size() == 1);
  const auto& c = pull(app, 0);
  CHECK(c.name == "zendesk");
  CHECK(app.sources_form.rfind("zendesk (shorthand", 0) == 0);
  CHECK(c.account == "acme");
  CHECK(c.source.base_url == "https://acme.zendesk.com");
  CHECK(c.source.page_size == 2500);
  CHECK(c.rate_limit_requests == 50);
  CHECK(c.rate_limit_period == std::chrono::seconds(60));
  CHECK(c.start.back == std::chrono::hours(24 * 7));
  CHECK(app.sinks.size() == 1);
  CHECK(c.source.windows.settle_delay_s == 60);
  CHECK(c.source.windows.poll_interval_s == 30);
  CHECK(c.source.windows.late_read_delay_s == 600);
  CHECK(c.source.windows.late_read_max_backlog_s == 1800);
  CHECK(app.warnings.empty());
}

TEST_CASE("config: the 0.1 keys overlap and dedup_max_ids still load, each with a warning naming its successor") {
  std::string yaml = kValid;
  yaml.replace(yaml.find("subdomain: acme"), 15, "subdomain: acme\n  overlap: 5m\n  dedup_max_ids: 50000");
  auto c = app::load_config(ConfigNode::load_string(yaml));
  CHECK(pull(c, 0).source.windows.late_read_delay_s == 300);
  REQUIRE(c.warnings.size() == 2);
  CHECK(c.warnings[0].find("zendesk.late_read_delay") != std::string::npos);
  CHECK(c.warnings[1].find("ignored") != std::string::npos);
}

TEST_CASE("config: each mistake is reported with the key that holds it") {
  check_errors({
      {"subdomain: acme", "subdomain: ACME.zendesk.com", "zendesk.subdomain", "subdomain only"},
      {"subdomain: acme", "base_url: http://10.0.0.5:8080", "zendesk.base_url", "loopback"},
      {"token: s3cr3t-token-value", "tokn: x", "zendesk.auth.token", "is required"},
      {"type: api_token", "type: kerberos", "zendesk.auth.type", "expected one of api_token, password, oauth"},
      {"email: soc@acme.example", "email: soc", "zendesk.auth.email", "email address"},
      {"path: /tmp/zf-cp.json", "pth: /tmp/zf-cp.json", "checkpoint.path", "is required"},
      {"type: jsonl", "type: splunk", "sinks[0].type", "expected one of jsonl, kafka, syslog"},
      // Without a type a sink is an error, never some default sink.
      {"type: jsonl", "nme: x", "sinks[0].type", "is required: one of jsonl, kafka, syslog"},
      {"subdomain: acme", "subdomain: acme\n  page_size: 5000", "zendesk.page_size", "from 1 to 2500"},
      {"subdomain: acme", "subdomain: acme\n  page_size: many", "zendesk.page_size", "whole number"},
      {"subdomain: acme", "subdomain: acme\n  start: last tuesday", "zendesk.start", "duration back from now"},
      {"subdomain: acme", "subdomain: acme\n  overlap: 10 minutes", "zendesk.overlap", "duration such as"},
      {"subdomain: acme", "subdomain: acme\n  pagesize: 100", "zendesk.pagesize", "unknown key"},
      {"subdomain: acme", "subdomain: acme\n  overlap: 1m\n  overlap: 10s", "zendesk.overlap", "given twice"},
      {"subdomain: acme", "subdomain: acme\n  overlap: 1m\n  late_read_delay: 10m", "zendesk.overlap",
       "set only that one"},
      {"subdomain: acme", "subdomain: acme\n  late_read_delay: 30s", "zendesk.late_read_delay",
       "longer than zendesk.settle_delay"},
      {"subdomain: acme", "subdomain: acme\n  rate_limit: {requests: 0}", "zendesk.rate_limit.requests", "from 1"},
      {"token: s3cr3t-token-value", "token: ${ZF_TEST_UNSET_VARIABLE}", "zendesk.auth.token", "ZF_TEST_UNSET_VARIABLE"},
      {"token: s3cr3t-token-value", "token: x\n    token_file: /etc/hostname", "zendesk.auth.token", "not both"},
      {"token: s3cr3t-token-value", "token_file: /nonexistent/secret", "zendesk.auth.token_file", "cannot read"},
      {"subdomain: acme", "subdomain: acme\n  enrich: {users: yes please}", "zendesk.enrich.users", "true or false"},
      {"subdomain: acme", "subdomain: acme\n  enrich: {users: true, cache_tll: 1h}", "zendesk.enrich.cache_tll",
       "unknown key"},
      {"subdomain: acme", "subdomain: acme\n  enrich: {users: true, rate_limit: {requests: 0}}",
       "zendesk.enrich.rate_limit.requests", "from 1"},
  });
}

TEST_CASE("config: a zendesk_webhook source beside a pull source; its mistakes named by key") {
  const std::string base = R"(sources:
  - {type: zendesk_pull, name: pull, subdomain: acme, auth: {type: oauth, oauth_token: t0k3n}, checkpoint: {path: /tmp/p.json}}
  - type: zendesk_webhook
    name: push
    account: acme
    listen: 0.0.0.0:8443
    signing_secret: s1gn1ng-s3cret
    previous_signing_secret: 0ld-s3cret
    tls: {cert_file: /etc/tls/tls.crt, key_file: /etc/tls/tls.key}
    ack_timeout: 3s
    checkpoint: {path: /tmp/push.ids, max_ids: 3000000}
sinks:
  - {type: jsonl, path: "-"}
)";
  auto app = app::load_config(ConfigNode::load_string(base));
  REQUIRE(app::sources_of<WebhookSourceConfig>(app).size() == 1);
  const auto& w = webhook(app, 0);
  CHECK(w.name == "push");
  CHECK(w.settings.host == "0.0.0.0");
  CHECK(w.settings.port == 8443);
  CHECK(w.settings.path == "/zendesk/access-logs");
  CHECK(w.settings.secrets == std::vector<std::string>{"s1gn1ng-s3cret", "0ld-s3cret"});
  CHECK(w.settings.ack_timeout == std::chrono::seconds(3));
  CHECK(w.settings.max_body_bytes == 1 << 20);
  CHECK(w.checkpoint_path == "/tmp/push.ids");
  CHECK(w.max_ids == 3000000);
  CHECK(std::find(app.secrets.begin(), app.secrets.end(), "s1gn1ng-s3cret") != app.secrets.end());  // redacted in logs
  auto err = [&](const std::string& from, const std::string& to) {
    std::string yaml = base;
    yaml.replace(yaml.find(from), from.size(), to);
    return error_of(yaml);
  };
  CHECK(err("    signing_secret: s1gn1ng-s3cret\n    previous_signing_secret: 0ld-s3cret\n", "")
            .find("config: sources[1].signing_secret: is required") != std::string::npos);
  CHECK(err("listen: 0.0.0.0:8443", "listen: 8443").find("config: sources[1].listen: expected host:port") != std::string::npos);
  CHECK(err("key_file: /etc/tls/tls.key", "kf: x").find("config: sources[1].tls.key_file: goes with the other") !=
        std::string::npos);
  CHECK(err("name: push", "name: pull").find("is already the name of another source") != std::string::npos);
  CHECK(err("    checkpoint: {path: /tmp/push.ids, max_ids: 3000000}\n", "")
            .find("config: sources[1].checkpoint.path: is required") != std::string::npos);
  CHECK(err("/tmp/push.ids", "/tmp/p.json").find("config: sources[1].checkpoint.path: is also source \"pull\"'s checkpoint") !=
        std::string::npos);
  CHECK(err("ack_timeout: 3s", "ack_timout: 3s").find("config: sources[1].ack_timout: unknown key") != std::string::npos);
  // The listener's memory bound (#27): a budget that holds at least one whole request.
  CHECK(w.settings.max_buffered_bytes == size_t{64} << 20);
  CHECK(w.settings.max_connections_per_ip == 0);
  auto tuned = app::load_config(ConfigNode::load_string(
      base.substr(0, base.find("    ack_timeout")) + "    max_buffered_mib: 16\n    max_connections_per_ip: 50\n" +
      base.substr(base.find("    ack_timeout"))));
  CHECK(webhook(tuned, 0).settings.max_buffered_bytes == size_t{16} << 20);
  CHECK(webhook(tuned, 0).settings.max_connections_per_ip == 50);
  CHECK(err("ack_timeout: 3s", "ack_timeout: 3s\n    max_body_size_kib: 4096\n    max_buffered_mib: 2")
            .find("config: sources[1].max_buffered_mib: must hold one request") != std::string::npos);
  // A large push may use only 7/8 of the budget (the listener keeps the rest
  // for small ones): a body that fits the whole budget but not 7/8 of it
  // would be refused 503 on every retry.
  CHECK(err("ack_timeout: 3s", "ack_timeout: 3s\n    max_body_size_kib: 3968\n    max_buffered_mib: 4")
            .find("in 7/8 of it") != std::string::npos);
}

TEST_CASE("config: enrich.users takes the source's account and auth, with its own budget and cache bounds") {
  std::string yaml = kValid;
  yaml.replace(yaml.find("subdomain: acme"), 15,
               "subdomain: acme\n  enrich: {users: true, cache_ttl: 10m, cache_size: 5000, rate_limit: {requests: 20}}");
  auto app = app::load_config(ConfigNode::load_string(yaml));
  REQUIRE(pull(app, 0).enrich_users);
  const auto& d = *pull(app, 0).enrich_users;
  CHECK(d.base_url == "https://acme.zendesk.com");
  CHECK(d.authorization == pull(app, 0).source.authorization);
  CHECK(d.ttl == std::chrono::minutes(10));
  CHECK(d.max_entries == 5000);
  CHECK(d.budget_requests == 20);
  CHECK(d.http.total_timeout == std::chrono::seconds(5));
  CHECK_FALSE(pull(app::load_config(ConfigNode::load_string(kValid)), 0).enrich_users);  // off by default
}

TEST_CASE("config hardening (#11, #13, #14, #15): overflowing durations, bad ports, look-alike hosts, URL credentials") {
  check_errors(
      {
      // #11: 640511947004d overflowed to 16,945,152 ms; 999999999999d to a start in year 184865266.
      {"subdomain: acme", "subdomain: acme\n  late_read_delay: 640511947004d", "zendesk.late_read_delay",
       "at most 12 digits"},
      {"subdomain: acme", "subdomain: acme\n  start: 999999999999d", "zendesk.start", "duration back from now"},
      {"subdomain: acme", "subdomain: acme\n  start: 2999-01-01T00:00:00Z", "zendesk.start", "in the future"},
      // #13: passed validate; run then failed in stoi or bound another port.
      {"sinks:", "metrics: {listen: \"127.0.0.1:abc\"}\nsinks:", "metrics.listen", "port from 0 to 65535"},
      {"sinks:", "metrics: {listen: \":99999\"}\nsinks:", "metrics.listen", "port from 0 to 65535"},
      // #14: a DNS name that starts like a loopback address is not loopback.
      {"subdomain: acme", "base_url: http://127.0.0.1.evil.example", "zendesk.base_url", "only for loopback"},
      // #15: credentials in the URL would be logged; refused, without echoing them.
      {"subdomain: acme", "base_url: https://admin:hunter2@acme.zendesk.com", "zendesk.base_url",
       "must not contain credentials"},
      },
      "hunter2");
  // Loopback literals still pass.
  for (const char* url : {"http://127.0.0.1:8080", "http://127.1.2.3", "http://localhost:80", "http://[::1]:8080"}) {
    std::string yaml = kValid;
    yaml.replace(yaml.find("subdomain: acme"), 15, std::string("base_url: ") + url);
    CAPTURE(url);
    CHECK(error_of(yaml).empty());
  }
}

TEST_CASE("config hardening: an alias inside its own anchor is an error, not a stack overflow (found by fuzz_config)") {
  CHECK(error_of("ca: &a [x, *a]\n" + std::string(kValid)).find("nested deeper than 64 levels") != std::string::npos);
  CHECK(error_of("ca: &m {k: *m}\n" + std::string(kValid)).find("nested deeper than 64 levels") != std::string::npos);
}

TEST_CASE("config hardening (#4, #5, #12): alias bombs, huge secret files and non-scalar keys fail fast as config errors") {
  // #4: 755 bytes that expand to 10^9 values; validate never finished.
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'i'; ++c)
    bomb += std::string(1, c) + ": &" + c + " [*" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" +
            char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) +
            ", *" + char(c - 1) + ", *" + char(c - 1) + "]\n";
  auto t0 = std::chrono::steady_clock::now();
  std::string err = error_of(bomb + kValid);
  CHECK(err.find("expands to more than") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  // #5: token_file: /dev/zero grew to 706 MB.
  std::string yaml = kValid;
  yaml.replace(yaml.find("token: s3cr3t-token-value"), 25, "token_file: /dev/zero");
  err = error_of(yaml);
  CHECK(err.find("config: zendesk.auth.token_file:") != std::string::npos);
  CHECK(err.find("larger than 64 KiB") != std::string::npos);
  // #12: `? [a, b]` aborted the process with an uncaught YAML exception.
  err = error_of("? [a, b]\n: c\n" + kValid);
  CHECK(err.find("keys must be plain names") != std::string::npos);
}

TEST_CASE("config hardening (#16): a value from ${ENV} under the wrong key is named, never printed") {
  setenv("ZF_TEST_MISPLACED_SECRET", "tok-SHOULD-NOT-APPEAR", 1);
  std::string yaml = kValid;
  yaml.replace(yaml.find("subdomain: acme"), 15, "subdomain: acme\n  page_size: ${ZF_TEST_MISPLACED_SECRET}");
  std::string err = error_of(yaml);
  CHECK(err.find("config: zendesk.page_size:") != std::string::npos);
  CHECK(err.find("${ZF_TEST_MISPLACED_SECRET}") != std::string::npos);
  CHECK(err.find("SHOULD-NOT-APPEAR") == std::string::npos);
  unsetenv("ZF_TEST_MISPLACED_SECRET");
}

TEST_CASE("config: malformed YAML says where") {
  std::string err = error_of("zendesk: {subdomain: acme\nsinks: [");
  CHECK(err.find("not valid YAML") != std::string::npos);
  CHECK(err.find("line") != std::string::npos);
}

TEST_CASE("config: ${ENV} is interpolated and secrets are collected for redaction") {
  setenv("ZF_TEST_TOKEN", "env-provided-token-123", 1);
  std::string yaml = kValid;
  yaml.replace(yaml.find("s3cr3t-token-value"), 18, "${ZF_TEST_TOKEN}");
  auto c = app::load_config(ConfigNode::load_string(yaml));
  bool found = false;
  for (const auto& s : c.secrets) found |= s == "env-provided-token-123";
  CHECK(found);
  CHECK(pull(c, 0).source.authorization.rfind("Basic ", 0) == 0);
}

namespace {
const std::string kTwoSources = R"(sources:
  - type: zendesk_pull
    name: acme
    subdomain: acme
    auth: {type: api_token, email: soc@acme.example, token: acme-token-value}
    rate_limit: {requests: 30, period: 60s}
    checkpoint: {path: /tmp/zf-acme.json}
  - type: zendesk_pull
    name: globex-eu
    subdomain: globex
    auth: {type: oauth, oauth_token: globex-oauth-value}
    late_read_delay: 20m
    checkpoint: {path: /tmp/zf-globex.json}
sinks:
  - type: jsonl
    path: "-"
)";

std::string with(std::string yaml, const std::string& from, const std::string& to) {
  yaml.replace(yaml.find(from), from.size(), to);
  return yaml;
}
}  // namespace

TEST_CASE("config (#13): sources: lists several accounts, each with its own name, budget, checkpoint and settings") {
  auto app = app::load_config(ConfigNode::load_string(kTwoSources));
  REQUIRE(app.sources.size() == 2);
  CHECK(app.sources_form == "sources (2)");
  const auto& a = pull(app, 0);
  const auto& g = pull(app, 1);
  CHECK(a.name == "acme");
  CHECK(a.account == "acme");
  CHECK(a.rate_limit_requests == 30);
  CHECK(a.checkpoint_path == "/tmp/zf-acme.json");
  CHECK(a.source.windows.late_read_delay_s == 600);
  CHECK(g.name == "globex-eu");
  CHECK(g.account == "globex");
  CHECK(g.rate_limit_requests == 50);
  CHECK(g.source.authorization == "Bearer globex-oauth-value");
  CHECK(g.source.windows.late_read_delay_s == 1200);
  CHECK(g.checkpoint_path == "/tmp/zf-globex.json");
  bool both_secret = false;
  for (const auto& s : app.secrets) both_secret |= s == "globex-oauth-value";
  CHECK(both_secret);
}

TEST_CASE("config (#13): bad sources are refused with the key of the entry at fault") {
  struct Case {
    std::string yaml, key, expect;
  };
  std::vector<Case> cases{
      {with(kTwoSources, "name: globex-eu", "name: acme"), "sources[1].name", "already the name of another source"},
      {with(kTwoSources, "name: globex-eu", "name: Globex EU"), "sources[1].name", "lower-case letters"},
      {with(kTwoSources, "/tmp/zf-globex.json", "/tmp/zf-acme.json"), "sources[1].checkpoint.path",
       "also source \"acme\"'s checkpoint"},
      {with(kTwoSources, "type: zendesk_pull\n    name: acme", "type: zendesk_push\n    name: acme"), "sources[0].type",
       "known types: zendesk_pull"},
      {with(kTwoSources, "    name: acme\n", ""), "sources[0].name", "required"},
      {with(kTwoSources, "    subdomain: globex\n", ""), "sources[1].subdomain", "is required"},
      {with(kTwoSources, "sinks:", "checkpoint: {path: /tmp/x.json}\nsinks:"), "checkpoint",
       "belongs to each entry of sources"},
      {with(kTwoSources, "sinks:", "zendesk: {subdomain: acme}\nsinks:"), "sources", "not both"},
      {"sources: []\nsinks: [{type: jsonl, path: \"-\"}]\n", "sources", "is empty"},
      {"sinks: [{type: jsonl, path: \"-\"}]\n", "sources", "is required"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.yaml);
    std::string err = error_of(c.yaml);
    CHECK(err.find("config: " + c.key + ":") != std::string::npos);
    CHECK(err.find(c.expect) != std::string::npos);
    CHECK(err.find("oauth-value") == std::string::npos);
  }
}

TEST_CASE("config: every example under config/ is valid (but for files of the machine it is meant for)") {
  for (const char* var : {"ACME_API_TOKEN", "GLOBEX_OAUTH_TOKEN", "ZENDESK_API_TOKEN", "ZENDESK_WEBHOOK_SECRET",
                          "ZENDESK_WEBHOOK_OLD_SECRET", "GLOBEX_API_TOKEN"})
    setenv(var, "example-secret-value", 0);
  size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(ZF_TEST_FIXTURES) + "/../../config")) {
    if (entry.path().extension() != ".yaml") continue;
    CAPTURE(entry.path().string());
    // Files the example expects on the machine it deploys to (a CA, a
    // password file) are the only thing allowed to be missing here.
    std::string error;
    try {
      app::load_config(ConfigNode::load_file(entry.path().string()));
    } catch (const ConfigError& e) {
      error = e.what();
    }
    CAPTURE(error);
    CHECK((error.empty() || error.find(": cannot read /") != std::string::npos));
    ++checked;
  }
  CHECK(checked >= 6);
}

TEST_CASE("config: kafka exactly_once needs one sink and one pull source (late reads allowed); its keys need it") {
  const std::string base = R"(zendesk:
  subdomain: acme
  auth: {type: oauth, oauth_token: t0k3n}
checkpoint: {path: /tmp/zf-cp.json}
sinks:
  - {type: kafka, brokers: "127.0.0.1:9092", topic: access, exactly_once: true, transaction_timeout: 30s}
)";
  auto app = app::load_config(ConfigNode::load_string(base));
  REQUIRE(app.sinks.size() == 1);
  CHECK(app.sinks[0].read_position);  // positions are read back from the checkpoint topic
  auto err = [&](const std::string& from, const std::string& to) {
    std::string yaml = base;
    yaml.replace(yaml.find(from), from.size(), to);
    return error_of(yaml);
  };
  CHECK(pull(app, 0).source.windows.late_read_delay_s == 600);  // the default: late reads stay on
  CHECK(err("transaction_timeout: 30s}\n", "transaction_timeout: 30s}\n  - {type: jsonl, path: \"-\"}\n")
            .find("config: sinks[0].exactly_once: needs this kafka sink to be the only sink") != std::string::npos);
  // Several accounts share the sink: each transaction holds each one's position.
  CHECK(error_of(R"(sources:
  - {type: zendesk_pull, name: acme, subdomain: acme, auth: {type: oauth, oauth_token: t0k3n}, checkpoint: {path: /tmp/a.json}}
  - {type: zendesk_pull, name: globex, subdomain: globex, auth: {type: oauth, oauth_token: t0k3n}, checkpoint: {path: /tmp/g.json}}
sinks:
  - {type: kafka, brokers: "127.0.0.1:9092", topic: access, exactly_once: true}
)").empty());
  CHECK(err("exactly_once: true, transaction_timeout: 30s", "transactional_id: zf-1")
            .find("config: sinks[0].transactional_id: applies only with exactly_once: true") != std::string::npos);
  CHECK(err("transaction_timeout: 30s", "transaction_timeout: 1s").find("sinks[0].transaction_timeout") !=
        std::string::npos);
}

// #29 "Config that scales": defaults: merged beneath each entry, and sources
// read from files or a directory.
namespace {
void write_file(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string load_error(const std::filesystem::path& config) {
  try {
    app::load_config(ConfigNode::load_file(config.string()));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

const std::string kSink = "sinks: [{type: jsonl, path: \"-\"}]\n";
}  // namespace

TEST_CASE("config (#29): defaults are deep-merged beneath each entry; the entry wins key by key") {
  auto app = app::load_config(ConfigNode::load_string(R"(defaults:
  type: zendesk_pull
  auth: {type: oauth, oauth_token: d3fault-token}
  rate_limit: {period: 30s, requests: 20}
  poll_interval: 45s
  checkpoint: {path: "/var/lib/zf/{source}.json"}
sources:
  - {name: acme, subdomain: acme, rate_limit: {requests: 10}}
  - {name: globex, subdomain: globex, poll_interval: 10s, rate_limit: {period: 120s},
     checkpoint: {path: /data/globex.json}}
)" + kSink));
  REQUIRE(app.sources.size() == 2);
  const auto& a = pull(app, 0);
  const auto& g = pull(app, 1);
  CHECK(a.rate_limit_requests == 10);                        // the entry's
  CHECK(a.rate_limit_period == std::chrono::seconds(30));    // merged from defaults, same mapping
  CHECK(a.source.windows.poll_interval_s == 45);
  CHECK(a.checkpoint_path == "/var/lib/zf/acme.json");       // {source} is the name
  CHECK(g.rate_limit_requests == 20);
  CHECK(g.rate_limit_period == std::chrono::seconds(120));
  CHECK(g.source.windows.poll_interval_s == 10);
  CHECK(g.checkpoint_path == "/data/globex.json");
  CHECK(a.source.authorization == g.source.authorization);  // one shared credential, stated once
  CHECK(std::find(app.secrets.begin(), app.secrets.end(), "d3fault-token") != app.secrets.end());
}

TEST_CASE("config (#29): mistakes in defaults and merged entries are named by where they were written") {
  const std::string base = R"(defaults:
  type: zendesk_pull
  auth: {type: oauth, oauth_token: t0k3n}
  rate_limit: {period: 60s}
  checkpoint: {path: "/tmp/zf-{source}.json"}
sources:
  - {name: acme, subdomain: acme}
  - {name: globex, subdomain: globex, rate_limit: {requests: 5}}
)" + kSink;
  REQUIRE(error_of(base).empty());
  auto err = [&](const std::string& from, const std::string& to) {
    std::string yaml = base;
    yaml.replace(yaml.find(from), from.size(), to);
    return error_of(yaml);
  };
  // An unknown key in defaults is named there, not in an entry that never spelt it.
  CHECK(err("rate_limit: {period: 60s}", "rate_limt: {period: 60s}")
            .find("config: defaults.rate_limt (for sources[0]): unknown key") != std::string::npos);
  CHECK(err("rate_limit: {period: 60s}", "rate_limit: {periode: 60s}")
            .find("config: defaults.rate_limit.periode (for sources[0]): unknown key") != std::string::npos);
  CHECK(err("rate_limit: {period: 60s}", "rate_limit: {period: 60x}")
            .find("config: defaults.rate_limit.period (for sources[0]): expected a duration") != std::string::npos);
  // The entry's own value is named in the entry.
  CHECK(err("requests: 5", "requests: 0").find("config: sources[1].rate_limit.requests: expected a number") !=
        std::string::npos);
  CHECK(err("  type: zendesk_pull\n", "  type: zendesk_pull\n  name: x\n").find("config: defaults.name:") !=
        std::string::npos);
  // A webhook-only key with no webhook source: refused naming it.
  CHECK(err("  type: zendesk_pull\n", "  type: zendesk_pull\n  ack_timeout: 3s\n")
            .find("config: defaults.ack_timeout: is a zendesk_webhook setting and no source") != std::string::npos);
  // One checkpoint path for all: refused naming both sources.
  std::string same = err("\"/tmp/zf-{source}.json\"", "/tmp/zf-all.json");
  CHECK(same.find("config: defaults.checkpoint.path (for sources[1]): is also source \"acme\"'s checkpoint") !=
        std::string::npos);
  CHECK(err("sources:", "zendesk: {subdomain: acme}\nsources:").find("not both") != std::string::npos);
  std::string shorthand = error_of("defaults: {poll_interval: 5s}\n" + kValid);
  CHECK(shorthand.find("config: defaults: applies to the sources list") != std::string::npos);
}

TEST_CASE("config (#29): sources_from reads a file or a directory in name order, merged with sources:") {
  auto dir = zf::testing::temp_dir("config-sources-from");
  write_file(dir / "zf.yaml", R"(defaults:
  type: zendesk_pull
  auth: {type: api_token, email: soc@mssp.example, token_file: secrets/default-token}
  checkpoint: {path: "/var/lib/zf/{source}.json"}
sources:
  - {name: inline, subdomain: inline}
sources_from: [accounts, more.yaml]
)" + kSink);
  write_file(dir / "secrets/default-token", "dflt-token\n");
  write_file(dir / "secrets/zeta-token", "zeta-token\n");
  write_file(dir / "accounts/b.yaml", "name: bravo\nsubdomain: bravo\nrate_limit: {requests: 7}\n");
  // A list in one file; its own secret file and a key of its own.
  write_file(dir / "accounts/a.yaml",
             "- {name: alpha, subdomain: alpha}\n- {name: zeta, subdomain: zeta, auth: {token_file: " +
                 (dir / "secrets/zeta-token").string() + "}}\n");
  write_file(dir / "accounts/..data/c.yaml", "name: hidden\n");  // a ConfigMap volume's own
  write_file(dir / "accounts/notes.txt", "not a source\n");
  write_file(dir / "more.yaml", "name: charlie\nsubdomain: charlie\n");
  // token_file in defaults is relative to the working directory, as everywhere.
  auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  std::string error;
  app::AppConfig app;
  try {
    app = app::load_config(ConfigNode::load_file((dir / "zf.yaml").string()));
  } catch (const ConfigError& e) {
    error = e.what();
  }
  std::filesystem::current_path(cwd);
  REQUIRE(error == "");
  std::vector<std::string> names;
  for (const auto& s : app.sources) names.push_back(s->name);
  CHECK(names == std::vector<std::string>{"inline", "alpha", "zeta", "bravo", "charlie"});
  CHECK(pull(app, 3).rate_limit_requests == 7);
  CHECK(pull(app, 1).rate_limit_requests == 50);
  CHECK(pull(app, 4).checkpoint_path == "/var/lib/zf/charlie.json");
  CHECK(pull(app, 1).source.authorization != pull(app, 2).source.authorization);  // zeta's own token
  CHECK(std::find(app.secrets.begin(), app.secrets.end(), "zeta-token") != app.secrets.end());
  CHECK(std::find(app.secrets.begin(), app.secrets.end(), "dflt-token") != app.secrets.end());
  std::filesystem::remove_all(dir);
}

TEST_CASE("config (#29): errors in account files name the file, the account and the key") {
  auto dir = zf::testing::temp_dir("config-sources-errors");
  write_file(dir / "zf.yaml", R"(defaults:
  type: zendesk_pull
  auth: {type: oauth, oauth_token: t0k3n}
  checkpoint: {path: "/var/lib/zf/{source}.json"}
sources_from: accounts
)" + kSink);
  write_file(dir / "accounts/acme.yaml", "name: acme\nsubdomain: acme\n");
  REQUIRE(load_error(dir / "zf.yaml") == "");
  auto with_account = [&](const std::string& file, const std::string& text) {
    write_file(dir / "accounts" / file, text);
    std::string e = load_error(dir / "zf.yaml");
    std::filesystem::remove(dir / "accounts" / file);
    return e;
  };
  CHECK(with_account("b.yaml", "name: globex\nsubdomain: globex\nrate_limit: {requests: many}\n")
            .find("config: sources[globex] (accounts/b.yaml): rate_limit.requests: expected a whole number") !=
        std::string::npos);
  CHECK(with_account("b.yaml", "name: globex\nsubdomain: globex\npage_sise: 10\n")
            .find("config: sources[globex] (accounts/b.yaml): page_sise: unknown key") != std::string::npos);
  // The same name in two files: both places named.
  CHECK(with_account("b.yaml", "name: acme\nsubdomain: acme2\n")
            .find("config: sources[acme] (accounts/b.yaml): name: \"acme\" is already the name of another source "
                  "(sources[acme] (accounts/acme.yaml))") != std::string::npos);
  // The same checkpoint file from two files.
  CHECK(with_account("b.yaml", "name: globex\nsubdomain: globex\ncheckpoint: {path: /var/lib/zf/acme.json}\n")
            .find("config: sources[globex] (accounts/b.yaml): checkpoint.path: is also source \"acme\"'s checkpoint") !=
        std::string::npos);
  CHECK(with_account("b.yaml", "name: globex\nsubdomain: globex\ncheckpoint: {path: /var/lib/./zf/acme.json}\n")
            .find("checkpoint.path: is also source \"acme\"'s checkpoint") != std::string::npos);  // the same file
  CHECK(with_account("b.yaml", "- {subdomain: globex}\n").find("config: accounts/b.yaml [0]: name: is required") !=
        std::string::npos);
  CHECK(with_account("b.yaml", "name: x\nname: y\n").find("accounts/b.yaml") != std::string::npos);  // given twice
  CHECK(with_account("b.yaml", "just text\n").find("config: accounts/b.yaml: expected one source") != std::string::npos);
  write_file(dir / "zf.yaml", "sources_from: nowhere\n" + kSink);
  CHECK(load_error(dir / "zf.yaml").find("config: sources_from: no such file or directory") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("config (#29): 1,000 accounts from a directory with defaults load, each with its own settings") {
  auto dir = zf::testing::temp_dir("config-thousand");
  write_file(dir / "zf.yaml", R"(defaults:
  type: zendesk_pull
  auth: {type: oauth, oauth_token: t0k3n}
  rate_limit: {period: 60s, requests: 40}
  poll_interval: 60s
  checkpoint: {path: "/var/lib/zf/{source}.json"}
sources_from: accounts
)" + kSink);
  constexpr int kAccounts = 1000;
  auto name_of = [](int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "acct-%04d", i);
    return std::string(buf);
  };
  for (int i = 0; i < kAccounts; ++i) {
    // Every tenth account overrides its budget.
    std::string extra = i % 10 == 0 ? "rate_limit: {requests: " + std::to_string(1 + i % 37) + "}\n" : "";
    write_file(dir / "accounts" / (name_of(i) + ".yaml"), "name: " + name_of(i) + "\nsubdomain: " + name_of(i) + "\n" + extra);
  }
  auto t0 = std::chrono::steady_clock::now();
  auto app = app::load_config(ConfigNode::load_file((dir / "zf.yaml").string()));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("loaded " << kAccounts << " accounts in " << ms << " ms");
  REQUIRE(app.sources.size() == kAccounts);
  for (int i = 0; i < kAccounts; ++i) {
    const auto& s = pull(app, static_cast<size_t>(i));
    CAPTURE(i);
    CHECK(s.name == name_of(i));
    CHECK(s.account == name_of(i));
    CHECK(s.source.base_url == "https://" + name_of(i) + ".zendesk.com");
    CHECK(s.rate_limit_requests == (i % 10 == 0 ? 1 + i % 37 : 40));
    CHECK(s.rate_limit_period == std::chrono::seconds(60));
    CHECK(s.source.windows.poll_interval_s == 60);
    CHECK(s.checkpoint_path == "/var/lib/zf/" + name_of(i) + ".json");
  }
  CHECK(ms < 5000);  // validated once at start: seconds at most on a loaded CI machine
  std::filesystem::remove_all(dir);
}

TEST_CASE("config (#29): defaults reach a zendesk_webhook entry only through the keys it takes") {
  auto app = app::load_config(ConfigNode::load_string(R"(defaults:
  auth: {type: oauth, oauth_token: t0k3n}
  ack_timeout: 3s
  checkpoint: {path: "/tmp/zf-{source}.state"}
sources:
  - {type: zendesk_webhook, name: push, account: acme, listen: "127.0.0.1:8443", signing_secret: s3cr3t}
  - {type: zendesk_pull, name: pull, subdomain: acme, dedup_with: push}
)" + kSink));
  REQUIRE(app::sources_of<WebhookSourceConfig>(app).size() == 1);
  CHECK(webhook(app, 0).settings.ack_timeout == std::chrono::seconds(3));
  CHECK(webhook(app, 0).checkpoint_path == "/tmp/zf-push.state");
  REQUIRE(app::sources_of<PullSourceConfig>(app).size() == 1);
  CHECK(pull(app, 0).checkpoint_path == "/tmp/zf-pull.state");
  CHECK(pull(app, 0).dedup_with == "push");
}

TEST_CASE("config (#30): coordination is read; it needs pull sources only and positions every replica can read") {
  const std::string pull = R"(sources:
  - {name: a, type: zendesk_pull, subdomain: acme, auth: {type: api_token, email: s@acme.example, token: t0ken-value-1},
     checkpoint: {path: /tmp/zf-cp-a.json}}
)";
  const std::string coordination = R"(coordination:
  enabled: true
  brokers: 127.0.0.1:9092
  session_timeout: 6s
)";
  const std::string jsonl = "sinks:\n  - {type: jsonl, path: \"-\"}\n";
  const std::string eos = "sinks:\n  - {type: kafka, brokers: \"127.0.0.1:9092\", topic: access, exactly_once: true}\n";
  auto err = [](const std::string& yaml) { return error_of(yaml); };
  // Positions only in local files: the next owner would start over.
  std::string e = err(pull + coordination + jsonl);
  CHECK(e.find("config: coordination.enabled: needs the positions where the next owner") != std::string::npos);
  CHECK(e.find("exactly_once") != std::string::npos);
  CHECK(e.find("shared_checkpoints") != std::string::npos);
  // A shared checkpoint directory, said so.
  auto shared = app::load_config(ConfigNode::load_string(pull + coordination + "  shared_checkpoints: true\n" + jsonl));
  CHECK(shared.coordination.enabled);
  CHECK(shared.coordination.session_timeout == std::chrono::seconds(6));
  CHECK(shared.coordination_shared_checkpoints);
  // Positions in the exactly_once sink's checkpoint topic.
  auto in_kafka = app::load_config(ConfigNode::load_string(pull + coordination + eos));
  CHECK(in_kafka.coordination.enabled);
  CHECK(err(pull + coordination + "  shared_checkpoints: true\n" + eos)
            .find("config: coordination.shared_checkpoints: is for sinks without exactly_once") != std::string::npos);
  // One transactional id on every replica: they would fence each other.
  CHECK(err(pull + coordination + "sinks:\n  - {type: kafka, brokers: \"127.0.0.1:9092\", topic: access, "
                                  "exactly_once: true, transactional_id: zf-1}\n")
            .find("config: sinks[0].transactional_id: would be every account's under coordination.enabled") != std::string::npos);
  // A webhook source is not coordinated.
  std::string with_push = R"(sources:
  - {name: a, type: zendesk_pull, subdomain: acme, auth: {type: api_token, email: s@acme.example, token: t0ken-value-1},
     checkpoint: {path: /tmp/zf-cp-a.json}}
  - {name: p, type: zendesk_webhook, account: acme, signing_secret: whsec-value-123456, listen: "127.0.0.1:0",
     checkpoint: {path: /tmp/zf-cp-p.json}}
)";
  std::string pe = err(with_push + coordination + "  shared_checkpoints: true\n" + jsonl);
  CHECK(pe.find("config: coordination.enabled: needs zendesk_pull sources only") != std::string::npos);
  // Off, or absent: nothing required.
  CHECK_FALSE(app::load_config(ConfigNode::load_string(kValid)).coordination.enabled);
  CHECK_FALSE(app::load_config(ConfigNode::load_string(kValid + "coordination: {enabled: false}\n")).coordination.enabled);
  CHECK(err(kValid + "coordination: {enabled: true, brokers: x:1, shared_checkpoints: true, sesion_timeout: 6s}\n")
            .find("sesion_timeout") != std::string::npos);
}
