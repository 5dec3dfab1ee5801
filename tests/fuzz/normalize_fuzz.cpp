// The normalizer never crashes on any event text, and whatever it accepts
// comes out as one line of valid JSON carrying the event's id.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "encode/cef.h"
#include "normalize/normalizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static zf::normalize::Normalizer normalizer({"acme", true});
  std::string text(reinterpret_cast<const char*>(data), size);
  auto result = normalizer.normalize_json(text);
  if (auto* record = std::get_if<zf::Record>(&result)) {
    if (record->json.find('\n') != std::string::npos) std::abort();
    auto parsed = nlohmann::json::parse(record->json, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || parsed["event"]["id"] != record->event.id) std::abort();
    // CEF from the same typed event: one line, whatever the values hold.
    std::string cef = zf::encode::cef(record->event);
    if (cef.find_first_of("\r\n") != std::string::npos) std::abort();
  }
  return 0;
}
