#include "encode/encoder.h"

#include <array>
#include <utility>

#include "encode/cef.h"
#include "encode/ocsf.h"

namespace zf::encode {

namespace {
// As the config spells them, in the order the Encoding enum lists them.
constexpr std::array<std::pair<Encoding, const char*>, 3> kEncodings = {{
    {Encoding::EcsJson, "ecs_json"},
    {Encoding::Cef, "cef"},
    {Encoding::OcsfJson, "ocsf_json"},
}};
}  // namespace

const std::vector<std::string>& encoding_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [e, name] : kEncodings) n.emplace_back(name);
    return n;
  }();
  return names;
}

std::string_view name_of(Encoding e) { return kEncodings[static_cast<size_t>(e)].second; }

Encoding configure(const ConfigNode& section, Encoding fallback) {
  std::string name = section.get_enum("encoding", encoding_names(), std::string(name_of(fallback)));
  for (const auto& [e, n] : kEncodings)
    if (name == n) return e;
  return fallback;  // unreachable: get_enum allows only the names above
}

std::string_view encode(Encoding e, const Record& r, std::string& scratch) {
  switch (e) {
    case Encoding::EcsJson:
      return r.json;
    case Encoding::Cef:
      scratch = cef(r.event);
      return scratch;
    case Encoding::OcsfJson:
      scratch.clear();
      write_ocsf_json(r.event, scratch);
      return scratch;
  }
  return r.json;
}

}  // namespace zf::encode
