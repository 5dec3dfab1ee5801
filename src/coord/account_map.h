#pragma once
// Which partition of the control topic stands for which account (source
// name). The replica that the consumer group assigns a partition runs the
// accounts mapped to it.
//
// The mapping (docs/KAFKA.md, "Coordination"): h = FNV-1a 64 of the name's
// bytes; the preferred partition is h mod P. While there are no more
// accounts than partitions, each account gets a partition of its own:
// accounts are placed in order of (preferred partition, name), each on its
// preferred partition or, if taken, the next free one (wrapping). With more
// accounts than partitions, each account is simply on h mod P.
// It depends only on the names and P, so every replica with the same
// `sources` computes the same map; adding an account moves at most the
// accounts whose probe chain it enters.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace zf::coord {

uint64_t fnv1a64(std::string_view bytes);

class AccountMap {
 public:
  AccountMap(std::vector<std::string> accounts, int partitions);

  int partitions() const { return partitions_; }
  int partition_of(const std::string& account) const;  // -1 for an unknown account
  const std::vector<std::string>& accounts_of(int partition) const;
  const std::vector<std::string>& accounts() const { return accounts_; }

 private:
  int partitions_;
  std::vector<std::string> accounts_;  // sorted, unique
  std::map<std::string, int> partition_of_;
  std::vector<std::vector<std::string>> by_partition_;
};

}  // namespace zf::coord
