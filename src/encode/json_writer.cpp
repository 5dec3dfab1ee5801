#include "encode/json_writer.h"

#include <algorithm>
#include <charconv>

#include "core/encoding.h"

namespace zf::encode {

namespace {

// How many bytes at the start of s need no escaping (printable ASCII other
// than '"' and '\\'), eight at a time: most strings (ids, paths, addresses)
// are plain throughout.
size_t plain_prefix(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  // Any byte >= 0x80, < 0x20, '"' or '\\' (exact for "any", not for which).
  auto special = [&](size_t at) {
    uint64_t w;
    std::memcpy(&w, s.data() + at, 8);
    return ((w & kHigh) | ((w - 0x20 * kOnes) & ~w & kHigh) | has_zero(w ^ ('"' * kOnes)) |
            has_zero(w ^ ('\\' * kOnes))) != 0;
  };
  size_t i = 0, n = s.size();
  for (; i + 8 <= n; i += 8)
    if (special(i)) break;
  // The last few bytes as the last eight, overlapping what was seen.
  if (i + 8 > n && i < n && n >= 8 && !special(n - 8)) return n;
  for (; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
  }
  return i;
}

// s from `from` on, escaped, to p (room for 6 bytes per input byte);
// returns the end.
char* put_escaped(char* p, std::string_view s, size_t from) {
  static const char* hex = "0123456789abcdef";
  for (size_t i = from; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      *p++ = static_cast<char>(c);
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t n = utf8_sequence_length(s, i);
      if (n) {
        std::memcpy(p, s.data() + i, n);
        p += n;
        i += n;
        continue;
      }
      std::memcpy(p, "\xEF\xBF\xBD", 3);  // U+FFFD for a byte that is not UTF-8
      p += 3;
      ++i;
      continue;
    }
    *p++ = '\\';
    switch (c) {
      case '"': *p++ = '"'; break;
      case '\\': *p++ = '\\'; break;
      case '\n': *p++ = 'n'; break;
      case '\r': *p++ = 'r'; break;
      case '\t': *p++ = 't'; break;
      default:
        *p++ = 'u';
        *p++ = '0';
        *p++ = '0';
        *p++ = hex[c >> 4];
        *p++ = hex[c & 15];
    }
    ++i;
  }
  return p;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) { JsonWriter(out).string(s); }

void JsonWriter::settle() {
  if (out_.size() != len_) out_.resize(len_);
}

void JsonWriter::grow(size_t n) {
  size_t need = len_ + n;
  if (need > out_.capacity()) out_.reserve(std::max(need, out_.capacity() * 2));
  out_.resize(out_.capacity());
}

void JsonWriter::quoted(std::string_view s, char lead) {
  size_t plain = plain_prefix(s);
  // Escaping takes at most 6 bytes per byte (\u00XX).
  char* p = room(3 + plain + 6 * (s.size() - plain));
  char* start = p;
  if (lead) *p++ = lead;
  *p++ = '"';
  std::memcpy(p, s.data(), plain);
  p += plain;
  if (plain < s.size()) p = put_escaped(p, s, plain);
  *p++ = '"';
  len_ += static_cast<size_t>(p - start);
}

JsonWriter& JsonWriter::number(int64_t v) {
  char* p = room(21);
  char* start = p;
  if (char c = separator()) *p++ = c;
  p = std::to_chars(p, p + 20, v).ptr;
  len_ += static_cast<size_t>(p - start);
  return value_done();
}

}  // namespace zf::encode
