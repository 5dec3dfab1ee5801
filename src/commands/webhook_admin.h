#pragma once
// `webhook register` / `webhook status`: the Zendesk side of the push
// source, through Zendesk's Webhooks API with a pull source's credentials.
// register creates the webhook (or points the existing one, found by name,
// at the URL), subscribed to access_log.created, and writes its signing
// secret to a file (mode 600) instead of printing it.
#include <string>

#include "app/app_config.h"
#include "log/logger.h"

namespace zf::app {

struct WebhookAdminOptions {
  std::string action;  // "register" or "status"
  std::string url;     // register: https://... where Zendesk will POST
  std::string name = "zendesk-forwarder access logs";
  std::string source;  // which pull source's account and credentials, when several
  std::string secret_file = "zendesk-webhook-signing-secret";
};

// 0 done, 1 when the API refused or failed (said why).
int run_webhook_admin(const AppConfig& config, const WebhookAdminOptions& options, Logger& log);

}  // namespace zf::app
