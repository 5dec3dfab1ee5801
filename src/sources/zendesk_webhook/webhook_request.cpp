#include "sources/zendesk_webhook/webhook_request.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include <memory>

#include <simdjson.h>

#include "core/encoding.h"

namespace zf::source {

std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body) {
  // Streamed: timestamp and body are not copied into one message, so a
  // worker checking a 1 MiB body holds no second megabyte.
  std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)> hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr), EVP_MAC_free);
  std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(hmac ? EVP_MAC_CTX_new(hmac.get()) : nullptr,
                                                               EVP_MAC_CTX_free);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t len = 0;
  if (!ctx || EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(timestamp.data()), timestamp.size()) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(body.data()), body.size()) != 1 ||
      EVP_MAC_final(ctx.get(), mac, &len, sizeof mac) != 1)
    return "";  // matches no signature
  return base64_encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

bool webhook_signature_valid(const std::vector<std::string>& secrets, std::string_view timestamp, std::string_view body,
                             std::string_view signature) {
  bool valid = false;
  for (const auto& secret : secrets) {
    std::string expected = webhook_signature(secret, timestamp, body);
    // Every secret is tried, each in constant time: timing tells nothing.
    if (!expected.empty() && expected.size() == signature.size() &&
        CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0)
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
