#include "coord/coordination_config.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <memory>

namespace zf::coord {

namespace {

using namespace std::chrono_literals;

bool valid_topic_name(const std::string& t) {
  // Kafka's rule: 1..249 of [a-zA-Z0-9._-], not "." or "..".
  if (t.empty() || t.size() > 249 || t == "." || t == "..") return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

// Properties the coordinator sets itself: overriding them would break the
// protocol it relies on (cooperative assignment, no offsets, its timeouts).
const char* const kOwnedProperties[] = {"bootstrap.servers",     "group.id",           "partition.assignment.strategy",
                                        "session.timeout.ms",    "heartbeat.interval.ms", "enable.auto.commit",
                                        "max.poll.interval.ms", "group.instance.id"};

}  // namespace

CoordinationConfig parse_coordination(const ConfigNode& s) {
  CoordinationConfig c;
  c.enabled = s.get_bool("enabled", false);
  if (!c.enabled) {
    // Read the rest anyway, so a disabled section is still checked for typos
    // and a later `enabled: true` does not uncover old mistakes.
    if (s.is_null()) return c;
  }
  if (c.enabled) c.brokers = s.require_string("brokers");
  else c.brokers = s.get_string("brokers", "");
  c.group = s.get_string("group", c.group);
  if (c.group.empty()) s.fail("group", "must not be empty: it names the consumer group the replicas share");
  c.control_topic = s.get_string("control_topic", c.control_topic);
  if (!valid_topic_name(c.control_topic))
    s.fail("control_topic", "not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)");
  c.partitions = static_cast<int>(s.get_int("partitions", 1, 10'000, c.partitions));
  c.replication_factor = static_cast<int>(s.get_int("replication_factor", 1, 32, c.replication_factor));
  c.session_timeout = s.get_duration("session_timeout", 3s, 5min, c.session_timeout);
  c.lease_margin = s.get_duration("lease_margin", 500ms, 5min, std::max<Duration>(1s, c.session_timeout * 3 / 10));
  if (c.lease_margin * 2 > c.session_timeout)
    s.fail("lease_margin", "must be at most half of session_timeout (" +
                               std::to_string(c.session_timeout.count()) +
                               " ms): the lease is session_timeout - lease_margin");
  // A third of the margin: a heartbeat due when the process stalled is late
  // by at most that, and the broker still sees it inside the session.
  c.heartbeat_interval = std::max<Duration>(100ms, c.lease_margin / 3);
  c.handoff_timeout = s.get_duration("handoff_timeout", 100ms, 10min, c.handoff_timeout);
  c.properties = s.get_string_map("properties");
  for (const char* owned : kOwnedProperties)
    if (c.properties.count(owned))
      s.fail(std::string("properties.") + owned, "is set by the coordinator itself; use the section's own keys");
  // Reject what librdkafka would reject, now, without connecting.
  std::unique_ptr<rd_kafka_conf_t, decltype(&rd_kafka_conf_destroy)> conf(rd_kafka_conf_new(), rd_kafka_conf_destroy);
  char err[512];
  for (const auto& [k, v] : c.properties) {
    if (k.find("password") != std::string::npos || k.find("secret") != std::string::npos) s.add_secret(v);
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      s.fail("properties." + k, std::string("librdkafka rejects it: ") + err);
  }
  return c;
}

}  // namespace zf::coord
