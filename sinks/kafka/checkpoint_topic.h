#pragma once
// The checkpoint topic of exactly_once: how it is keyed, and how a start
// finds a source's position and the pieces kept beside it.
#include <string>

#include "core/sink.h"
#include "kafka/kafka_settings.h"

namespace zf::sinks::kafka {

// A source's position is keyed by its name (names are [a-z0-9_-]), each of
// its pieces by the name, '/' and the piece's key.
inline const std::string& position_key(const std::string& source) { return source; }
inline std::string piece_key(const std::string& source, const std::string& key) { return source + "/" + key; }

// A source's newest committed position in the checkpoint topic, with the
// pieces it needs. The reader keeps what it read of the topic's tail for a
// while, and each call only reads what was committed since (plus older
// messages when what it has does not go back far enough): a failover
// starts many accounts at once, and each reading the tail on its own took
// 8 to 23 s apiece in the replica chaos run.
PositionReader position_reader(const Settings& settings);

}  // namespace zf::sinks::kafka
