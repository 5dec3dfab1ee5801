#pragma once
#include "config/config_node.h"
#include "core/sink.h"

namespace zf::sinks::kafka {
// Reads the `kafka` sink's section; throws ConfigError naming the key.
SinkBuilder configure(const ConfigNode& section);
// The account's topic from its first offset to its high watermark, with the
// sink's connection and security properties (read_committed).
SinkReader reader(const ConfigNode& section);
// With exactly_once: the newest committed position of a source; else empty.
PositionReader position_reader(const ConfigNode& section);
}
