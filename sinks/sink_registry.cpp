#include "sink_registry.h"

#include <set>

#include "jsonl/jsonl_sink.h"
#include "kafka/kafka_sink.h"
#include "syslog/syslog_sink.h"

namespace zf::sinks {

std::vector<ConfiguredSink> configure_all(const ConfigNode& root) {
  std::vector<ConfiguredSink> out;
  std::set<std::string> names;
  auto entries = root.items("sinks");
  if (entries.empty()) throw ConfigError("sinks", "at least one sink is required (jsonl, kafka or syslog)");
  for (const auto& entry : entries) {
    std::string type = entry.get_enum("type", {"jsonl", "kafka", "syslog"}, "");
    std::string name = entry.get_string("name", type);
    if (!names.insert(name).second)
      entry.fail("name", "sink name \"" + name + "\" is used twice; give each sink a unique name");
    SinkBuilder build;
    if (type == "jsonl") build = jsonl::configure(entry);
    else if (type == "kafka") build = kafka::configure(entry);
    else build = syslog::configure(entry);
    out.push_back({name, type, std::move(build)});
  }
  return out;
}

}  // namespace zf::sinks
