#pragma once
#include "sources/source_types.h"

namespace zf::source {

// zendesk_pull: one account read through the Access Logs API.
SourceType zendesk_pull_type();

}  // namespace zf::source
