#pragma once
// The delivery ledger: per minute of event time, how many events every sink
// acknowledged and an order-independent digest of their ids (the sum of
// their FNV-1a hashes), appended as commits make them durable. `verify
// --ledger` compares it with the API's listing minute by minute and reads
// the sinks only for minutes that differ. Entries are appended (24 bytes
// each) and compacted to one per minute, keeping 90 days: under 4 MiB
// however busy the account (129,600 minutes), twice that before compaction.
#include <climits>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace zf::source {

inline constexpr int64_t kLedgerBucketSeconds = 60;

struct LedgerBucket {
  uint64_t count = 0;
  uint64_t digest = 0;
  void add(std::string_view id);
  void merge(const LedgerBucket& o) {
    count += o.count;
    digest += o.digest;
  }
  bool operator==(const LedgerBucket&) const = default;
};

// Bucket start (unix seconds, a multiple of kLedgerBucketSeconds) -> bucket.
using Ledger = std::map<int64_t, LedgerBucket>;

// Events whose own timestamp does not parse.
inline constexpr int64_t kLedgerNoTime = INT64_MIN;

inline int64_t ledger_bucket_of(int64_t unix_ms) {
  int64_t s = unix_ms / 1000;
  return s - ((s % kLedgerBucketSeconds) + kLedgerBucketSeconds) % kLedgerBucketSeconds;
}

class DeliveryLedger {
 public:
  // `path` is the ledger file (the checkpoint's path + ".ledger").
  explicit DeliveryLedger(std::string path);
  // Appends the buckets of a commit; compacts when the file has grown to
  // twice its compacted size. Throws std::runtime_error on I/O errors (a
  // missing entry only makes verify read the sink for that minute).
  void append(const Ledger& delta);
  // The whole ledger, one entry per bucket; empty when there is none. Safe
  // while the forwarder appends (a torn last entry is ignored).
  static Ledger read(const std::string& path);
  // Bytes on disk.
  uint64_t size() const { return entries_ * kEntryBytes; }

  static constexpr size_t kEntryBytes = 24;

 private:
  void compact();

  std::string path_;
  uint64_t entries_ = 0;            // in the file
  uint64_t compacted_entries_ = 0;  // right after the last compaction
};

}  // namespace zf::source
