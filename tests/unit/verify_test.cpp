// verify's parts that need no API: reading a rotating jsonl file back, what
// it refuses to start with, and what it says when it cannot prove anything.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/app_config.h"
#include "proof/delivery_ledger.h"
#include "proof/raw_event.h"
#include "proof/record_key.h"
#include "proof/verify.h"
#include "config/config_node.h"
#include "jsonl/jsonl_sink.h"
#include "log/logger.h"
#include "test_dirs.h"

using namespace zf;
namespace fs = std::filesystem;
using zf::testing::temp_dir;

TEST_CASE("jsonl reader (#27 item 3): a file rotating while it is read is read once, every file of it") {
  auto dir = temp_dir("jsonl-rotating");
  std::string path = (dir / "out.jsonl").string();
  std::atomic<uint64_t> complete{0};  // lines 0 .. complete-1 are written whole
  std::atomic<bool> done{false};
  // The sink's rotation (path.N-1 -> path.N ... path -> path.1, a new path)
  // between batches, nothing removed, while the reader below reads.
  std::thread rotator([&] {
    uint64_t next = 0;
    for (int files = 0; files < 120; ++files) {
      for (int i = files - 1; i >= 1; --i)
        fs::rename(path + "." + std::to_string(i), path + "." + std::to_string(i + 1));
      if (files > 0) fs::rename(path, path + ".1");
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
      REQUIRE(fd >= 0);
      for (int k = 0; k < 25; ++k) {
        std::string line = std::to_string(next) + "\n";
        REQUIRE(::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
        complete = ++next;
      }
      ::close(fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    done = true;
  });
  auto read = sinks::jsonl::reader(ConfigNode::load_string("path: " + path + "\n"));
  while (complete == 0) std::this_thread::yield();
  int reads = 0, wrong = 0;
  while (!done) {
    uint64_t before = complete;
    std::map<uint64_t, int> seen;
    ++reads;
    try {
      read("acme", [&](std::string_view line) { ++seen[std::stoull(std::string(line))]; });
    } catch (const std::exception& e) {
      ++wrong;  // e.g. a file listed, then renamed away before it was opened
      continue;
    }
    bool ok = true;
    for (uint64_t n = 0; n < before; ++n) ok &= seen.count(n) == 1;  // present before the read: there
    for (const auto& [n, copies] : seen) ok &= copies == 1;          // and nothing twice
    wrong += !ok;
  }
  rotator.join();
  INFO(reads << " reads while the file rotated 120 times, " << wrong << " of them wrong");
  CHECK(reads >= 10);
  CHECK(wrong == 0);
  fs::remove_all(dir);
}

TEST_CASE("jsonl reader: a last line still being written is not a record") {
  auto dir = temp_dir("jsonl-partial");
  std::string path = (dir / "out.jsonl").string();
  std::ofstream(path) << "a\n\nb\nhalf";
  std::vector<std::string> lines;
  sinks::jsonl::reader(ConfigNode::load_string("path: " + path + "\n"))(
      "acme", [&](std::string_view l) { lines.emplace_back(l); });
  CHECK(lines == std::vector<std::string>{"a", "b"});
  CHECK_THROWS_WITH(sinks::jsonl::reader(ConfigNode::load_string("path: " + (dir / "none").string() + "\n"))(
                        "acme", [](std::string_view) {}),
                    doctest::Contains("does not exist"));
  fs::remove_all(dir);
}

namespace {

const char* kWebhook = R"(  - type: zendesk_webhook
    name: push
    account: acme
    listen: 127.0.0.1:0
    signing_secret: s3cret
    checkpoint: {path: DIR/push.ids}
)";

const char* kPull = R"(  - type: zendesk_pull
    name: pull
    subdomain: acme
    auth: {type: api_token, email: a@example.com, token: t}
    checkpoint: {path: DIR/pull.json}
)";

app::AppConfig config_of(std::string yaml, const fs::path& dir) {
  for (size_t at; (at = yaml.find("DIR")) != std::string::npos;) yaml.replace(at, 3, dir.string());
  return app::load_config(ConfigNode::load_string(yaml));
}

}  // namespace

TEST_CASE("verify (#26 item 2): a webhook source alone proves nothing: said, and exit 1") {
  auto dir = temp_dir("verify-push-only");
  std::ofstream(dir / "out.jsonl") << "";
  auto config = config_of(std::string("sources:\n") + kWebhook + "sinks:\n  - {type: jsonl, path: DIR/out.jsonl}\n", dir);
  app::VerifyOptions o;
  o.until_s = 1'800'000'000;
  o.since_s = o.until_s - 3600;
  o.report_path = (dir / "report.json").string();
  for (bool ledger : {false, true}) {
    CAPTURE(ledger);
    o.ledger = ledger;
    std::ostringstream logs;
    Logger log(logs);
    StopSignal stop;
    CHECK(app::run_verify(config, o, log, stop) == 1);
    auto report = nlohmann::json::parse(std::ifstream(o.report_path));
    CHECK(report["complete"] == false);
    REQUIRE(report["unverified"].size() == 1);
    CHECK(report["unverified"][0]["why"].get<std::string>().find("no API credentials for account acme") !=
          std::string::npos);
    CHECK(report["push_sources"][0]["source"] == "push");
    CHECK(logs.str().find("no API credentials for account acme") != std::string::npos);
  }
  fs::remove_all(dir);
}

TEST_CASE("verify (#26 items 2, 9): what it refuses to start with") {
  auto dir = temp_dir("verify-refusal");
  auto pull_then = [&](const std::string& sinks) {
    return config_of(std::string("sources:\n") + kPull + "sinks:\n" + sinks, dir);
  };
  app::VerifyOptions o;
  auto plain = pull_then("  - {type: jsonl, path: DIR/out.jsonl}\n  - {type: kafka, brokers: 127.0.0.1:9, topic: t}\n");
  CHECK(app::verify_refusal(plain, o).empty());
  o.repair = true;
  CHECK(app::verify_refusal(plain, o).empty());
  o.sinks = {"kafka", "jsonl"};
  CHECK(app::verify_refusal(plain, o).empty());
  o.sinks = {"syslog"};
  CHECK(app::verify_refusal(plain, o) == "--sink syslog: the config has no sink of that name (its sinks: jsonl, kafka)");

  auto exactly_once = pull_then(
      "  - {type: kafka, name: events, brokers: 127.0.0.1:9, topic: t, exactly_once: true, checkpoint_topic: t-cp}\n");
  o.sinks.clear();
  o.repair = false;
  CHECK(app::verify_refusal(exactly_once, o).empty());  // verifying it reads it, read_committed
  o.repair = true;
  std::string why = app::verify_refusal(exactly_once, o);
  CHECK(why.find("verify --repair cannot ship into sink \"events\": it is exactly_once") == 0);
  CHECK(why.find("exactly_once off") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("verify: a record's account is read back from every encoding's own field") {
  simdjson::dom::parser parser;
  auto ecs = proof::key_of(encode::Encoding::EcsJson,
                         R"({"@timestamp":"2026-01-01T00:00:00.000Z","event":{"id":"E1"},"zendesk":{"account":"acme"}})",
                         parser);
  REQUIRE(ecs);
  CHECK(ecs->account == "acme");
  auto ocsf = proof::key_of(encode::Encoding::OcsfJson, R"({"time":1,"metadata":{"uid":"E2","tenant_uid":"beta"}})", parser);
  REQUIRE(ocsf);
  CHECK(ocsf->account == "beta");
  auto cef = proof::key_of(encode::Encoding::Cef, "CEF:0|Zendesk|Access Logs|2|a|b|3|rt=1 externalId=E3 cs3Label=zendeskAccount cs3=gamma msg=x",
                         parser);
  REQUIRE(cef);
  CHECK(cef->account == "gamma");
  auto none = proof::key_of(encode::Encoding::EcsJson, R"({"@timestamp":"2026-01-01T00:00:00.000Z","event":{"id":"E4"}})", parser);
  REQUIRE(none);
  CHECK(none->account.empty());
}

TEST_CASE("proof: a raw event's id and time are read one way for push, SkipPushed, verify and export") {
  simdjson::dom::parser parser;
  simdjson::dom::element e = parser.parse(std::string_view(R"({"id":"01J0000000000000000000000A","timestamp":"2026-01-01T00:01:30.500Z"})"));
  REQUIRE(proof::raw_id(e));
  CHECK(*proof::raw_id(e) == "01J0000000000000000000000A");
  CHECK(proof::raw_time_ms(e) == 1767225690500);
  CHECK(proof::raw_ledger_bucket(e) == 1767225660);  // its minute
  simdjson::dom::parser other;
  // A number is not an id; a missing or unparseable time has no minute.
  simdjson::dom::element odd = other.parse(std::string_view(R"({"id":42,"timestamp":"yesterday"})"));
  CHECK_FALSE(proof::raw_id(odd));
  CHECK_FALSE(proof::raw_time_ms(odd));
  CHECK(proof::raw_ledger_bucket(odd) == source::kLedgerNoTime);
}
