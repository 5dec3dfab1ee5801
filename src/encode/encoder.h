#pragma once
// Output encodings: pure functions from the typed access event to the bytes
// a sink ships. Every sink takes an `encoding:` key (default ecs_json), so
// CEF can go to Kafka or a file as well as to syslog.
#include <string>
#include <string_view>
#include <vector>

#include "config/config_node.h"
#include "core/record.h"

namespace zf::encode {

enum class Encoding {
  EcsJson,  // the normalized ECS record, one line of JSON (docs/FIELDS.md)
  Cef,      // ArcSight Common Event Format, CEF:0 (docs/FIELDS.md lists the keys)
  OcsfJson, // OCSF 1.8.0 API Activity (class 6003), one line of JSON
};

const std::vector<std::string>& encoding_names();  // as the config spells them
std::string_view name_of(Encoding e);

// The section's `encoding:` key; ConfigError naming the key for an unknown one.
Encoding configure(const ConfigNode& sink_section, Encoding fallback = Encoding::EcsJson);

// The encoded record: a view of the record itself (ecs_json) or of
// `scratch`, valid until either changes.
std::string_view encode(Encoding e, const Record& r, std::string& scratch);

}  // namespace zf::encode
