#include "app/app_config.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>
#include <arpa/inet.h>

#include <cctype>
#include <cstdint>

#include "core/errors.h"
#include "core/time_format.h"

namespace zf::app {

namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// Only an address literal in 127/8, ::1 or the name localhost: a prefix
// test would let 127.0.0.1.example.com (a DNS name) pass.
bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "[::1]" || host == "::1") return true;
  in_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

bool has_userinfo(const std::string& url) {
  size_t scheme_end = url.find("://");
  size_t start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string authority = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  return authority.find('@') != std::string::npos;
}

// `z` is the `zendesk:` section or one `sources:` entry; key names in
// messages come from the node's own path.
void read_zendesk(const ConfigNode& z, PullSourceConfig& c, AppConfig& app) {
  auto subdomain = z.find_string("subdomain");
  auto base_url = z.find_string("base_url");
  if (subdomain && base_url) z.fail("base_url", "set either " + z.key_path("subdomain") + " or " + z.key_path("base_url") + ", not both");
  if (!subdomain && !base_url) z.fail("subdomain", "is required (the \"acme\" of acme.zendesk.com), or set " + z.key_path("base_url"));
  if (subdomain) {
    bool ok = !subdomain->empty() && std::all_of(subdomain->begin(), subdomain->end(), [](unsigned char ch) {
      return std::islower(ch) || std::isdigit(ch) || ch == '-';
    });
    if (!ok) z.fail("subdomain", "expected the account's subdomain only (lower-case letters, digits, '-'), e.g. acme");
    c.account = *subdomain;
    c.source.base_url = "https://" + *subdomain + ".zendesk.com";
  } else {
    std::string url = *base_url;
    while (!url.empty() && url.back() == '/') url.pop_back();
    // Never printed: it may hold a password.
    if (has_userinfo(url))
      z.fail("base_url", "must not contain credentials (user:password@); put them under " + z.key_path("auth"));
    auto origin = net::origin_of(url);
    if (!origin || (origin->scheme != "https" && origin->scheme != "http"))
      z.fail("base_url", "expected an http(s) URL such as https://acme.zendesk.com");
    if (origin->scheme == "http" && !is_loopback_host(origin->host))
      z.fail("base_url", "plain http is allowed only for loopback (the emulator); use https for " + origin->host);
    c.source.base_url = url;
    // The account label: the subdomain of a Zendesk-like host name, the
    // whole host for an address (the emulator on 127.0.0.1).
    bool numeric = origin->host.find_first_not_of("0123456789.:[]") == std::string::npos;
    c.account = z.get_string("account", numeric || is_loopback_host(origin->host)
                                            ? origin->host
                                            : origin->host.substr(0, origin->host.find('.')));
  }

  ConfigNode auth = z.child("auth");
  std::string type = auth.get_enum("type", {"api_token", "password", "oauth"}, "api_token");
  if (type == "oauth") {
    auto token = auth.get_secret("oauth_token");
    if (!token) auth.fail("oauth_token", "is required for auth.type oauth (or oauth_token_file)");
    c.source.authorization = source::bearer_authorization(*token);
  } else {
    std::string email = auth.require_string("email");
    if (email.find('@') == std::string::npos) auth.fail("email", "expected the admin's email address");
    if (type == "api_token") {
      auto token = auth.get_secret("token");
      if (!token) auth.fail("token", "is required for auth.type api_token (or token_file)");
      c.source.authorization = source::basic_authorization(email + "/token", *token);
    } else {
      auto password = auth.get_secret("password");
      if (!password) auth.fail("password", "is required for auth.type password (or password_file)");
      c.source.authorization = source::basic_authorization(email, *password);
    }
  }
  // The encoded header is as secret as the token it carries.
  app.secrets.push_back(c.source.authorization);
  app.secrets.push_back(c.source.authorization.substr(c.source.authorization.find(' ') + 1));

  std::string start = z.get_string("start", "7d");
  if (auto d = parse_duration(start)) {
    c.start.back = std::chrono::duration_cast<std::chrono::seconds>(*d);
  } else if (auto ms = parse_rfc3339_ms(start)) {
    c.start.at_unix_s = *ms / 1000;
    auto now_s =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (*c.start.at_unix_s > now_s + 60) z.fail("start", "is in the future (" + start + "); nothing would be read");
  } else {
    z.fail("start", "expected a duration back from now (e.g. 7d, 12h) or a timestamp such as 2026-11-01T00:00:00Z");
  }

  c.source.page_size = static_cast<int>(z.get_int("page_size", 1, 2500, c.source.page_size));
  auto& w = c.source.windows;
  // Defaults are the settings structs' own, stated once there.
  auto secs = [](milliseconds d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); };
  auto as_ms = [](int64_t s) { return milliseconds(s * 1000); };
  w.settle_delay_s = secs(z.get_duration("settle_delay", 0ms, 24h, as_ms(w.settle_delay_s)));
  w.max_window_s = secs(z.get_duration("max_window", 1min, 90 * 24h, as_ms(w.max_window_s)));
  w.poll_interval_s = secs(z.get_duration("poll_interval", 1s, 24h, as_ms(w.poll_interval_s)));
  if (z.has("overlap")) {
    // Version 0.1 re-read `overlap` at every poll; a late read covers the
    // same lateness at a fraction of the requests.
    if (z.has("late_read_delay")) z.fail("overlap", "replaced by " + z.key_path("late_read_delay") + "; set only that one");
    w.late_read_delay_s = secs(z.get_duration("overlap", 1s, 30 * 24h, as_ms(w.late_read_delay_s)));
    app.warnings.push_back(z.key_path("overlap") + " is deprecated: read as " + z.key_path("late_read_delay") +
                           " (each window is read once "
                         "more that long after its end, instead of re-reading the overlap at every poll)");
  } else {
    w.late_read_delay_s = secs(z.get_duration("late_read_delay", 0ms, 30 * 24h, as_ms(w.late_read_delay_s)));
  }
  if (w.late_read_delay_s != 0 && w.late_read_delay_s <= w.settle_delay_s)
    z.fail("late_read_delay", "must be longer than " + z.key_path("settle_delay") + " (or 0 to turn late reads off)");
  // Both at most 30 days, so a late read is always asked within retention.
  w.late_read_max_backlog_s =
      secs(z.get_duration("late_read_max_backlog", 1min, 30 * 24h, as_ms(w.late_read_max_backlog_s)));
  if (z.has("dedup_max_ids")) {
    z.get_int("dedup_max_ids", 0, INT64_MAX, 0);
    app.warnings.push_back(z.key_path("dedup_max_ids") + " is no longer used and is ignored: late reads keep exactly the ids "
                         "of windows awaiting them, on disk beside the checkpoint");
  }

  ConfigNode rl = z.child("rate_limit");
  c.rate_limit_requests = static_cast<int>(rl.get_int("requests", 1, 100000, c.rate_limit_requests));
  c.rate_limit_period = rl.get_duration("period", 100ms, 1h, c.rate_limit_period);

  ConfigNode retry = z.child("retry");
  c.source.retry_initial = retry.get_duration("initial_backoff", 10ms, 10min, c.source.retry_initial);
  c.source.retry_max = retry.get_duration("max_backoff", 10ms, 1h, c.source.retry_max);
  c.source.auth_retry = retry.get_duration("auth_error_interval", 10ms, 24h, c.source.auth_retry);

  c.http.connect_timeout = z.get_duration("connect_timeout", 100ms, 10min, c.http.connect_timeout);
  c.http.total_timeout = z.get_duration("request_timeout", 1s, 1h, c.http.total_timeout);
  c.http.ca_file = z.get_string("ca_file", "");
  c.http.max_body_bytes =
      static_cast<size_t>(z.get_int("max_response_size_mib", 4, 1024, static_cast<int64_t>(c.http.max_body_bytes >> 20))) << 20;
  c.http.user_agent = std::string("zendesk-forwarder/") + ZF_VERSION;
  c.keep_original = z.get_bool("keep_original", c.keep_original);
  c.dedup_with = z.get_string("dedup_with", "");

  if (z.has("enrich")) {
    ConfigNode en = z.child("enrich");
    if (en.get_bool("users", false)) {
      enrich::DirectorySettings d;
      d.base_url = c.source.base_url;
      d.authorization = c.source.authorization;
      d.http = c.http;
      // A slow Users API must not slow delivery: short requests.
      d.http.total_timeout = en.get_duration("request_timeout", 100ms, 1min, 5s);
      d.ttl = std::chrono::duration_cast<std::chrono::seconds>(en.get_duration("cache_ttl", 1s, 30 * 24h, 1h));
      d.max_entries = static_cast<size_t>(en.get_int("cache_size", 1, 10'000'000, static_cast<int64_t>(d.max_entries)));
      ConfigNode erl = en.child("rate_limit");
      d.budget_requests = static_cast<int>(erl.get_int("requests", 1, 100000, d.budget_requests));
      d.budget_period = erl.get_duration("period", 100ms, 1h, d.budget_period);
      erl.reject_unknown_keys();
      c.enrich_users = d;
    }
    en.reject_unknown_keys();
  }
}

// Names go into metric labels, log fields and file names.
bool is_source_name(const std::string& n) {
  return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](unsigned char ch) {
    return std::islower(ch) || std::isdigit(ch) || ch == '-' || ch == '_';
  });
}

void read_webhook(const ConfigNode& item, AppConfig& app) {
  using namespace std::chrono_literals;
  WebhookSourceConfig& w = app.webhooks.emplace_back();
  w.name = item.require_string("name");
  w.account = item.require_string("account");
  auto& s = w.settings;
  std::string listen = item.require_string("listen");
  size_t colon = listen.rfind(':');
  std::string port = colon == std::string::npos ? "" : listen.substr(colon + 1);
  if (colon == 0 || port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
      std::stol(port) > 65535)
    item.fail("listen", "expected host:port, e.g. 0.0.0.0:8443, got " + item.shown("listen", listen));
  s.host = listen.substr(0, colon);
  s.port = static_cast<uint16_t>(std::stol(port));
  s.path = item.get_string("path", s.path);
  if (s.path.empty() || s.path[0] != '/') item.fail("path", "must start with /, got " + item.shown("path", s.path));
  // Two while rotating: the new one and the one Zendesk may still sign with.
  for (const char* key : {"signing_secret", "previous_signing_secret"})
    if (auto secret = item.get_secret(key)) s.secrets.push_back(*secret);
  if (s.secrets.empty())
    item.fail("signing_secret", "is required (or signing_secret_file): the webhook's signing secret from Zendesk");
  ConfigNode tls = item.child("tls");
  s.tls_cert_file = tls.get_string("cert_file", "");
  s.tls_key_file = tls.get_string("key_file", "");
  if (s.tls_cert_file.empty() != s.tls_key_file.empty())
    tls.fail(s.tls_cert_file.empty() ? "cert_file" : "key_file", "goes with the other: give cert_file and key_file");
  tls.reject_unknown_keys();
  s.max_body_bytes = static_cast<size_t>(item.get_int("max_body_size_kib", 1, 65536, 1024)) << 10;
  // What the listener may hold for requests across every connection: the
  // bound on its memory whatever unauthenticated clients send.
  s.max_buffered_bytes = static_cast<size_t>(item.get_int("max_buffered_mib", 1, 65536,
                                                           static_cast<int64_t>(s.max_buffered_bytes >> 20))) << 20;
  // A request over 64 KiB may use 7/8 of the budget (the rest is kept for
  // small pushes): the largest allowed body and its head must fit there.
  if (s.max_buffered_bytes - s.max_buffered_bytes / 8 < s.max_body_bytes + (16 << 10))
    item.fail("max_buffered_mib", "must hold one request of max_body_size_kib (" +
                                      std::to_string(s.max_body_bytes >> 10) +
                                      " KiB) and its head in 7/8 of it (the rest is kept for small pushes)");
  s.max_connections_per_ip = static_cast<size_t>(item.get_int("max_connections_per_ip", 0, 1'000'000, 0));
  s.timestamp_tolerance = std::chrono::duration_cast<std::chrono::seconds>(
      item.get_duration("timestamp_tolerance", 10s, 1h, 5min));
  s.ack_timeout = item.get_duration("ack_timeout", 100ms, 60s, s.ack_timeout);
  ConfigNode checkpoint = item.child("checkpoint");
  w.checkpoint_path = checkpoint.require_string("path");
  w.max_ids = static_cast<size_t>(checkpoint.get_int("max_ids", 1000, 100'000'000, static_cast<int64_t>(w.max_ids)));
  checkpoint.reject_unknown_keys();
  item.reject_unknown_keys();
}

// Keys a zendesk_webhook entry takes from `defaults:`; type and checkpoint
// go to both types, every other key to zendesk_pull entries.
const std::set<std::string> kWebhookDefaultKeys = {"path", "tls", "max_body_size_kib", "max_buffered_mib",
                                                   "max_connections_per_ip", "timestamp_tolerance", "ack_timeout"};
const std::set<std::string> kBothDefaultKeys = {"type", "checkpoint"};

// One entry of the sources, before it is read: from `sources:` (file "")
// or from a file of `sources_from:`.
struct RawEntry {
  YAML::Node yaml;
  std::string file;   // as the user would find it, e.g. accounts/acme.yaml
  size_t index = 0;   // in `sources:` or in its file
};

// `{source}` in a checkpoint path is the source's name: one line in
// `defaults:` gives each of many accounts its own file.
std::string expand_source(std::string path, const std::string& name) {
  for (size_t at = path.find("{source}"); at != std::string::npos; at = path.find("{source}", at + name.size()))
    path.replace(at, 8, name);
  return path;
}

void read_entries_file(const std::filesystem::path& file, const std::string& shown, std::vector<RawEntry>& out) {
  YAML::Node doc = ConfigNode::parse_file(file.string(), shown);
  if (!doc || doc.IsNull()) return;  // an empty file: an account switched off by emptying it
  if (doc.IsMap()) {
    out.push_back({doc, shown, 0});
    return;
  }
  if (!doc.IsSequence()) throw ConfigError(shown, "expected one source (a mapping) or a list of sources");
  for (size_t i = 0; i < doc.size(); ++i) {
    if (!doc[i].IsMap()) throw ConfigError(shown + " [" + std::to_string(i) + "]", "expected a mapping (one source)");
    out.push_back({doc[i], shown, i});
  }
}

// sources_from: files or directories of *.yaml (each file one source or a
// list), read in name order; relative paths are from the config file's
// directory. Hidden names are skipped: a Kubernetes ConfigMap volume holds
// ..data and ..<timestamp> beside the files.
std::vector<RawEntry> read_sources_from(const ConfigNode& root) {
  std::vector<RawEntry> out;
  namespace fs = std::filesystem;
  fs::path base = fs::path(root.origin()).parent_path();
  for (const std::string& where : root.get_string_list("sources_from")) {
    if (where.empty()) root.fail("sources_from", "is empty: give a file or directory of sources");
    fs::path p = fs::path(where).is_absolute() ? fs::path(where) : base / where;
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> names;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        std::string n = e.path().filename().string();
        std::string ext = e.path().extension().string();
        if (n.empty() || n[0] == '.' || (ext != ".yaml" && ext != ".yml") || !fs::is_regular_file(e.path(), ec)) continue;
        names.push_back(n);
      }
      if (ec) root.fail("sources_from", "cannot list directory " + p.string() + ": " + ec.message());
      std::sort(names.begin(), names.end());
      for (const auto& n : names) read_entries_file(p / n, (fs::path(where) / n).string(), out);
    } else if (fs::exists(p, ec)) {
      read_entries_file(p, where, out);
    } else {
      root.fail("sources_from", "no such file or directory: " + p.string());
    }
  }
  return out;
}

// `defaults:` split by the type it applies to; a key no type takes, or a
// key for a type the config has no source of, is refused by name.
struct SourceDefaults {
  YAML::Node pull, webhook;
};

SourceDefaults read_defaults(const ConfigNode& root, const std::vector<RawEntry>& entries) {
  SourceDefaults d;
  const YAML::Node all = root.raw("defaults");
  if (!all || all.IsNull()) return d;
  if (!all.IsMap()) root.fail("defaults", "expected a mapping of source keys (e.g. rate_limit:, checkpoint:)");
  auto type_of = [&](const YAML::Node& e) {
    YAML::Node t = e["type"] ? e["type"] : all["type"];
    return t && t.IsScalar() ? t.Scalar() : std::string();
  };
  bool any_pull = false, any_webhook = false;
  for (const auto& e : entries) (type_of(e.yaml) == "zendesk_webhook" ? any_webhook : any_pull) = true;
  d.pull = YAML::Node(YAML::NodeType::Map);
  d.webhook = YAML::Node(YAML::NodeType::Map);
  for (auto it = all.begin(); it != all.end(); ++it) {
    std::string k = it->first.Scalar();
    if (k == "name") throw ConfigError("defaults.name", "each source names itself; set name in each entry");
    bool webhook = kWebhookDefaultKeys.count(k) || kBothDefaultKeys.count(k);
    bool pull = !kWebhookDefaultKeys.count(k);
    if (webhook) d.webhook[k] = it->second;
    if (pull) d.pull[k] = it->second;
    if (!(webhook && any_webhook) && !(pull && any_pull))
      throw ConfigError("defaults." + k, std::string("is a ") + (pull ? "zendesk_pull" : "zendesk_webhook") +
                                             " setting and no source of that type takes it (a misspelt key?)");
  }
  return d;
}

void read_sources(const ConfigNode& root, AppConfig& c) {
  if (root.has("zendesk")) {
    if (root.has("sources"))
      root.fail("sources", "set either sources (a list) or the zendesk shorthand for one source, not both");
    for (const char* key : {"defaults", "sources_from"})
      if (root.has(key)) root.fail(key, "applies to the sources list; the zendesk shorthand is one source");
    PullSourceConfig& s = c.sources.emplace_back();
    s.name = "zendesk";
    read_zendesk(root.child("zendesk"), s, c);
    if (!s.dedup_with.empty())
      root.child("zendesk").fail("dedup_with", "needs a zendesk_webhook source beside it: use the sources list");
    s.checkpoint_path = root.child("checkpoint").require_string("path");
    c.sources_form = "zendesk (shorthand for one zendesk_pull source named \"zendesk\")";
    return;
  }
  if (!root.has("sources") && !root.has("sources_from"))
    root.fail("sources", "is required: a list of sources (or sources_from: a file or directory of them), or the "
                         "zendesk section for one account");
  if (root.has("checkpoint"))
    root.fail("checkpoint", "belongs to each entry of sources (each source has its own checkpoint; for many, "
                            "defaults: {checkpoint: {path: /var/lib/zendesk-forwarder/{source}.json}})");
  std::vector<RawEntry> raw;
  if (root.has("sources")) {
    YAML::Node seq = root.raw("sources");
    if (!seq.IsSequence()) root.fail("sources", "expected a list");
    for (size_t i = 0; i < seq.size(); ++i) {
      if (!seq[i].IsMap()) throw ConfigError("sources[" + std::to_string(i) + "]", "expected a mapping");
      raw.push_back({seq[i], "", i});
    }
    if (raw.empty() && !root.has("sources_from")) root.fail("sources", "is empty: list at least one source");
  }
  size_t inline_count = raw.size();
  for (auto& e : read_sources_from(root)) raw.push_back(std::move(e));
  if (raw.empty()) root.fail("sources_from", "holds no source: list at least one");
  SourceDefaults defaults = read_defaults(root, raw);

  // Where each name was first given, for the message naming both.
  std::unordered_map<std::string, std::string> name_owner;
  std::vector<std::pair<std::string, ConfigNode>> read;  // name, its merged entry
  read.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    const RawEntry& e = raw[i];
    // Inline entries keep their index; an entry of a file is named by its
    // name (an index across many files would help no one find it).
    std::string path = "sources[" + std::to_string(e.index) + "]";
    if (i >= inline_count) {
      const YAML::Node& own = e.yaml;
      YAML::Node n = own["name"];
      std::string name = n && n.IsScalar() ? n.Scalar() : "";
      if (name.empty() || !is_source_name(name))
        throw ConfigError(e.file + " [" + std::to_string(e.index) + "]: name",
                          name.empty() ? "is required" : "expected lower-case letters, digits, '-' or '_' (at most 64)");
      path = "sources[" + name + "]";
    }
    const YAML::Node& own = e.yaml;
    const YAML::Node& pull_defaults = defaults.pull;
    YAML::Node t = own["type"] ? own["type"] : pull_defaults ? pull_defaults["type"] : YAML::Node();
    bool webhook_type = t && t.IsScalar() && t.Scalar() == "zendesk_webhook";
    ConfigNode item = root.adopt(e.yaml, path, e.file, webhook_type ? defaults.webhook : defaults.pull);
    std::string type = item.require_string("type");
    if (type != "zendesk_pull" && type != "zendesk_webhook")
      item.fail("type", "unknown source type " + item.shown("type", type) + "; known types: zendesk_pull, zendesk_webhook");
    std::string name = item.require_string("name");
    if (!is_source_name(name))
      item.fail("name", "expected lower-case letters, digits, '-' or '_' (at most 64), got " + item.shown("name", name));
    std::string where = path + (e.file.empty() ? "" : " (" + e.file + ")");
    auto [owner, fresh] = name_owner.emplace(name, where);
    if (!fresh) item.fail("name", "\"" + name + "\" is already the name of another source (" + owner->second + ")");
    if (type == "zendesk_webhook") {
      read_webhook(item, c);
      c.webhooks.back().checkpoint_path = expand_source(c.webhooks.back().checkpoint_path, name);
    } else {
      PullSourceConfig& s = c.sources.emplace_back();
      s.name = name;
      read_zendesk(item, s, c);
      s.checkpoint_path = expand_source(item.child("checkpoint").require_string("path"), name);
      item.reject_unknown_keys();
    }
    read.emplace_back(name, item);
  }
  // Two sources writing one file would overwrite each other's position.
  // Compared as the files they resolve to: cp.json, ./cp.json, $PWD/cp.json
  // and a symlinked directory's path are one file.
  auto same_file = [](const std::string& p) {
    std::error_code ec;
    auto resolved = std::filesystem::weakly_canonical(std::filesystem::absolute(p), ec);
    return (ec ? std::filesystem::path(p).lexically_normal() : resolved).string();
  };
  std::unordered_map<std::string, std::string> checkpoint_owner;
  for (const auto& s : c.sources) checkpoint_owner.emplace(same_file(s.checkpoint_path), s.name);
  for (const auto& w : c.webhooks) checkpoint_owner.emplace(same_file(w.checkpoint_path), w.name);
  std::unordered_map<std::string, const ConfigNode*> node_of;
  for (const auto& [name, item] : read) node_of.emplace(name, &item);
  auto check_own = [&](const std::string& name, const std::string& path) {
    const std::string& owner = checkpoint_owner.at(same_file(path));
    if (owner != name)
      node_of.at(name)->child("checkpoint").fail(
          "path", "is also source \"" + owner + "\"'s checkpoint (" + path +
                      "); give each source its own file (with many, put {source} in the path: it becomes the name)");
  };
  for (const auto& s : c.sources) check_own(s.name, s.checkpoint_path);
  for (const auto& w : c.webhooks) check_own(w.name, w.checkpoint_path);
  // The message's order follows the entries; check in that order.
  for (const auto& s : c.sources) {
    if (s.dedup_with.empty()) continue;
    bool found = std::any_of(c.webhooks.begin(), c.webhooks.end(), [&](const auto& w) { return w.name == s.dedup_with; });
    if (!found)
      node_of.at(s.name)->fail("dedup_with", "names no zendesk_webhook source: " +
                                                 node_of.at(s.name)->shown("dedup_with", s.dedup_with));
  }
  c.sources_form = "sources (" + std::to_string(c.sources.size() + c.webhooks.size()) + ")";
}

}  // namespace

AppConfig load_config(const ConfigNode& root) {
  AppConfig c;
  read_sources(root, c);

  ConfigNode p = root.child("pipeline");
  c.max_inflight_batches =
      static_cast<size_t>(p.get_int("max_inflight_batches", 1, 256, static_cast<int64_t>(c.max_inflight_batches)));
  c.sink_retry_initial = p.get_duration("sink_retry_initial", std::chrono::milliseconds(10), std::chrono::minutes(10),
                                        c.sink_retry_initial);
  c.sink_retry_max = p.get_duration("sink_retry_max", std::chrono::milliseconds(10), std::chrono::hours(1), c.sink_retry_max);
  c.shutdown_timeout = p.get_duration("shutdown_timeout", std::chrono::milliseconds(100), std::chrono::minutes(10),
                                      c.shutdown_timeout);
  c.progress_interval = p.get_duration("progress_interval", std::chrono::milliseconds(100), std::chrono::hours(1),
                                       c.progress_interval);
  c.workers = static_cast<size_t>(p.get_int("workers", 1, 64, static_cast<int64_t>(c.workers)));
  c.memory_limit_bytes = static_cast<size_t>(p.get_int("memory_limit_mib", 16, 65536,
                                                       static_cast<int64_t>(c.memory_limit_bytes >> 20)))
                         << 20;
  if (p.has("startup_spread"))
    c.startup_spread = p.get_duration("startup_spread", std::chrono::milliseconds(0), std::chrono::minutes(10),
                                      std::chrono::milliseconds(0));

  c.sinks = sinks::configure_all(root);
  for (size_t i = 0; i < c.sinks.size(); ++i) {
    if (!c.sinks[i].read_position) continue;
    // The transaction holds one sink's records and one source's position.
    ConfigNode sink = root.items("sinks")[i];
    if (c.sinks.size() != 1)
      sink.fail("exactly_once", "needs this kafka sink to be the only sink: another sink's deliveries would be "
                                "outside its transactions");
    if (c.sources.empty() || !c.webhooks.empty())
      sink.fail("exactly_once", "needs zendesk_pull sources only (their positions are what the transactions "
                                "store; a webhook source keeps none)");
  }

  // Coordination (#30): the accounts move between replicas, so everything
  // a new owner needs must be where every replica reads it.
  ConfigNode co = root.child("coordination");
  if (!co.is_null()) {
    c.coordination_shared_checkpoints = co.get_bool("shared_checkpoints", false);
    c.coordination = coord::parse_coordination(co);
  }
  if (c.coordination.enabled) {
    if (c.sources.empty() || !c.webhooks.empty())
      co.fail("enabled", "needs zendesk_pull sources only: a zendesk_webhook source is not coordinated; run it in a "
                         "single-replica deployment of its own (docs/KAFKA.md, Coordination)");
    bool positions_in_kafka =
        std::any_of(c.sinks.begin(), c.sinks.end(), [](const auto& s) { return static_cast<bool>(s.read_position); });
    if (!positions_in_kafka && !c.coordination_shared_checkpoints)
      co.fail("enabled", "needs the positions where the next owner of an account finds them: a kafka sink with "
                         "exactly_once: true (positions in its checkpoint topic), or shared_checkpoints: true with "
                         "every source's checkpoint_path on a volume all replicas mount (ReadWriteMany)");
    for (size_t i = 0; i < c.sinks.size(); ++i)
      if (c.sinks[i].read_position && root.items("sinks")[i].has("transactional_id"))
        root.items("sinks")[i].fail("transactional_id",
                                    "is the same on every replica under coordination.enabled: they would fence each "
                                    "other's transactions; leave it unset (each replica then derives its own)");
    if (positions_in_kafka && c.coordination_shared_checkpoints)
      co.fail("shared_checkpoints", "is for sinks without exactly_once; with an exactly_once kafka sink the positions "
                                    "live in its checkpoint topic");
  }

  ConfigNode m = root.child("metrics");
  c.health.listen = m.get_string("listen", "");
  if (!c.health.listen.empty()) {
    size_t colon = c.health.listen.rfind(':');
    std::string port = colon == std::string::npos ? "" : c.health.listen.substr(colon + 1);
    bool digits = !port.empty() && port.size() <= 5 &&
                  std::all_of(port.begin(), port.end(), [](unsigned char ch) { return std::isdigit(ch); });
    if (!digits || std::stol(port) > 65535)
      m.fail("listen", "expected host:port with a port from 0 to 65535, e.g. 127.0.0.1:9464, got " +
                           m.shown("listen", c.health.listen));
  }
  c.health.metrics_token = m.get_secret("auth_token").value_or("");
  if (m.has("per_source_histograms")) c.health.per_source_histograms = m.get_bool("per_source_histograms", true);
  ConfigNode ready = m.child("readiness");
  c.health.max_fetch_age = ready.get_duration("max_fetch_age", std::chrono::seconds(1), std::chrono::hours(24), c.health.max_fetch_age);
  c.health.max_delivery_age =
      ready.get_duration("max_delivery_age", std::chrono::seconds(1), std::chrono::hours(24), c.health.max_delivery_age);

  ConfigNode log = root.child("log");
  std::string level = log.get_enum("level", {"debug", "info", "warn", "error"}, "info");
  c.log_level = *parse_log_level(level);

  root.reject_unknown_keys();
  auto more = root.secrets();
  c.secrets.insert(c.secrets.end(), more.begin(), more.end());
  return c;
}

const PullSourceConfig& pull_source(const AppConfig& config, const std::string& name) {
  std::string names;
  for (const auto& s : config.sources) {
    if (name.empty() ? config.sources.size() == 1 : s.name == name) return s;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  if (config.sources.empty())
    throw FatalError("this command reads an account through a zendesk_pull source's credentials; the config has none");
  throw FatalError(name.empty() ? "the config has several pull sources (" + names + "): say which with --source NAME"
                                : "no pull source named \"" + name + "\" in the config (it has " + names + ")");
}

}  // namespace zf::app
