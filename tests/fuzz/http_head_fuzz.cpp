// The webhook listener's request-head parser never crashes on arbitrary
// bytes, and what it accepts is consistent: a path starting with '/', no
// query in it, lower-case header names, and a POST always with a length.
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
    for (const auto& [name, value] : r.headers)
      for (char c : name)
        if (std::isupper(static_cast<unsigned char>(c))) std::abort();
    if (r.method == "POST" && !r.headers.count("content-length")) std::abort();
  } else if (std::get<zf::source::HeadError>(parsed).why.empty()) {
    std::abort();
  }
  return 0;
}
