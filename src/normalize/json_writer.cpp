#include "normalize/json_writer.h"

namespace zf::normalize {

namespace {
// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
size_t utf8_sequence(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  if (n == 2 && c < 0xC2) return 0;                                     // overlong
  if (n == 3 && c == 0xE0 && b(i + 1) < 0xA0) return 0;                 // overlong
  if (n == 3 && c == 0xED && b(i + 1) >= 0xA0) return 0;                // surrogate
  if (n == 4 && (c > 0xF4 || (c == 0xF0 && b(i + 1) < 0x90) || (c == 0xF4 && b(i + 1) >= 0x90))) return 0;
  return n;
}
}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  size_t plain_start = 0;
  auto flush = [&](size_t end) {
    if (end > plain_start) out.append(s.data() + plain_start, end - plain_start);
  };
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t n = utf8_sequence(s, i);
      if (n) {
        i += n;
        continue;
      }
      flush(i);
      out += "\xEF\xBF\xBD";  // U+FFFD for a byte that is not UTF-8
      plain_start = ++i;
      continue;
    }
    flush(i);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    plain_start = ++i;
  }
  flush(s.size());
  out += '"';
}

}  // namespace zf::normalize
