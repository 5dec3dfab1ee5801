#include "source/recent_ids.h"

#include <algorithm>

namespace zf::source {

bool RecentIds::contains(std::string_view id) const {
  std::lock_guard lock(mu_);
  return set_.count(id) > 0;
}

bool RecentIds::add(std::string id, int64_t timestamp_s, uint64_t batch_seq) {
  std::lock_guard lock(mu_);
  if (set_.count(id)) return true;
  if (order_.size() >= max_ids_) return false;
  order_.push_back({std::move(id), timestamp_s, batch_seq});
  // std::deque never moves its elements on push_back, so the view stays valid.
  set_.insert(order_.back().id);
  return true;
}

void RecentIds::forget_before(int64_t timestamp_s) {
  std::lock_guard lock(mu_);
  std::deque<RecentId> kept;
  std::unordered_set<std::string_view> kept_set;
  for (auto& r : order_)
    if (r.timestamp_s >= timestamp_s) kept.push_back(std::move(r));
  for (auto& r : kept) kept_set.insert(r.id);
  order_.swap(kept);
  set_.swap(kept_set);
}

std::vector<RecentId> RecentIds::snapshot(uint64_t up_to_batch_seq) const {
  std::lock_guard lock(mu_);
  std::vector<RecentId> out;
  for (const auto& r : order_)
    if (r.batch_seq <= up_to_batch_seq) out.push_back(r);
  return out;
}

void RecentIds::restore(const std::vector<RecentId>& ids) {
  for (const auto& r : ids) add(r.id, r.timestamp_s, 0);
}

size_t RecentIds::size() const {
  std::lock_guard lock(mu_);
  return order_.size();
}

}  // namespace zf::source
