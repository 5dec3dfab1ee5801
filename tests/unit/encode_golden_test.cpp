// Golden tests of the encodings over the pages of golden_pages.h: the
// output must stay byte-identical to what the files hold. After a
// deliberate change of an encoding, rewrite them with
//   ZF_WRITE_GOLDEN=1 build/tests/unit/zf_unit_tests -tc='golden*'
// and review the diff.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "proof/record_key.h"
#include "proof/verify.h"
#include "encode/cef.h"
#include "encode/encoder.h"
#include "golden_pages.h"

using namespace zf;
using zf::testing::golden_records;
using zf::testing::kGoldenDir;
using zf::testing::kGoldenPages;

namespace {

void check_golden(encode::Encoding encoding, const std::string& suffix) {
  for (const auto& name : kGoldenPages) {
    CAPTURE(name);
    std::string got, scratch;
    for (const Record& r : golden_records(name)) {
      got += encode::encode(encoding, r, scratch);
      got += '\n';
    }
    std::string path = kGoldenDir + name + suffix;
    if (std::getenv("ZF_WRITE_GOLDEN")) {
      std::ofstream(path, std::ios::binary) << got;
      continue;
    }
    std::string want = zf::testing::read_file(path);
    CHECK(std::count(got.begin(), got.end(), '\n') == std::count(want.begin(), want.end(), '\n'));
    // Line by line, so a failure shows the first event that differs.
    std::istringstream g(got), w(want);
    std::string gl, wl;
    size_t line = 0;
    while (std::getline(w, wl) && std::getline(g, gl)) {
      ++line;
      CAPTURE(line);
      REQUIRE(gl == wl);
    }
  }
}

}  // namespace

TEST_CASE("golden (#13): ecs_json is byte-identical to the recorded records") {
  check_golden(encode::Encoding::EcsJson, ".ecs.jsonl");
}

TEST_CASE("golden (#13): cef is byte-identical to the recorded events") {
  check_golden(encode::Encoding::Cef, ".cef.txt");
}

TEST_CASE("golden (#14): ocsf_json is byte-identical to the recorded events") {
  check_golden(encode::Encoding::OcsfJson, ".ocsf.jsonl");
}

TEST_CASE("verify (#18): the id and time of a record are read back from every encoding") {
  simdjson::dom::parser parser;
  std::string scratch;
  for (const Record& r : golden_records("reference-page")) {
    for (auto e : {encode::Encoding::EcsJson, encode::Encoding::Cef, encode::Encoding::OcsfJson}) {
      CAPTURE(encode::name_of(e));
      auto key = proof::key_of(e, encode::encode(e, r, scratch), parser);
      REQUIRE(key);
      CHECK(key->id == r.event.id);
      CHECK(key->time_ms == r.event.timestamp_ms);
    }
  }
  CHECK_FALSE(proof::key_of(encode::Encoding::EcsJson, "not json", parser));
  CHECK_FALSE(proof::key_of(encode::Encoding::Cef, "CEF:0|x|y|2|a|b|3|rt=1", parser));
}

namespace {

// The extension part of a CEF line: after the seventh '|' that is not escaped.
std::string cef_extensions(const std::string& line) {
  size_t bars = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\') ++i;
    else if (line[i] == '|' && ++bars == 7) return line.substr(i + 1);
  }
  return "";
}

// What deploy/splunk's zendesk_cef_extensions REGEX extracts from it.
std::map<std::string, std::string> splunk_fields(const std::string& extensions) {
  static const std::regex kRegex = [] {
    std::istringstream conf(zf::testing::read_file(std::string(ZF_TEST_FIXTURES) + "/../../deploy/splunk/transforms.conf"));
    bool in = false;
    for (std::string line; std::getline(conf, line);) {
      if (line.rfind("[", 0) == 0) in = line == "[zendesk_cef_extensions]";
      if (in && line.rfind("REGEX = ", 0) == 0) return std::regex(line.substr(8));
    }
    FAIL("no REGEX for zendesk_cef_extensions in deploy/splunk/transforms.conf");
    return std::regex();
  }();
  std::map<std::string, std::string> out;
  for (std::sregex_iterator it(extensions.begin(), extensions.end(), kRegex), end; it != end; ++it)
    out[(*it)[1]] = (*it)[2];
  return out;
}

}  // namespace

TEST_CASE("cef (#26 item 6): enriched names are CEF keys FIELDS.md lists and Splunk's transform extracts") {
  std::set<std::string> names = zf::testing::documented_names("## cef");
  REQUIRE(names.count("suser"));
  std::set<std::string> undocumented;
  size_t checked = 0, targets = 0;
  for (const auto& page : kGoldenPages)
    for (const Record& r : zf::testing::enriched_golden_records(page)) {
      std::string line = encode::cef(r.event, -1);
      // libstdc++'s regex recurses per character: long lines would only test the stack.
      if (line.size() > 1500) continue;
      ++checked;
      auto fields = splunk_fields(cef_extensions(line));
      for (const auto& [key, value] : fields) {
        std::string base = key.size() > 5 && key.substr(key.size() - 5) == "Label" ? key.substr(0, key.size() - 5) : key;
        if (!names.count(key) && !names.count(base)) undocumented.insert(key);
      }
      CHECK(fields["externalId"] == r.event.id);
      if (r.event.user_id.empty()) continue;
      CHECK(fields["suser"] == encode::escape_cef_value(r.event.user_name));
      CHECK(fields["spriv"] == "agent");
      CHECK(fields["ZendeskAccessLogsUserEmail"] == "ace@example.com");
      if (r.event.resource.type == "user" && !r.event.resource.id.empty()) {
        ++targets;
        CHECK(fields["duid"] == r.event.resource.id);
        CHECK(fields["duser"] == "Customer 1");
        CHECK(fields["ZendeskAccessLogsTargetUserEmail"] == "customer1@example.org");
      } else {
        CHECK_FALSE(fields.count("duser"));
      }
    }
  std::string list;
  for (const auto& k : undocumented) list += k + " ";
  CAPTURE(list);
  CHECK(undocumented.empty());
  CHECK(checked >= 600);
  CHECK(targets > 0);
}
