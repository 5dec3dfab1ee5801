#pragma once
// The sinks' readers hand back records as the sink holds them; this is how
// verify (and the golden tests) read one back into the event it carries.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "encode/encoder.h"

namespace zf::proof {

// The event id, time (unix ms) and account of one record as a sink holds
// it, in the sink's encoding; nullopt when it is not one of ours.
struct RecordKey {
  std::string id;
  int64_t time_ms = 0;
  std::string account;  // "" when the record does not say
};
std::optional<RecordKey> key_of(encode::Encoding encoding, std::string_view record, simdjson::dom::parser& parser);

}  // namespace zf::proof
