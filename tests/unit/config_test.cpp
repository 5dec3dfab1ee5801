// Config is validated once at start; every error names the key.
#include <doctest/doctest.h>

#include <cstdlib>
#include <sstream>

#include "app/app_config.h"
#include "config/config_node.h"
#include "log/logger.h"

using namespace zf;

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
}  // namespace

TEST_CASE("config: a minimal valid config loads with production defaults") {
  auto c = app::load_config(ConfigNode::load_string(kValid));
  CHECK(c.account == "acme");
  CHECK(c.source.base_url == "https://acme.zendesk.com");
  CHECK(c.source.page_size == 2500);
  CHECK(c.rate_limit_requests == 50);
  CHECK(c.rate_limit_period == std::chrono::seconds(60));
  CHECK(c.start.back == std::chrono::hours(24 * 7));
  CHECK(c.sinks.size() == 1);
  CHECK(c.source.windows.settle_delay_s == 60);
  CHECK(c.source.windows.poll_interval_s == 30);
  CHECK(c.source.windows.late_read_delay_s == 600);
  CHECK(c.source.windows.late_read_max_backlog_s == 1800);
  CHECK(c.warnings.empty());
}

TEST_CASE("config: the 0.1 keys overlap and dedup_max_ids still load, each with a warning naming its successor") {
  std::string yaml = kValid;
  yaml.replace(yaml.find("subdomain: acme"), 15, "subdomain: acme\n  overlap: 5m\n  dedup_max_ids: 50000");
  auto c = app::load_config(ConfigNode::load_string(yaml));
  CHECK(c.source.windows.late_read_delay_s == 300);
  REQUIRE(c.warnings.size() == 2);
  CHECK(c.warnings[0].find("zendesk.late_read_delay") != std::string::npos);
  CHECK(c.warnings[1].find("ignored") != std::string::npos);
}

TEST_CASE("config: each mistake is reported with the key that holds it") {
  struct Case {
    std::string from, to, key, expect;
  };
  std::vector<Case> cases = {
      {"subdomain: acme", "subdomain: ACME.zendesk.com", "zendesk.subdomain", "subdomain only"},
      {"subdomain: acme", "base_url: http://10.0.0.5:8080", "zendesk.base_url", "loopback"},
      {"token: s3cr3t-token-value", "tokn: x", "zendesk.auth.token", "is required"},
      {"type: api_token", "type: kerberos", "zendesk.auth.type", "expected one of api_token, password, oauth"},
      {"email: soc@acme.example", "email: soc", "zendesk.auth.email", "email address"},
      {"path: /tmp/zf-cp.json", "pth: /tmp/zf-cp.json", "checkpoint.path", "is required"},
      {"type: jsonl", "type: splunk", "sinks[0].type", "expected one of jsonl, kafka, syslog"},
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
  };
  for (const auto& c : cases) {
    std::string yaml = kValid;
    yaml.replace(yaml.find(c.from), c.from.size(), c.to);
    CAPTURE(yaml);
    std::string err = error_of(yaml);
    CHECK(err.find("config: " + c.key + ":") != std::string::npos);
    CHECK(err.find(c.expect) != std::string::npos);
  }
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
  CHECK(c.source.authorization.rfind("Basic ", 0) == 0);
}

TEST_CASE("logger: no registered secret reaches the output, at any level") {
  std::ostringstream out;
  Logger log(out, LogLevel::Debug);
  log.add_secrets({"hunter2-secret", "QmFzaWMgdG9rZW4="});
  log.debug("auth header is Basic QmFzaWMgdG9rZW4=", {{"password", "hunter2-secret"}, {"nested", {{"x", "a hunter2-secret b"}}}});
  log.error("token hunter2-secret");
  std::string text = out.str();
  CHECK(text.find("hunter2-secret") == std::string::npos);
  CHECK(text.find("QmFzaWMgdG9rZW4=") == std::string::npos);
  CHECK(text.find("[REDACTED]") != std::string::npos);
}

TEST_CASE("logger: each line is one JSON object with ts, level and msg") {
  std::ostringstream out;
  Logger log(out, LogLevel::Info);
  log.debug("hidden");
  log.warn("line\nbreak", {{"n", 1}});
  std::string text = out.str();
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
  auto j = nlohmann::json::parse(text);
  CHECK(j["level"] == "warn");
  CHECK(j["msg"] == "line\nbreak");
  CHECK(j["n"] == 1);
}
