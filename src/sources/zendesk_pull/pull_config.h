#pragma once
// A zendesk_pull entry of `sources:` (or the `zendesk:` shorthand), read
// and checked once; every problem is a ConfigError naming the key.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "config/config_node.h"
#include "enrich/user_directory.h"
#include "net/http_client.h"
#include "sources/source_entry.h"
#include "sources/zendesk_pull/access_log_source.h"

namespace zf::source {

struct StartPoint {
  std::optional<int64_t> at_unix_s;              // an absolute timestamp
  std::chrono::seconds back{7 * 24 * 3600};      // or this long before now
  int64_t resolve(int64_t now) const { return at_unix_s ? *at_unix_s : now - back.count(); }
};

// One Zendesk account read through the Access Logs API: an entry of
// `sources:` with `type: zendesk_pull`, or the `zendesk:` shorthand.
// `account`: the subdomain, or the base_url's host.
struct PullSourceConfig : SourceEntry {
  PullSourceConfig() { type = "zendesk_pull"; }
  source::SourceSettings source;
  net::HttpSettings http;
  int rate_limit_requests = 50;
  std::chrono::milliseconds rate_limit_period{60'000};
  StartPoint start;
  bool keep_original = false;
  // dedup_with: the zendesk_webhook source of the same account whose
  // deliveries this pull source skips ("" = none).
  std::string dedup_with;
  // enrich.users: names from the Users API (base_url and auth are the
  // source's); nullopt = off.
  std::optional<enrich::DirectorySettings> enrich_users;
};

// Reads everything but `name` and `checkpoint` (the caller's: the shorthand
// has neither key).
void read_pull_source(const ConfigNode& z, PullSourceConfig& c, ConfigNotes& notes);

}  // namespace zf::source
