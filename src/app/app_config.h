#pragma once
// The whole config file, validated once at start. Every problem is a
// ConfigError naming the key; `validate` stops here, `run` goes on to build.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "config/config_node.h"
#include "coord/coordination_config.h"
#include "log/logger.h"
#include "sink_registry.h"
#include "enrich/user_directory.h"
#include "source/access_log_source.h"
#include "source/webhook_source.h"

namespace zf::app {

struct StartPoint {
  std::optional<int64_t> at_unix_s;              // an absolute timestamp
  std::chrono::seconds back{7 * 24 * 3600};      // or this long before now
  int64_t resolve(int64_t now) const { return at_unix_s ? *at_unix_s : now - back.count(); }
};

struct HealthSettings {
  std::string listen;                              // "" = no metrics/health endpoint
  std::string metrics_token;                       // "" = /metrics open to whoever reaches `listen`
  std::chrono::milliseconds max_fetch_age{300'000};
  std::chrono::milliseconds max_delivery_age{300'000};
  // Histograms per source, or one set for the process (nullopt: per source
  // up to 100 sources; with more their bucket series would dominate).
  std::optional<bool> per_source_histograms;
};

// One Zendesk account read through the Access Logs API: an entry of
// `sources:` with `type: zendesk_pull`, or the `zendesk:` shorthand.
struct PullSourceConfig {
  std::string name;     // unique; the `source` metric label and log field
  std::string account;  // subdomain, or the base_url's host
  source::SourceSettings source;
  net::HttpSettings http;
  int rate_limit_requests = 50;
  std::chrono::milliseconds rate_limit_period{60'000};
  StartPoint start;
  bool keep_original = false;
  std::string checkpoint_path;
  // dedup_with: the zendesk_webhook source of the same account whose
  // deliveries this pull source skips ("" = none).
  std::string dedup_with;
  // enrich.users: names from the Users API (base_url and auth are the
  // source's); nullopt = off.
  std::optional<enrich::DirectorySettings> enrich_users;
};

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

struct AppConfig {
  std::vector<PullSourceConfig> sources;
  std::vector<WebhookSourceConfig> webhooks;
  std::string sources_form;  // which form was read, for validate: "zendesk (shorthand...)" or "sources"

  size_t max_inflight_batches = 4;  // per source
  std::chrono::milliseconds sink_retry_initial{500};
  std::chrono::milliseconds sink_retry_max{30'000};
  std::chrono::milliseconds shutdown_timeout{10'000};
  std::chrono::milliseconds progress_interval{10'000};
  // The pull sources share `workers` threads, however many there are, and
  // their pages in flight share one bound.
  size_t workers = 8;
  size_t memory_limit_bytes = size_t{128} << 20;
  // First polls spread over this much time (nullopt: 25 ms per pull source,
  // at most 30 s), so many accounts do not all start in the same second.
  std::optional<std::chrono::milliseconds> startup_spread;

  std::vector<sinks::ConfiguredSink> sinks;
  // Replicas sharing the pull sources through a Kafka consumer group (#30).
  coord::CoordinationConfig coordination;
  // Where a new owner finds an account's position: the exactly_once sink's
  // checkpoint topic, or (coordination.shared_checkpoints: true) checkpoint
  // files on a volume every replica mounts.
  bool coordination_shared_checkpoints = false;
  HealthSettings health;
  LogLevel log_level = LogLevel::Info;
  std::vector<std::string> secrets;  // for the logger's redaction
  std::vector<std::string> warnings; // deprecated keys and the like: printed by validate, logged by run
};

AppConfig load_config(const ConfigNode& root);

// The pull source named `name`, or the only one when `name` is "" (the
// commands that work on one account: export, report, webhook). Throws
// FatalError saying what to pass.
const PullSourceConfig& pull_source(const AppConfig& config, const std::string& name);

}  // namespace zf::app
