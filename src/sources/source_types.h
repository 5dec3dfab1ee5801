#pragma once
// The source types, as sinks/sink_registry.* is for sinks: all the config
// reader, the wiring and `validate` know of a type. Adding a type = its
// folder (the source, its config entry, its Run, its SourceType) + one line
// in source_types.cpp (and its add_subdirectory).
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config/config_node.h"
#include "sources/recent_ids.h"
#include "sources/run.h"
#include "sources/source_entry.h"

namespace zf::source {

using SourceEntries = std::vector<std::shared_ptr<const SourceEntry>>;

// What runs of different types share by name: the ids a push source
// delivered, for the pull source that dedups with it (dedup_with).
struct RunLinks {
  std::map<std::string, std::shared_ptr<RecentIds>> delivered;
};

struct SourceType {
  std::string name;  // its `type:`
  // Its sources poll: a job on the shared fetch workers (a page per step)
  // that coordination can move between replicas. Else each waits on a
  // thread of its own (pushes) and stops only with the process.
  bool polled = false;
  // Its position is all the next owner of its account needs to resume (a
  // Kafka exactly_once sink keeps it in its transactions).
  bool keeps_position = false;
  // The keys of `defaults:` it takes, besides type and checkpoint.
  // nullopt: every key no other type lists.
  std::optional<std::set<std::string>> default_keys;
  // Reads one entry: all its keys but name, type and checkpoint.path (read
  // already) and refuses the others by name.
  std::function<std::shared_ptr<SourceEntry>(const ConfigNode& item, ConfigNotes& notes)> read;
  // Once every entry is read: refuses, naming the key, what names another
  // entry wrongly. Optional.
  std::function<void(const SourceEntry& entry, const SourceEntries& all, const ConfigNode& item)> check;
  // Its line in `validate`'s list, after "name: ".
  std::function<std::string(const SourceEntry& entry)> describe;
  // Before any run is built: what it offers other runs. Optional.
  std::function<void(const SourceEntry& entry, RunLinks& links)> offer;
  // Its run (`coordinated`: it stops when revoked, not with the process).
  std::function<std::unique_ptr<Run>(const SourceEntry& entry, RunContext& ctx, RunLinks& links, bool coordinated)>
      build;
};

// Every type, in the order the docs list them.
const std::vector<SourceType>& source_types();
// The type named `name`, or null.
const SourceType* find_source_type(const std::string& name);
// Each entry's type (the entry's type is always a known one).
const SourceType& type_of(const SourceEntry& entry);

}  // namespace zf::source
