#pragma once
// A raw API event's id and time, taken one way by every reader of raw
// events (push bodies, skip_pushed, verify's and export's listings): the
// id is the string at "id", the time the RFC 3339 string at "timestamp".
#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace zf::proof {

// The event's id; nullopt when it has none or it is not a string.
std::optional<std::string_view> raw_id(simdjson::dom::element event);
// The event's time in unix ms; nullopt when it has none or it does not parse.
std::optional<int64_t> raw_time_ms(simdjson::dom::element event);
// The ledger minute of the event's time; kLedgerNoTime when it has none.
int64_t raw_ledger_bucket(simdjson::dom::element event);

}  // namespace zf::proof
