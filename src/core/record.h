#pragma once
// The unit that flows from normalize to the sinks.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/access_event.h"

namespace zf {

// Version of the normalized record's shape (docs/FIELDS.md). Sinks that can
// carry metadata (Kafka headers, syslog SD) publish it so consumers can
// branch on it.
inline constexpr int kSchemaVersion = 2;
inline constexpr const char* kProduct = "zendesk-forwarder";

// One normalized access event: the typed event, which every encoder reads,
// and its ecs_json encoding (compact, one line, no trailing newline), made
// once in the shape stage because it is every sink's default ("" when no
// sink ships ECS).
struct Record {
  AccessEvent event;
  std::string json;
};

// State a source keeps beside its position in a sink that stores positions
// (Kafka exactly_once), committed in the same transaction: what the
// account's next owner needs besides the position and cannot find on its
// own disk (the ids a pending late read must not ship again). `key` is
// unique within the source; without a value the key is deleted.
struct PositionPiece {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const PositionPiece&) const = default;
};

// Records from one fetched page, in the order the API returned them. `seq`
// increases by one per batch; acknowledgements are matched on it.
struct Batch {
  uint64_t seq = 0;
  std::string account;  // Zendesk subdomain (or emulator host)
  std::vector<Record> records;
  std::string source;    // the configured source it came from
  std::string position;  // that source's checkpoint once this batch is committed (SourcePage::position)
  std::vector<PositionPiece> pieces;  // kept beside the position (SourcePage::pieces)
};

using BatchPtr = std::shared_ptr<const Batch>;

}  // namespace zf
