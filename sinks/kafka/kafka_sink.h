#pragma once
#include "config/config_node.h"
#include "core/sink.h"

namespace zf::sinks::kafka {
// Reads the `kafka` sink's section; throws ConfigError naming the key.
SinkBuilder configure(const ConfigNode& section);
}
