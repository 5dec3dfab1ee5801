// The one HTTP server's request-head parser (net/request_head.h) never
// crashes on arbitrary bytes, and what it accepts is consistent: a path
// starting with '/', no query in it, a query without CR, LF or NUL,
// lower-case header names made of token characters (no whitespace: no
// space before a colon, no folded line), values without CR, LF or NUL, and
// a POST always with a length. Each input is parsed twice, as the webhook
// does (any method) and as the metrics endpoint does (GET and HEAD only):
// the second accepts only those methods, refuses others with 405, and
// otherwise agrees with the first.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "net/request_head.h"

namespace {

void check_accepted(const zf::net::RequestHead& head) {
  const auto& r = head.request;
  if (r.path.empty() || r.path[0] != '/' || r.path.find('?') != std::string::npos) std::abort();
  for (char c : r.query)
    if (c == '\0' || c == '\r' || c == '\n' || c == ' ') std::abort();
  for (const auto& [name, value] : r.headers) {
    if (name.empty()) std::abort();
    for (char c : name)
      if (std::isupper(static_cast<unsigned char>(c)) || std::isspace(static_cast<unsigned char>(c)) ||
          static_cast<unsigned char>(c) < 0x20 || c == ':')
        std::abort();
    for (char c : value)
      if (c == '\0' || c == '\r' || c == '\n') std::abort();
  }
  if (r.method == "POST" && !r.headers.count("content-length")) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto any = zf::net::parse_request_head(in);
  if (auto* head = std::get_if<zf::net::RequestHead>(&any)) check_accepted(*head);
  else if (std::get<zf::net::HeadError>(any).why.empty()) std::abort();

  static const std::vector<std::string> kGetOnly{"GET", "HEAD"};
  auto get_only = zf::net::parse_request_head(in, kGetOnly);
  if (auto* head = std::get_if<zf::net::RequestHead>(&get_only)) {
    check_accepted(*head);
    if (head->request.method != "GET" && head->request.method != "HEAD") std::abort();
    // Restricting the methods never makes a refused head acceptable.
    if (!std::holds_alternative<zf::net::RequestHead>(any)) std::abort();
  } else {
    const auto& err = std::get<zf::net::HeadError>(get_only);
    if (err.why.empty()) std::abort();
    // Accepted with any method but refused here: only for the method.
    if (std::holds_alternative<zf::net::RequestHead>(any) && err.status != 405) std::abort();
  }
  return 0;
}
