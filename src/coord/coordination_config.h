#pragma once
// The `coordination:` section: replicas of one deployment share the accounts
// (sources) through a Kafka consumer group (docs/KAFKA.md, "Coordination").
//
//   coordination:
//     enabled: true
//     brokers: kafka-0:9092,kafka-1:9092
//     group: zendesk-forwarder             # consumer group of the replicas
//     control_topic: zendesk-forwarder.coordination
//     partitions: 64                       # when the topic is created
//     replication_factor: 3                # when the topic is created
//     session_timeout: 10s
//     lease_margin: 3s                     # stop polling this long before the session could expire
//     handoff_timeout: 5s                  # bound on stopping and committing a revoked account
//     properties: {security.protocol: SSL} # librdkafka properties (security)
#include <chrono>
#include <map>
#include <string>

#include "config/config_node.h"

namespace zf::coord {

struct CoordinationConfig {
  bool enabled = false;
  std::string brokers;
  std::string group = "zendesk-forwarder";
  std::string control_topic = "zendesk-forwarder.coordination";
  int partitions = 64;
  int replication_factor = 3;
  std::chrono::milliseconds session_timeout{10'000};
  // librdkafka's heartbeat.interval.ms: a third of the lease margin, so a
  // heartbeat that was due when the process stalled is at most this late.
  std::chrono::milliseconds heartbeat_interval{1'000};
  std::chrono::milliseconds lease_margin{3'000};
  std::chrono::milliseconds handoff_timeout{5'000};
  std::map<std::string, std::string> properties;

  // How long a confirmation of membership lets the replica poll.
  std::chrono::milliseconds lease() const { return session_timeout - lease_margin; }
};

// Reads and validates the `coordination` section (pass root.child("coordination");
// an absent section is coordination disabled). Throws ConfigError naming the key.
CoordinationConfig parse_coordination(const ConfigNode& section);

}  // namespace zf::coord
