#include "source/webhook_request.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <simdjson.h>

#include "core/encoding.h"

namespace zf::source {

std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  std::string message;
  message.reserve(timestamp.size() + body.size());
  message.append(timestamp).append(body);
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &len);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

bool webhook_signature_valid(const std::vector<std::string>& secrets, std::string_view timestamp, std::string_view body,
                             std::string_view signature) {
  bool valid = false;
  for (const auto& secret : secrets) {
    std::string expected = webhook_signature(secret, timestamp, body);
    // Every secret is tried, each in constant time: timing tells nothing.
    if (expected.size() == signature.size() && CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0)
      valid = true;
  }
  return valid;
}

std::variant<WebhookEvents, std::string> parse_webhook_body(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc)) return std::string("the body is not JSON");
  simdjson::dom::object top;
  if (doc.get_object().get(top)) return std::string("the body is not a JSON object");
  std::string_view type;
  if (top["type"].get_string().get(type)) return std::string("no string \"type\"");
  if (type != "zen:event-type:access_log.created")
    return std::string("not an access log event (type ") + std::string(type.substr(0, 80)) + ")";
  simdjson::dom::array logs;
  if (top["event"]["access_logs"].get_array().get(logs)) return std::string("no event.access_logs array");
  WebhookEvents out;
  out.access_logs_json = "[";
  for (simdjson::dom::element e : logs) {
    if (!e.is_object()) return std::string("an entry of event.access_logs is not an object");
    if (out.count++) out.access_logs_json += ',';
    out.access_logs_json += simdjson::minify(e);
  }
  out.access_logs_json += "]";
  return out;
}

}  // namespace zf::source
