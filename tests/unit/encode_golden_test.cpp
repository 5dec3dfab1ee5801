// Golden tests of the encodings over the reference's example page, the
// emulator's awkward events and the edge cases of normalize_test: the
// output must stay byte-identical to what the files hold. After a
// deliberate change of an encoding, rewrite them with
//   ZF_WRITE_GOLDEN=1 build/tests/unit/zf_unit_tests -tc='golden*'
// and review the diff.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <simdjson.h>

#include "core/clock.h"
#include "encode/encoder.h"
#include "normalize/normalizer.h"

using namespace zf;

namespace {

const std::string kDir = std::string(ZF_TEST_FIXTURES) + "/ecs-golden/";
const char* kPages[] = {"reference-page", "emulator-page", "edge-events-page"};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// One line per event of the page, in `encoding`; every seventh event also
// with keep_original.
std::string encode_page(const std::string& page, encode::Encoding encoding) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(page);
  // "Now", for the events whose own timestamp does not parse.
  ManualClock read_at(1795514400000);  // 2026-11-24T10:00:00Z
  normalize::Normalizer plain({"acme", false}, read_at), original({"acme", true}, read_at);
  std::string out, scratch;
  size_t i = 0;
  for (simdjson::dom::element e : doc["access_logs"].get_array()) {
    auto shaped = (i++ % 7 == 0 ? original : plain).normalize(e);
    REQUIRE(std::holds_alternative<Record>(shaped));
    out += encode::encode(encoding, std::get<Record>(shaped), scratch);
    out += '\n';
  }
  return out;
}

void check_golden(encode::Encoding encoding, const std::string& suffix) {
  for (const char* name : kPages) {
    CAPTURE(name);
    std::string got = encode_page(read_file(kDir + name + ".json"), encoding);
    std::string path = kDir + name + suffix;
    if (std::getenv("ZF_WRITE_GOLDEN")) {
      std::ofstream(path, std::ios::binary) << got;
      continue;
    }
    std::string want = read_file(path);
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
