// Golden tests of the encodings over the pages of golden_pages.h: the
// output must stay byte-identical to what the files hold. After a
// deliberate change of an encoding, rewrite them with
//   ZF_WRITE_GOLDEN=1 build/tests/unit/zf_unit_tests -tc='golden*'
// and review the diff.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "app/verify.h"
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
      auto key = app::key_of(e, encode::encode(e, r, scratch), parser);
      REQUIRE(key);
      CHECK(key->id == r.event.id);
      CHECK(key->time_ms == r.event.timestamp_ms);
    }
  }
  CHECK_FALSE(app::key_of(encode::Encoding::EcsJson, "not json", parser));
  CHECK_FALSE(app::key_of(encode::Encoding::Cef, "CEF:0|x|y|2|a|b|3|rt=1", parser));
}
