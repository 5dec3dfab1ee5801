#include "source/event_id.h"

#include <openssl/sha.h>

#include <cstring>

namespace zf::source {

namespace {

// Crockford base32 value of an upper-case ULID character, or -1 (other
// spellings are hashed, so two distinct strings never share a key).
int crockford(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  static constexpr std::string_view kAlphabet = "ABCDEFGHJKMNPQRSTVWXYZ";
  static constexpr int kValues[] = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                                    21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
  auto at = kAlphabet.find(c);
  return at == std::string_view::npos ? -1 : kValues[at];
}

}  // namespace

EventKey event_key(std::string_view id) {
  // 26 characters of 5 bits carry 130 bits; a ULID's first character is at
  // most 7, so the value fits 128 bits exactly and the decoding is 1:1.
  if (id.size() == 26 && crockford(id[0]) >= 0 && crockford(id[0]) <= 7) {
    EventKey k;
    bool ok = true;
    for (char c : id) {
      int v = crockford(c);
      if (v < 0) {
        ok = false;
        break;
      }
      k.hi = (k.hi << 5) | (k.lo >> 59);
      k.lo = (k.lo << 5) | static_cast<uint64_t>(v);
    }
    if (ok) return k;
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(id.data()), id.size(), digest);
  EventKey k;
  std::memcpy(&k.hi, digest, 8);
  std::memcpy(&k.lo, digest + 8, 8);
  return k;
}

}  // namespace zf::source
