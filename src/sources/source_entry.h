#pragma once
// One entry of `sources:`, as its type read it: what every type has. A
// type's own settings derive from it (PullSourceConfig, WebhookSourceConfig).
#include <string>
#include <vector>

namespace zf::source {

struct SourceEntry {
  virtual ~SourceEntry() = default;
  std::string name;     // unique; the `source` metric label and log field
  std::string type;     // its `type:` (source_types.h)
  std::string account;  // the records' account and the metric label
  // Its own file ({source} expanded): a pull source's position, a push
  // source's delivered ids.
  std::string checkpoint_path;
};

// What reading a source adds to the process's config besides itself.
struct ConfigNotes {
  std::vector<std::string>& secrets;   // for the logger's redaction
  std::vector<std::string>& warnings;  // deprecated keys: printed by validate, logged by run
};

}  // namespace zf::source
