#pragma once
// Event ids in 16 bytes, for the sets a late read checks against: a ULID
// (what Zendesk sends) decodes exactly into its 128 bits; any other id is
// hashed to 128 bits with SHA-256, where a collision is not a practical risk.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace zf::source {

struct EventKey {
  uint64_t hi = 0, lo = 0;
  auto operator<=>(const EventKey&) const = default;
};

EventKey event_key(std::string_view id);

// The on-disk form of keys: 16 bytes each, little-endian. Decoding ignores
// a torn tail (a crash mid-append), shorter than one key.
constexpr size_t kEventKeyBytes = 16;
std::string encode_keys(const std::vector<EventKey>& keys);
std::vector<EventKey> decode_keys(std::string_view data);

struct EventKeyHash {
  size_t operator()(const EventKey& k) const { return static_cast<size_t>(k.hi * 0x9e3779b97f4a7c15ULL ^ k.lo); }
};

// A sorted, deduplicated set of keys: 16 bytes per id, no per-node overhead.
class EventKeySet {
 public:
  EventKeySet() = default;
  explicit EventKeySet(std::vector<EventKey> keys) : keys_(std::move(keys)) {
    std::sort(keys_.begin(), keys_.end());
    keys_.erase(std::unique(keys_.begin(), keys_.end()), keys_.end());
  }
  bool contains(const EventKey& k) const { return std::binary_search(keys_.begin(), keys_.end(), k); }
  size_t size() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }

 private:
  std::vector<EventKey> keys_;
};

}  // namespace zf::source
