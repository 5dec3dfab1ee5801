// The webhook listener's request-head parser never crashes on arbitrary
// bytes, and what it accepts is consistent: a path starting with '/', no
// query in it, lower-case header names made of token characters (no
// whitespace: no space before a colon, no folded line), values without
// CR, LF or NUL, and a POST always with a length.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "source/http_listener.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto parsed = zf::source::parse_request_head(in);
  if (auto* head = std::get_if<zf::source::RequestHead>(&parsed)) {
    const auto& r = head->request;
    if (r.path.empty() || r.path[0] != '/' || r.path.find('?') != std::string::npos) std::abort();
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
  } else if (std::get<zf::source::HeadError>(parsed).why.empty()) {
    std::abort();
  }
  return 0;
}
