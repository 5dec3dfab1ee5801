#pragma once
// The events the encoding tests run on: the API reference's example page,
// 600 awkward emulator events, normalize_test's edge cases and the hostile
// values #14 lists, normalized as the forwarder does (every seventh event
// with keep_original), at a fixed "now".
#include <fstream>
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

}  // namespace zf::testing
