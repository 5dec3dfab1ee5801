#pragma once
// The events the encoding tests run on: the API reference's example page,
// 600 awkward emulator events, normalize_test's edge cases and the hostile
// values #14 lists, normalized as the forwarder does (every seventh event
// with keep_original), at a fixed "now".
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <simdjson.h>

#include "core/clock.h"
#include "normalize/normalizer.h"

namespace zf::testing {

inline const std::string kGoldenDir = std::string(ZF_TEST_FIXTURES) + "/ecs-golden/";
inline const std::vector<std::string> kGoldenPages = {"reference-page", "emulator-page", "edge-events-page",
                                                      "hostile-page"};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<Record> golden_records(const std::string& page) {
  simdjson::dom::parser parser;
  std::string text = read_file(kGoldenDir + page + ".json");
  simdjson::dom::element doc = parser.parse(text);
  ManualClock read_at(1795514400000);  // 2026-11-24T10:00:00Z
  normalize::Normalizer plain({"acme", false}, read_at), original({"acme", true}, read_at);
  std::vector<Record> out;
  size_t i = 0;
  for (simdjson::dom::element e : doc["access_logs"].get_array()) {
    auto shaped = (i++ % 7 == 0 ? original : plain).normalize(e);
    REQUIRE(std::holds_alternative<Record>(shaped));
    out.push_back(std::get<Record>(std::move(shaped)));
  }
  return out;
}

// The same records as `enrich: {users: true}` makes them: the actor named
// (with characters each encoding must escape) and, for user resources,
// the accessed user too (the encoders write target names only there).
inline void name_everyone(Record& r) {
  r.event.user_name = "Smith, Jr. \"Ace\" = x|y";
  r.event.user_email = "ace@example.com";
  r.event.user_role = "agent";
  r.event.target_user_name = "Customer 1";
  r.event.target_user_email = "customer1@example.org";
}

inline std::vector<Record> enriched_golden_records(const std::string& page) {
  std::vector<Record> out = golden_records(page);
  for (Record& r : out) name_everyone(r);
  return out;
}

// The backquoted names in the rows of one section ("## ocsf_json ...") of
// docs/FIELDS.md: in the first column, and dotted ones anywhere in a row.
inline std::set<std::string> documented_names(const std::string& section_start) {
  std::istringstream doc(read_file(std::string(ZF_TEST_FIXTURES) + "/../../docs/FIELDS.md"));
  std::set<std::string> names;
  bool in = false;
  for (std::string line; std::getline(doc, line);) {
    if (line.rfind("## ", 0) == 0) in = line.rfind(section_start, 0) == 0;
    if (!in || line.rfind("| ", 0) != 0) continue;
    size_t first_end = line.find(" |", 1);
    for (size_t a = line.find('`'); a != std::string::npos; a = line.find('`', a)) {
      size_t b = line.find('`', a + 1);
      if (b == std::string::npos) break;
      std::string name = line.substr(a + 1, b - a - 1);
      if (a < first_end || name.find('.') != std::string::npos) names.insert(name);
      a = b + 1;
    }
  }
  return names;
}

// Is path ("resources[].name", "zendesk.extra.x") or one of its parents named?
inline bool documented(const std::set<std::string>& names, std::string path) {
  for (size_t p; (p = path.find("[]")) != std::string::npos;) path.erase(p, 2);
  for (;;) {
    if (names.count(path) || names.count(path + "[]")) return true;
    size_t dot = path.rfind('.');
    if (dot == std::string::npos) return false;
    path.resize(dot);
  }
}

}  // namespace zf::testing
