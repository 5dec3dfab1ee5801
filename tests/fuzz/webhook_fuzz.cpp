// The webhook request checks (signature, then body) never crash on
// arbitrary bytes: the first byte splits the input into timestamp and body,
// a signature made over them must verify, and a parsed body's events are
// a JSON array.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "sources/zendesk_webhook/webhook_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t split = in.empty() ? 0 : static_cast<unsigned char>(in[0]) % (in.size());
  std::string_view timestamp = in.substr(0, split), body = in.substr(split);
  std::string sig = zf::source::webhook_signature("secret", timestamp, body);
  if (!zf::source::webhook_signature_valid({"other", "secret"}, timestamp, body, sig)) std::abort();
  if (zf::source::webhook_signature_valid({"other"}, timestamp, body, sig)) std::abort();
  (void)zf::source::webhook_signature_valid({"secret"}, timestamp, body, body);
  auto parsed = zf::source::parse_webhook_body(body);
  if (auto* events = std::get_if<zf::source::WebhookEvents>(&parsed))
    if (events->access_logs_json.empty() || events->access_logs_json.front() != '[' || events->access_logs_json.back() != ']')
      std::abort();
  return 0;
}
