#pragma once
// The unit that flows from normalize to the sinks.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace zf {

// Version of the normalized record's shape (docs/FIELDS.md). Sinks that can
// carry metadata (Kafka headers, syslog SD) publish it so consumers can
// branch on it.
inline constexpr int kSchemaVersion = 1;
inline constexpr const char* kProduct = "zendesk-forwarder";

// One normalized access event. `json` is the complete ECS-shaped record,
// compact, on one line, without a trailing newline. The other fields are
// copies of values inside it that sinks need without re-parsing (syslog
// structured data, CEF extensions, Kafka keys).
struct Record {
  std::string id;             // event.id: the Zendesk ULID
  int64_t timestamp_ms = 0;   // @timestamp, ms since the epoch (UTC)
  std::string timestamp;      // @timestamp as written in the record (RFC 3339)
  std::string user_id;        // user.id ("" when absent)
  std::string source_ip;      // source.ip ("" when absent or empty)
  std::string method;         // http.request.method
  int status = 0;             // http.response.status_code (0 when absent)
  std::string url;            // url.original
  std::string action;         // event.action, e.g. "ticket.read", "search"
  std::string resource_type;  // zendesk.resource.type ("" when not derivable)
  std::string resource_id;    // zendesk.resource.id
  std::string json;           // the normalized record
};

// Records from one fetched page, in the order the API returned them. `seq`
// increases by one per batch; acknowledgements are matched on it.
struct Batch {
  uint64_t seq = 0;
  std::string account;  // Zendesk subdomain (or emulator host)
  std::vector<Record> records;
};

using BatchPtr = std::shared_ptr<const Batch>;

}  // namespace zf
