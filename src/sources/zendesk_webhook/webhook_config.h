#pragma once
// A zendesk_webhook entry of `sources:`, read and checked once.
#include <string>

#include "config/config_node.h"
#include "sources/zendesk_webhook/webhook_source.h"

namespace zf::source {

// A zendesk_webhook source: Zendesk pushes the account's access events.
struct WebhookSourceConfig {
  std::string name;
  std::string account;  // the records' account and the metric label
  source::WebhookSettings settings;
  // The ids it delivered lately (a push source's checkpoint): at least the
  // events of the pull reconciliation's settle_delay at peak rate, or pull
  // re-ships what push delivered before it.
  std::string checkpoint_path;
  size_t max_ids = 2'000'000;
};

// Reads the whole entry; the caller expands {source} in checkpoint_path.
void read_webhook_source(const ConfigNode& item, WebhookSourceConfig& w);

}  // namespace zf::source
