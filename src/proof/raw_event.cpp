#include "proof/raw_event.h"

#include "core/time_format.h"
#include "proof/delivery_ledger.h"

namespace zf::proof {

std::optional<std::string_view> raw_id(simdjson::dom::element event) {
  std::string_view id;
  if (event["id"].get_string().get(id)) return std::nullopt;
  return id;
}

std::optional<int64_t> raw_time_ms(simdjson::dom::element event) {
  std::string_view ts;
  if (event["timestamp"].get_string().get(ts)) return std::nullopt;
  return parse_rfc3339_ms(ts);
}

int64_t raw_ledger_bucket(simdjson::dom::element event) {
  auto ms = raw_time_ms(event);
  return ms ? source::ledger_bucket_of(*ms) : source::kLedgerNoTime;
}

}  // namespace zf::proof
