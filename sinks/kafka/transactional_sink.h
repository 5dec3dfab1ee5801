#pragma once
// The kafka sink with exactly_once: records and the source's position in
// one Kafka transaction (transactional_sink.cpp).
#include <memory>

#include "core/sink.h"
#include "kafka/kafka_settings.h"

namespace zf::sinks::kafka {

// Starts transactions at once (fencing an earlier instance with the same
// transactional.id); throws std::runtime_error when it cannot.
std::unique_ptr<Sink> make_transactional_sink(const Settings& settings, const SinkContext& ctx);
// A source's newest committed position in the checkpoint topic, with the
// pieces kept beside it that it needs.
PositionReader position_reader(const Settings& settings);

}  // namespace zf::sinks::kafka
