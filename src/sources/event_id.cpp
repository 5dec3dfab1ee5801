#include "sources/event_id.h"

#include <openssl/sha.h>

#include <array>
#include <cstring>

namespace zf::source {

namespace {

// Crockford base32 value of an upper-case ULID character, or -1 (other
// spellings are hashed, so two distinct strings never share a key). A
// table: every id of every page is decoded.
constexpr std::array<int8_t, 256> kCrockford = [] {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  for (size_t i = 0; i < kAlphabet.size(); ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}();

int crockford(char c) { return kCrockford[static_cast<unsigned char>(c)]; }

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
