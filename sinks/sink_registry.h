#pragma once
#include <string>
#include <vector>

#include "config/config_node.h"
#include "core/sink.h"

namespace zf::sinks {

struct ConfiguredSink {
  std::string name;  // unique; defaults to the type
  std::string type;  // jsonl | kafka | syslog
  SinkBuilder build;
};

// Reads every entry of `sinks:`; throws ConfigError naming the key.
std::vector<ConfiguredSink> configure_all(const ConfigNode& root);

}  // namespace zf::sinks
