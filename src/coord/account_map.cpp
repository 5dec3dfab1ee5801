#include "coord/account_map.h"

#include <algorithm>
#include <stdexcept>
#include <tuple>

namespace zf::coord {

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

AccountMap::AccountMap(std::vector<std::string> accounts, int partitions)
    : partitions_(partitions), accounts_(std::move(accounts)), by_partition_(partitions > 0 ? partitions : 0) {
  if (partitions <= 0) throw std::invalid_argument("AccountMap: partitions must be positive");
  std::sort(accounts_.begin(), accounts_.end());
  accounts_.erase(std::unique(accounts_.begin(), accounts_.end()), accounts_.end());
  auto preferred = [&](const std::string& a) { return static_cast<int>(fnv1a64(a) % static_cast<uint64_t>(partitions_)); };
  if (accounts_.size() > static_cast<size_t>(partitions_)) {
    for (const auto& a : accounts_) partition_of_[a] = preferred(a);
  } else {
    std::vector<std::pair<int, std::string>> order;
    for (const auto& a : accounts_) order.emplace_back(preferred(a), a);
    std::sort(order.begin(), order.end());
    std::vector<bool> taken(partitions_, false);
    for (const auto& [p, a] : order) {
      int q = p;
      while (taken[q]) q = (q + 1) % partitions_;
      taken[q] = true;
      partition_of_[a] = q;
    }
  }
  for (const auto& [a, p] : partition_of_) by_partition_[p].push_back(a);
}

int AccountMap::partition_of(const std::string& account) const {
  auto it = partition_of_.find(account);
  return it == partition_of_.end() ? -1 : it->second;
}

const std::vector<std::string>& AccountMap::accounts_of(int partition) const {
  static const std::vector<std::string> none;
  return partition >= 0 && partition < partitions_ ? by_partition_[partition] : none;
}

}  // namespace zf::coord
