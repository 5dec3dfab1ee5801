#pragma once
#include "config/config_node.h"
#include "core/sink.h"

namespace zf::sinks::jsonl {
// Reads the `jsonl` sink's section; throws ConfigError naming the key.
SinkBuilder configure(const ConfigNode& section);
// The file and its rotated predecessors (path.1, path.2, ...), line by line,
// as they were at one instant: safe while the sink rotates them.
SinkReader reader(const ConfigNode& section);
}
