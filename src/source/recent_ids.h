#pragma once
// Ids of events that the next window will read again (those in the
// trailing overlap), so the re-read drops them instead of shipping twice.
// Each id remembers the batch that shipped it: a checkpoint committed for
// batch N stores only ids of batches <= N, so an id whose batch was never
// acknowledged is never treated as already shipped after a restart.
// Memory is bounded: past `max_ids`, new ids are not remembered (a
// possible duplicate later, never a loss) and the overflow is counted.
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace zf::source {

struct RecentId {
  std::string id;
  int64_t timestamp_s = 0;
  uint64_t batch_seq = 0;
};

class RecentIds {
 public:
  explicit RecentIds(size_t max_ids) : max_ids_(max_ids) {}

  bool contains(std::string_view id) const;
  // Returns false when the bound was reached and the id was not kept.
  bool add(std::string id, int64_t timestamp_s, uint64_t batch_seq);
  // Forgets ids older than `timestamp_s`: no future window reaches them.
  void forget_before(int64_t timestamp_s);
  std::vector<RecentId> snapshot(uint64_t up_to_batch_seq) const;
  void restore(const std::vector<RecentId>& ids);
  size_t size() const;

 private:
  size_t max_ids_;
  mutable std::mutex mu_;
  std::deque<RecentId> order_;               // insertion order
  std::unordered_set<std::string_view> set_; // views into order_'s strings
};

}  // namespace zf::source
