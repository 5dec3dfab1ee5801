#pragma once
// A zendesk_webhook entry of `sources:`, read and checked once.
#include <string>

#include "config/config_node.h"
#include "sources/source_entry.h"
#include "sources/zendesk_webhook/webhook_source.h"

namespace zf::source {

// A zendesk_webhook source: Zendesk pushes the account's access events.
// Its checkpoint holds the ids it delivered lately: at least the events of
// the pull reconciliation's settle_delay at peak rate (max_ids), or pull
// re-ships what push delivered before it.
struct WebhookSourceConfig : SourceEntry {
  WebhookSourceConfig() { type = "zendesk_webhook"; }
  source::WebhookSettings settings;
  size_t max_ids = 2'000'000;
};

// Reads the whole entry; the caller expands {source} in checkpoint_path.
void read_webhook_source(const ConfigNode& item, WebhookSourceConfig& w);

}  // namespace zf::source
