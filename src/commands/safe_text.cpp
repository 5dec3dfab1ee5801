#include "commands/safe_text.h"

#include <cstdio>

namespace zf::app {

namespace {

// The code point at s[i] and its length in bytes; length 0 for a byte that
// does not start a valid (shortest-form) UTF-8 sequence.
std::pair<char32_t, size_t> decode(std::string_view s, size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return {b, 1};
  size_t n = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return {0, 0};
  char32_t cp = b & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
  for (size_t k = 1; k < n; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return {0, 0};
    cp = (cp << 6) | (c & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) return {0, 0};
  return {cp, n};
}

template <typename Visible, typename Hidden, typename Invalid>
void walk(std::string_view s, Visible visible, Hidden hidden, Invalid invalid) {
  for (size_t i = 0; i < s.size();) {
    auto [cp, n] = decode(s, i);
    if (n == 0) {
      invalid(static_cast<unsigned char>(s[i]));
      ++i;
      continue;
    }
    if (is_hidden_control(cp)) hidden(cp);
    else visible(s.substr(i, n));
    i += n;
  }
}

// How html_text and visible show what they keep from the reader: a hidden
// code point by its number, a byte that is not UTF-8 by its value.
std::string marked(char32_t cp) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "[U+%04X]", static_cast<unsigned>(cp));
  return buf;
}
std::string marked(unsigned char b) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "[0x%02X]", b);
  return buf;
}

}  // namespace

bool is_hidden_control(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) ||  // C0, DEL, C1
         cp == 0x00AD ||                               // soft hyphen
         cp == 0x061C ||                               // Arabic letter mark
         cp == 0x115F || cp == 0x1160 || cp == 0x3164 || cp == 0xFFA0 ||  // Hangul fillers (blank)
         cp == 0x180E ||                               // Mongolian vowel separator
         (cp >= 0x200B && cp <= 0x200F) ||             // zero-width space/joiners, LRM, RLM
         (cp >= 0x202A && cp <= 0x202E) ||             // embeddings and overrides
         (cp >= 0x2060 && cp <= 0x206F) ||             // word joiner, invisible operators, isolates
         cp == 0xFEFF ||                               // zero-width no-break space (BOM)
         (cp >= 0xFFF9 && cp <= 0xFFFB) ||             // interlinear annotation
         (cp >= 0xE0000 && cp <= 0xE007F);             // tags
}

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  char buf[16];
  walk(
      s, [&](std::string_view v) { out += v; },
      [&](char32_t cp) {
        if (cp < 0x100) std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
        else std::snprintf(buf, sizeof buf, "\\u{%04X}", static_cast<unsigned>(cp));
        out += buf;
      },
      [&](unsigned char b) {
        std::snprintf(buf, sizeof buf, "\\x%02x", b);
        out += buf;
      });
  return out;
}

std::string html_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  walk(
      s,
      [&](std::string_view v) {
        switch (v[0]) {
          case '<': out += "&lt;"; break;
          case '>': out += "&gt;"; break;
          case '&': out += "&amp;"; break;
          case '"': out += "&quot;"; break;
          case '\'': out += "&#39;"; break;
          default: out += v;
        }
      },
      [&](char32_t cp) { out += marked(cp); }, [&](unsigned char b) { out += marked(b); });
  return out;
}

std::string visible(std::string_view s) {
  std::string out;
  walk(
      s, [&](std::string_view v) { out += v; },
      [&](char32_t cp) { out += marked(cp); }, [&](unsigned char b) { out += marked(b); });
  return out;
}

size_t display_width(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string shortened(std::string_view s, size_t max) {
  if (display_width(s) <= max) return std::string(s);
  size_t keep = max > 3 ? max - 3 : 0, at = 0;
  for (size_t chars = 0; at < s.size(); ++at)
    if ((static_cast<unsigned char>(s[at]) & 0xC0) != 0x80 && chars++ == keep) break;
  return std::string(s.substr(0, at)) + "...";
}

}  // namespace zf::app
