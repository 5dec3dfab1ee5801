#include "encode/encoder.h"

#include "encode/cef.h"

namespace zf::encode {

const std::vector<std::string>& encoding_names() {
  static const std::vector<std::string> names = {"ecs_json", "cef"};
  return names;
}

std::string_view name_of(Encoding e) { return encoding_names()[e == Encoding::Cef ? 1 : 0]; }

Encoding configure(const ConfigNode& section, Encoding fallback) {
  std::string name = section.get_enum("encoding", encoding_names(), std::string(name_of(fallback)));
  return name == "cef" ? Encoding::Cef : Encoding::EcsJson;
}

std::string_view encode(Encoding e, const Record& r, std::string& scratch) {
  switch (e) {
    case Encoding::EcsJson: return r.json;
    case Encoding::Cef: scratch = cef(r.event); return scratch;
  }
  return r.json;
}

}  // namespace zf::encode
