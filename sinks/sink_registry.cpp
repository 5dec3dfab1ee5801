#include "sink_registry.h"

#include <set>

#include "encode/encoder.h"
#include "jsonl/jsonl_sink.h"
#include "kafka/kafka_sink.h"
#include "syslog/syslog_sink.h"

namespace zf::sinks {

namespace {

struct SinkType {
  const char* name;
  SinkBuilder (*configure)(const ConfigNode& section);  // validates the section, builds nothing yet
  SinkReader (*reader)(const ConfigNode& section);     // for verify; nullptr: cannot be read back
  // For a sink that stores sources' positions with its records (Kafka
  // exactly_once); nullptr: it keeps none. The function may also return an
  // empty reader when the section does not turn that on.
  PositionReader (*position_reader)(const ConfigNode& section);
};

// Every sink type: a new sink adds its folder and one line here, saying
// what it can do; nothing below names a type.
constexpr SinkType kSinkTypes[] = {
    {"jsonl", jsonl::configure, jsonl::reader, nullptr},
    {"kafka", kafka::configure, kafka::reader, kafka::position_reader},
    {"syslog", syslog::configure, nullptr, nullptr},
};

}  // namespace

std::vector<std::string> sink_types() {
  std::vector<std::string> names;
  for (const auto& t : kSinkTypes) names.emplace_back(t.name);
  return names;
}

std::vector<ConfiguredSink> configure_all(const ConfigNode& root) {
  std::string type_list;
  for (const auto& t : kSinkTypes) type_list += (type_list.empty() ? "" : ", ") + std::string(t.name);
  std::vector<ConfiguredSink> out;
  std::set<std::string> names;
  auto entries = root.items("sinks");
  if (entries.empty()) throw ConfigError("sinks", "at least one sink is required (" + type_list + ")");
  for (const auto& entry : entries) {
    if (!entry.has("type")) entry.fail("type", "is required: one of " + type_list);
    std::string type = entry.get_enum("type", sink_types(), "");
    std::string name = entry.get_string("name", type);
    if (!names.insert(name).second)
      entry.fail("name", "sink name \"" + name + "\" is used twice; give each sink a unique name");
    const SinkType* chosen = nullptr;
    for (const auto& t : kSinkTypes)
      if (type == t.name) chosen = &t;
    SinkBuilder build = chosen->configure(entry);  // get_enum allowed only listed types
    SinkReader read_back = chosen->reader ? chosen->reader(entry) : nullptr;
    PositionReader read_position = chosen->position_reader ? chosen->position_reader(entry) : nullptr;
    out.push_back({name, type, encode::configure(entry), std::move(build), std::move(read_back), std::move(read_position)});
  }
  return out;
}

}  // namespace zf::sinks
