#pragma once
#include <string>
#include <vector>

#include "config/config_node.h"
#include "core/sink.h"
#include "encode/encoder.h"

namespace zf::sinks {

struct ConfiguredSink {
  std::string name;  // unique; defaults to the type
  std::string type;  // one of sink_types()
  encode::Encoding encoding;  // of the records it ships (the pipeline makes ECS only when a sink wants it)
  SinkBuilder build;
  SinkReader read_back;  // empty when the type cannot be read back (syslog)
  PositionReader read_position;  // empty unless it keeps sources' positions (Kafka exactly_once)
};

// The sink types, in the order the docs list them.
std::vector<std::string> sink_types();

// Reads every entry of `sinks:`; throws ConfigError naming the key.
std::vector<ConfiguredSink> configure_all(const ConfigNode& root);

}  // namespace zf::sinks
