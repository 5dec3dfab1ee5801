#include "sources/zendesk_pull/pull_config.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>

#include "core/time_format.h"

namespace zf::source {

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
}  // namespace

void read_pull_source(const ConfigNode& z, PullSourceConfig& c, ConfigNotes& notes) {
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
  notes.secrets.push_back(c.source.authorization);
  notes.secrets.push_back(c.source.authorization.substr(c.source.authorization.find(' ') + 1));

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
    notes.warnings.push_back(z.key_path("overlap") + " is deprecated: read as " + z.key_path("late_read_delay") +
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
    notes.warnings.push_back(z.key_path("dedup_max_ids") + " is no longer used and is ignored: late reads keep exactly the ids "
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

}  // namespace zf::source
