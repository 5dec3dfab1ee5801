#pragma once
// What a Zendesk webhook request must be before any of it is trusted: signed
// with one of the signing secrets over timestamp + raw body
// (X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(secret, timestamp + body))),
// recent, and an access_log.created event whose access_logs are objects.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace zf::source {

// base64(HMAC-SHA256(secret, timestamp + body)): what Zendesk sends (and
// what the emulator's sender signs with).
std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body);

// True when `signature` was made with one of `secrets` (several during a
// rotation). Compared in constant time.
bool webhook_signature_valid(const std::vector<std::string>& secrets, std::string_view timestamp, std::string_view body,
                             std::string_view signature);

// Why a request is refused, or its access events as one JSON array.
struct WebhookEvents {
  std::string access_logs_json;  // minified JSON array of event objects
  size_t count = 0;
};
std::variant<WebhookEvents, std::string> parse_webhook_body(std::string_view body);

}  // namespace zf::source
