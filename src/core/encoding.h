#pragma once
// Text encodings shared by the HTTP client, the emulator and the tests.
#include <string>
#include <string_view>

namespace zf {

std::string base64_encode(std::string_view in);
// Percent-encodes everything but RFC 3986 unreserved characters; with
// `plus_for_space`, ' ' becomes '+' (form encoding, as search URLs use).
std::string url_encode(std::string_view in, bool plus_for_space = false);

// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes
// there are not UTF-8 (overlong forms and surrogates included).
size_t utf8_sequence_length(std::string_view s, size_t i);
// `in` with every byte that is not part of valid UTF-8 replaced by U+FFFD.
std::string sanitize_utf8(std::string_view in);

}  // namespace zf
