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
#include "sources/source_types.h"
#include "sources/zendesk_pull/pull_config.h"
#include "sources/zendesk_webhook/webhook_config.h"

namespace zf::app {

using source::PullSourceConfig;
using source::WebhookSourceConfig;
using source::ConfigNotes;

struct HealthSettings {
  std::string listen;                              // "" = no metrics/health endpoint
  std::string metrics_token;                       // "" = /metrics open to whoever reaches `listen`
  std::chrono::milliseconds max_fetch_age{300'000};
  std::chrono::milliseconds max_delivery_age{300'000};
  // Histograms per source, or one set for the process (nullopt: per source
  // up to 100 sources; with more their bucket series would dominate).
  std::optional<bool> per_source_histograms;
};

struct AppConfig {
  // Every entry of `sources:`, in order, each read by its type.
  source::SourceEntries sources;
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

// The entries of one type's settings, e.g. sources_of<PullSourceConfig>:
// for the commands that read an account through a type's own settings.
template <class Settings>
std::vector<const Settings*> sources_of(const AppConfig& config) {
  std::vector<const Settings*> out;
  for (const auto& s : config.sources)
    if (auto* typed = dynamic_cast<const Settings*>(s.get())) out.push_back(typed);
  return out;
}

// The pull source named `name`, or the only one when `name` is "" (the
// commands that work on one account: export, report, webhook). Throws
// FatalError saying what to pass.
const PullSourceConfig& pull_source(const AppConfig& config, const std::string& name);

}  // namespace zf::app
