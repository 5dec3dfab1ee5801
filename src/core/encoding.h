#pragma once
// Text encodings shared by the HTTP client, the emulator and the tests.
#include <string>
#include <string_view>

namespace zf {

std::string base64_encode(std::string_view in);
// Percent-encodes everything but RFC 3986 unreserved characters; with
// `plus_for_space`, ' ' becomes '+' (form encoding, as search URLs use).
std::string url_encode(std::string_view in, bool plus_for_space = false);

}  // namespace zf
