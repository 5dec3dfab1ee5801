// The coordination: section either parses or throws ConfigError, whatever
// the YAML holds; and the account map of whatever names it lists places
// every account on a partition in range, one per partition while they fit.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "config/config_node.h"
#include "coord/account_map.h"
#include "coord/coordination_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  try {
    auto root = zf::ConfigNode::load_string(yaml);
    auto c = zf::coord::parse_coordination(root.child("coordination"));
    std::vector<std::string> names = root.get_string_list("names");
    zf::coord::AccountMap map(names, c.partitions);
    std::set<int> used;
    for (const auto& n : map.accounts()) {
      int p = map.partition_of(n);
      if (p < 0 || p >= map.partitions()) std::abort();
      used.insert(p);
    }
    if (map.accounts().size() <= static_cast<size_t>(map.partitions()) && used.size() != map.accounts().size())
      std::abort();
  } catch (const zf::ConfigError&) {
  }
  return 0;
}
