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

}  // namespace zf::sinks::kafka
