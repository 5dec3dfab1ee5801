#include "proof/record_key.h"

#include "core/time_format.h"

namespace zf::proof {

std::optional<RecordKey> key_of(encode::Encoding encoding, std::string_view record, simdjson::dom::parser& parser) {
  if (encoding == encode::Encoding::Cef) {
    auto field = [&](std::string_view key) -> std::string_view {
      size_t at = record.find(key);
      if (at == std::string_view::npos) return {};
      at += key.size();
      return record.substr(at, record.find(' ', at) - at);
    };
    std::string_view id = field(" externalId="), rt = field("|rt=");
    if (id.empty()) return std::nullopt;
    int64_t ms = 0;
    for (char c : rt) ms = c >= '0' && c <= '9' ? ms * 10 + (c - '0') : ms;
    return RecordKey{std::string(id), ms, std::string(field(" cs3="))};
  }
  simdjson::dom::element doc;
  if (parser.parse(record.data(), record.size()).get(doc)) return std::nullopt;
  std::string_view id, account;
  if (encoding == encode::Encoding::OcsfJson) {
    int64_t ms = 0;
    if (doc["metadata"]["uid"].get_string().get(id) || doc["time"].get_int64().get(ms)) return std::nullopt;
    if (doc["metadata"]["tenant_uid"].get_string().get(account)) account = {};
    return RecordKey{std::string(id), ms, std::string(account)};
  }
  std::string_view ts;
  if (doc["event"]["id"].get_string().get(id) || doc["@timestamp"].get_string().get(ts)) return std::nullopt;
  if (doc["zendesk"]["account"].get_string().get(account)) account = {};
  return RecordKey{std::string(id), parse_rfc3339_ms(ts).value_or(0), std::string(account)};
}

}  // namespace zf::proof
