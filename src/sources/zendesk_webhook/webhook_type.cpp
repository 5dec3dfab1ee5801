#include "sources/zendesk_webhook/webhook_type.h"

#include "sources/zendesk_webhook/push_run.h"

namespace zf::source {

SourceType zendesk_webhook_type() {
  SourceType t;
  t.name = "zendesk_webhook";
  t.default_keys = std::set<std::string>{"path", "tls", "max_body_size_kib", "max_buffered_mib",
                                         "max_connections_per_ip", "timestamp_tolerance", "ack_timeout"};
  t.read = [](const ConfigNode& item, ConfigNotes&) {
    auto w = std::make_shared<WebhookSourceConfig>();
    read_webhook_source(item, *w);
    return std::shared_ptr<SourceEntry>(w);
  };
  t.describe = [](const SourceEntry& entry) {
    const auto& w = static_cast<const WebhookSourceConfig&>(entry);
    return "zendesk_webhook, account " + w.account + ", listening on " +
           (w.settings.tls_cert_file.empty() ? "http://" : "https://") + w.settings.host + ":" +
           std::to_string(w.settings.port) + w.settings.path + ", " + std::to_string(w.settings.secrets.size()) +
           " signing secret(s)";
  };
  // What it delivered, for its own retries and for the pull source that
  // dedups with it.
  t.offer = [](const SourceEntry& entry, RunLinks& links) {
    const auto& w = static_cast<const WebhookSourceConfig&>(entry);
    links.delivered[w.name] = std::make_shared<RecentIds>(w.max_ids, w.checkpoint_path);
  };
  t.build = [](const SourceEntry& entry, RunContext& ctx, RunLinks& links, bool) -> std::unique_ptr<Run> {
    const auto& w = static_cast<const WebhookSourceConfig&>(entry);
    return std::make_unique<PushRun>(w, ctx, links.delivered.at(w.name));
  };
  return t;
}

}  // namespace zf::source
