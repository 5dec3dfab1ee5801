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

void put_u64(unsigned char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint64_t get_u64(const unsigned char* in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | in[i];
  return v;
}

}  // namespace

std::string encode_keys(const std::vector<EventKey>& keys) {
  std::string buf(keys.size() * kEventKeyBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(buf.data());
  for (const auto& k : keys) {
    put_u64(out, k.hi);
    put_u64(out + 8, k.lo);
    out += kEventKeyBytes;
  }
  return buf;
}

std::vector<EventKey> decode_keys(std::string_view data) {
  std::vector<EventKey> keys;
  keys.reserve(data.size() / kEventKeyBytes);
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  for (size_t i = 0; i + kEventKeyBytes <= data.size(); i += kEventKeyBytes)
    keys.push_back({get_u64(p + i), get_u64(p + i + 8)});
  return keys;
}

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
