// The logger: one JSON object per line, and no secret ever printed.
#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>

#include <nlohmann/json.hpp>

#include "log/logger.h"

using namespace zf;

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

TEST_CASE("logger (#17): a secret with quotes or backslashes is redacted before JSON escaping hides it") {
  std::ostringstream out;
  Logger log(out, LogLevel::Debug);
  const std::string secret = "PW\"xyzzy\\S3CR3T-77";
  log.add_secrets({secret});
  log.error("failed with " + secret, {{"detail", "server said: " + secret}, {"nested", {{"deep", secret}}}});
  CAPTURE(out.str());
  CHECK(out.str().find("xyzzy") == std::string::npos);
  CHECK(out.str().find("S3CR3T") == std::string::npos);
  CHECK(out.str().find("[REDACTED]") != std::string::npos);
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
