#pragma once
#include "sources/source_types.h"

namespace zf::source {

// zendesk_webhook: Zendesk pushes an account's access events.
SourceType zendesk_webhook_type();

}  // namespace zf::source
