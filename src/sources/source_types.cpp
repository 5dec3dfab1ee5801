#include "sources/source_types.h"

#include "sources/zendesk_pull/pull_type.h"
#include "sources/zendesk_webhook/webhook_type.h"

namespace zf::source {

const std::vector<SourceType>& source_types() {
  static const std::vector<SourceType> types = {
      zendesk_pull_type(),
      zendesk_webhook_type(),
  };
  return types;
}

const SourceType* find_source_type(const std::string& name) {
  for (const auto& t : source_types())
    if (t.name == name) return &t;
  return nullptr;
}

const SourceType& type_of(const SourceEntry& entry) { return *find_source_type(entry.type); }

}  // namespace zf::source
