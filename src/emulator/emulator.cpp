#include "emulator/emulator.h"

#include <httplib.h>

#include <algorithm>
#include <set>
#include <shared_mutex>
#include <sstream>

#include "core/encoding.h"
#include "core/time_format.h"
#include "emulator/dataset.h"
#include "emulator/listing_query.h"

namespace zf::emulator {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr const char* kAccessLogEventType = "zen:event-type:access_log.created";

std::string error_body(const std::string& title, const std::string& detail) {
  return nlohmann::json({{"errors", {{{"title", title}, {"detail", detail}}}}}).dump();
}

std::string b64url(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      out += t[(buf >> (bits - 6)) & 63];
      bits -= 6;
    }
  }
  if (bits > 0) out += t[(buf << (6 - bits)) & 63];
  return out;
}

std::optional<std::string> b64url_decode(const std::string& in) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-' ? 62 : c == '_' ? 63 : -1;
    if (v < 0) return std::nullopt;
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      out += static_cast<char>((buf >> (bits - 8)) & 0xFF);
      bits -= 8;
    }
  }
  return out;
}

// Page position: the (timestamp, id) of the last event served, so that
// events inserted meanwhile do not shift the cursor.
struct Key {
  int64_t ts_ms;
  std::string id;
};
std::string encode_cursor(const Emulator::Event& e) { return b64url(std::to_string(e.ts_ms) + ":" + e.id); }
std::optional<Key> decode_cursor(const std::string& c) {
  auto raw = b64url_decode(c);
  if (!raw) return std::nullopt;
  size_t colon = raw->find(':');
  if (colon == std::string::npos || colon == 0 || raw->size() - colon - 1 != 26) return std::nullopt;
  try {
    return Key{std::stoll(raw->substr(0, colon)), raw->substr(colon + 1)};
  } catch (...) {
    return std::nullopt;
  }
}

std::string http_date(int64_t unix_s) {
  std::time_t t = unix_s;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

}  // namespace

std::string to_string(ResetFormat f) {
  switch (f) {
    case ResetFormat::Rfc3339: return "rfc3339";
    case ResetFormat::HttpDate: return "http-date";
    case ResetFormat::EpochSeconds: return "epoch";
    case ResetFormat::DeltaSeconds: return "delta";
    case ResetFormat::RetryAfterOnly: return "retry-after";
    case ResetFormat::None: return "none";
    case ResetFormat::Garbage: return "garbage";
  }
  return "rfc3339";
}

ResetFormat parse_reset_format(const std::string& s) {
  for (auto f : {ResetFormat::Rfc3339, ResetFormat::HttpDate, ResetFormat::EpochSeconds, ResetFormat::DeltaSeconds,
                 ResetFormat::RetryAfterOnly, ResetFormat::None, ResetFormat::Garbage})
    if (to_string(f) == s) return f;
  throw std::invalid_argument("unknown reset format \"" + s +
                              "\" (rfc3339, http-date, epoch, delta, retry-after, none, garbage)");
}

Fault parse_fault(const std::string& s) {
  if (s == "5xx") return Fault::ServerError;
  if (s == "drop") return Fault::DropConnection;
  if (s == "slow") return Fault::Slow;
  if (s == "truncate") return Fault::TruncatedBody;
  if (s == "malformed") return Fault::MalformedJson;
  throw std::invalid_argument("unknown fault \"" + s + "\" (5xx, drop, slow, truncate, malformed)");
}

struct Emulator::Impl {
  Options opts;
  httplib::Server server;
  std::thread server_thread, live_thread;
  std::string host;
  uint16_t port = 0;
  int64_t started_ms = now_ms();

  mutable std::shared_mutex data_mu;  // events
  // Ordered by (ts_ms, id). A map, not a sorted vector: a late event lands
  // minutes before the end, and at thousands of events a second shifting a
  // vector's tail for each would make the emulator the bottleneck.
  using EventMap = std::map<std::pair<int64_t, std::string>, Event>;
  EventMap events;
  std::mt19937_64 rng;                // data generation (under data_mu)

  mutable std::mutex mu;              // everything below
  std::mt19937_64 fault_rng;
  Stats stats;
  int64_t window_index = -1;
  int window_count = 0;
  std::map<std::string, int64_t> reset_given_ms;  // per Authorization value
  std::atomic<bool> live_running{false};
  int64_t users_window_index = -1;
  int users_window_count = 0;

  std::vector<Person> people;          // agents first, then end users; immutable once built
  std::map<std::string, nlohmann::json> webhooks;  // the Webhooks API's webhooks by id (under mu)
  std::map<std::string, std::string> webhook_secrets;
  std::map<int64_t, size_t> person_at;  // id -> index in people
  Population population;
  WebhookSender pushes;

  explicit Impl(Options o) : opts(std::move(o)), rng(opts.seed), fault_rng(opts.seed ^ 0x9e3779b97f4a7c15ULL),
        pushes(opts.push, opts.seed ^ 0x5851f42d4c957f2dULL) {
    people = make_people(opts.agents, opts.end_users, opts.hostile_names);
    for (size_t i = 0; i < people.size(); ++i) {
      person_at[people[i].id] = i;
      (people[i].role == "end-user" ? population.profiles : population.actors).push_back(people[i].id);
    }
    int64_t end = now_ms() - opts.end_gap.count() * 1000;
    int64_t span = std::max<int64_t>(1, opts.span.count() * 1000);
    int64_t visible = now_ms();
    for (size_t i = 0; i < opts.events; ++i) {
      int64_t ts = end - span + static_cast<int64_t>(rng() % static_cast<uint64_t>(span));
      Event e = make_event(ts, rng, opts.awkward, population);
      e.visible_ms = visible;
      auto key = std::make_pair(e.ts_ms, e.id);
      events.emplace(std::move(key), std::move(e));
    }
  }

  bool authorized(const httplib::Request& req) {
    std::string auth = req.get_header_value("Authorization");
    auto basic = [](const std::string& user, const std::string& secret) {
      return "Basic " + base64_encode(user + ":" + secret);
    };
    return auth == basic(opts.email + "/token", opts.api_token) || auth == basic(opts.email, opts.password) ||
           auth == "Bearer " + opts.bearer;
  }

  void count(int status) {
    std::lock_guard lock(mu);
    ++stats.by_status[status];
    if (status == 200) ++stats.ok;
  }

  // Fixed windows aligned to the emulator's start. Returns the reset time
  // (ms) when this request is over the limit.
  std::optional<int64_t> over_limit(int64_t now) {
    if (opts.rate_limit <= 0) return std::nullopt;
    int64_t w = opts.rate_window.count();
    int64_t index = (now - started_ms) / w;
    if (index != window_index) {
      window_index = index;
      window_count = 0;
    }
    if (window_count >= opts.rate_limit) {
      int64_t end = started_ms + (index + 1) * w;
      return ((end + 999) / 1000) * 1000;  // announced with second granularity, rounded up
    }
    ++window_count;
    return std::nullopt;
  }

  void answer_429(httplib::Response& res, int64_t reset_ms, int64_t now) {
    int64_t reset_s = reset_ms / 1000;
    int64_t delta = std::max<int64_t>(0, (reset_ms - now + 999) / 1000);
    switch (opts.reset_format) {
      case ResetFormat::Rfc3339: res.set_header("ratelimit-reset", format_utc_seconds(reset_s)); break;
      case ResetFormat::HttpDate: res.set_header("ratelimit-reset", http_date(reset_s)); break;
      case ResetFormat::EpochSeconds: res.set_header("ratelimit-reset", std::to_string(reset_s)); break;
      case ResetFormat::DeltaSeconds: res.set_header("ratelimit-reset", std::to_string(delta)); break;
      case ResetFormat::RetryAfterOnly: res.set_header("Retry-After", std::to_string(delta)); break;
      case ResetFormat::None: break;
      case ResetFormat::Garbage: res.set_header("ratelimit-reset", "soon"); break;
    }
    res.status = 429;
    res.set_content(error_body("Too many requests", "Use RateLimit-Reset header to backoff on retries"),
                    "application/json");
  }

  void bad_request(httplib::Response& res, const std::string& detail) {
    res.status = 400;
    res.set_content(error_body("Malformed query params", detail), "application/json");
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    int64_t now = now_ms();
    std::optional<Fault> fault;
    {
      std::lock_guard lock(mu);
      ++stats.requests;
      stats.arrivals_ms.push_back(now);
      std::string client = req.get_header_value("Authorization");
      auto given = reset_given_ms.find(client);
      if (given != reset_given_ms.end()) {
        if (now < given->second) ++stats.early_requests;
        else reset_given_ms.erase(given);
      }
      if (opts.force_status == 0 && authorized(req)) {
        if (auto reset = over_limit(now)) {
          ++stats.rate_limited;
          ++stats.by_status[429];
          reset_given_ms[client] = opts.reset_format == ResetFormat::None || opts.reset_format == ResetFormat::Garbage
                                       ? now + 60'000 - 50  // the client must fall back to 60 s
                                       : *reset;
          answer_429(res, *reset, now);
          return;
        }
      }
      if (opts.fault_rate > 0 && !opts.faults.empty() &&
          std::uniform_real_distribution<double>(0, 1)(fault_rng) < opts.fault_rate) {
        fault = opts.faults[fault_rng() % opts.faults.size()];
        ++stats.faults_injected;
      }
    }
    if (opts.force_status == 401 || (opts.force_status == 0 && !authorized(req))) {
      res.status = 401;
      res.set_content(error_body("Authentication failed", "Please use valid credentials"), "application/json");
      return count(401);
    }
    if (opts.force_status == 403) {
      res.status = 403;
      res.set_content(error_body("Authorization failed", "You must have administrator privileges"), "application/json");
      return count(403);
    }
    if (opts.force_status == 404) {
      res.status = 404;
      res.set_content(error_body("Not Found", "The Access Log API is not enabled for this account"), "application/json");
      return count(404);
    }
    if (opts.force_status >= 500 || (fault && *fault == Fault::ServerError)) {
      if (fault && fault_rng() % 2) {
        res.status = 503;
        res.set_content("<html><body><h1>503 Service Unavailable</h1></body></html>", "text/html");
      } else {
        res.status = 500;
        res.set_content(error_body("Internal Service Error", "Failed to process request"), "application/json");
      }
      return count(res.status);
    }
    if (fault && *fault == Fault::DropConnection) {
      res.set_content_provider(1000, "application/json", [](size_t, size_t, httplib::DataSink&) { return false; });
      return;
    }
    if (fault && *fault == Fault::Slow) std::this_thread::sleep_for(opts.slow_delay);

    std::string problem;
    auto query = read_listing_query(req, problem);
    if (!query) return bad_request(res, problem), count(400);
    const int size = query->size;
    const int64_t start = query->start_ms, end = query->end_ms;
    const std::string& cursor = query->cursor;
    std::optional<Key> after;
    if (!cursor.empty() && !(after = decode_cursor(cursor)))
      return bad_request(res, "invalid cursor"), count(400);
    bool desc = opts.descending || req.get_param_value("sort") == "-created_at";
    std::string user_filter = req.get_param_value("filter[user_id]");
    std::string path_filter = req.get_param_value("filter[path]");

    std::string body = "{\"access_logs\":[";
    std::vector<EventMap::iterator> page;
    bool has_more = false;
    {
      std::shared_lock lock(data_mu);
      auto matches = [&](const Event& e) {
        return (user_filter.empty() || std::to_string(e.user_id) == user_filter) &&
               (path_filter.empty() || e.path == path_filter);
      };
      auto lo = events.lower_bound({start, std::string()});
      auto hi = events.lower_bound({end, std::string()});
      // A cursor outside [lo, hi) (another window's) is clamped into it.
      auto before = [&](EventMap::iterator a, EventMap::iterator b) {
        return a != events.end() && (b == events.end() || a->first < b->first);
      };
      auto clamp = [&](EventMap::iterator it) { return before(it, lo) ? lo : before(hi, it) ? hi : it; };
      if (!desc) {
        auto it = clamp(after ? events.upper_bound({after->ts_ms, after->id}) : lo);
        for (; it != hi; ++it) {
          if (!matches(it->second)) continue;
          if (static_cast<int>(page.size()) == size) {
            has_more = true;
            break;
          }
          page.push_back(it);
        }
      } else {
        auto it = clamp(after ? events.lower_bound({after->ts_ms, after->id}) : hi);
        while (it != lo) {
          --it;
          if (!matches(it->second)) continue;
          if (static_cast<int>(page.size()) == size) {
            has_more = true;
            break;
          }
          page.push_back(it);
        }
      }
      size_t bytes = 0;
      for (auto it : page) bytes += it->second.json.size() + 1;
      body.reserve(bytes + 512);
      for (size_t k = 0; k < page.size(); ++k) {
        if (k) body += ',';
        body += page[k]->second.json;
      }
      body += "],";
      std::string next_cursor = has_more && !page.empty() ? encode_cursor(page.back()->second) : "";
      body += page_links(req, size, next_cursor.empty() ? nullptr : &next_cursor);
    }
    if (fault && *fault == Fault::MalformedJson) {
      body.resize(body.size() / 2);
      body += "<html>oops";
    } else if (fault && *fault == Fault::TruncatedBody) {
      auto shared = std::make_shared<std::string>(std::move(body));
      res.set_content_provider(shared->size(), "application/json",
                               [shared](size_t offset, size_t, httplib::DataSink& sink) {
                                 if (offset > 0) return false;
                                 sink.write(shared->data(), shared->size() / 2);
                                 return true;
                               });
      return count(200);
    } else {
      std::unique_lock lock(data_mu);
      // Map iterators stay valid across inserts, and nothing is erased.
      for (auto it : page) it->second.served = true;
    }
    // cpp-httplib compresses only an exact "application/json"; the charset
    // form (what Zendesk sends) opts out.
    res.set_content(std::move(body), opts.gzip ? "application/json" : "application/json; charset=utf-8");
    count(200);
  }

  static nlohmann::json person_json(const Person& p) {
    return {{"id", p.id}, {"name", p.name}, {"email", p.email}, {"role", p.role}, {"active", true},
            {"url", "https://example.zendesk.com/api/v2/users/" + std::to_string(p.id) + ".json"}};
  }

  // The Users API: list (cursor pages of up to 100) and show_many (up to
  // 100 ids; unknown ids are left out, as Zendesk does). Same auth as the
  // Access Logs API, its own rate limit (Zendesk's is account-wide and
  // separate from the access logs' 50 a minute).
  void handle_users(const httplib::Request& req, httplib::Response& res, bool show_many) {
    int64_t now = now_ms();
    {
      std::lock_guard lock(mu);
      ++stats.users_requests;
      if (opts.users_rate_limit > 0 && authorized(req)) {
        int64_t w = opts.rate_window.count(), index = (now - started_ms) / w;
        if (index != users_window_index) users_window_index = index, users_window_count = 0;
        if (users_window_count >= opts.users_rate_limit) {
          ++stats.users_rate_limited;
          res.status = 429;
          res.set_header("Retry-After", std::to_string((started_ms + (index + 1) * w - now + 999) / 1000));
          res.set_content(error_body("Too many requests", "Retry later"), "application/json");
          return;
        }
        ++users_window_count;
      }
      if (opts.users_down || opts.users_fault == "503" || opts.users_fault == "500") {
        res.status = opts.users_fault == "500" ? 500 : 503;
        res.set_content("<html><body><h1>Service Unavailable</h1></body></html>", "text/html");
        return;
      }
      if (opts.users_fault == "429") {
        res.status = 429;
        res.set_header("Retry-After", "1");
        res.set_content(error_body("Too many requests", "Retry later"), "application/json");
        return;
      }
      if (opts.users_fault == "garbage") {
        res.status = 200;
        res.set_content("{\"users\": \"not a list\"", "application/json");
        return;
      }
    }
    if (!authorized(req)) {
      res.status = 401;
      res.set_content(error_body("Authentication failed", "Please use valid credentials"), "application/json");
      return;
    }
    nlohmann::json users = nlohmann::json::array();
    if (show_many) {
      std::stringstream ids(req.get_param_value("ids"));
      std::string id;
      size_t n = 0;
      while (std::getline(ids, id, ',')) {
        if (++n > 100) return bad_request(res, "show_many takes at most 100 ids");
        try {
          auto it = person_at.find(std::stoll(id));
          if (it != person_at.end()) users.push_back(person_json(people[it->second]));
        } catch (...) {
          return bad_request(res, "ids must be numbers");
        }
      }
      res.set_content(nlohmann::json({{"users", users}}).dump(), "application/json; charset=utf-8");
      return;
    }
    int size = 100;
    if (req.has_param("page[size]")) size = std::stoi(req.get_param_value("page[size]"));
    if (size < 1 || size > 100) return bad_request(res, "page[size] must be 1 to 100");
    size_t from = 0;
    if (req.has_param("page[after]")) from = std::stoull(req.get_param_value("page[after]"));
    size_t to = std::min(people.size(), from + static_cast<size_t>(size));
    for (size_t i = from; i < to; ++i) users.push_back(person_json(people[i]));
    bool more = to < people.size();
    std::string next = "http://" + req.get_header_value("Host") + "/api/v2/users?page%5Bsize%5D=" +
                       std::to_string(size) + "&page%5Bafter%5D=" + std::to_string(to);
    res.set_content(nlohmann::json({{"users", users},
                                    {"meta", {{"has_more", more}, {"after_cursor", more ? std::to_string(to) : ""}}},
                                    {"links", {{"next", more ? nlohmann::json(next) : nlohmann::json()}}}})
                        .dump(),
                    "application/json; charset=utf-8");
  }

  // The Webhooks API, as far as `webhook register` and `webhook status`
  // use it: create, list, update, show, signing secret. Same auth.
  void handle_webhooks(const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req)) {
      res.status = 401;
      res.set_content(error_body("Authentication failed", "Please use valid credentials"), "application/json");
      return;
    }
    std::lock_guard lock(mu);
    std::string id = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    bool secret = req.path.size() > 15 && req.path.compare(req.path.size() - 15, 15, "/signing_secret") == 0;
    if (req.method == "GET" && id.empty()) {
      nlohmann::json all = nlohmann::json::array();
      std::string contains = req.get_param_value("filter[name_contains]");
      for (const auto& [wid, w] : webhooks)
        if (contains.empty() || w["name"].get<std::string>().find(contains) != std::string::npos) all.push_back(w);
      res.set_content(nlohmann::json({{"webhooks", all}, {"meta", {{"has_more", false}}}}).dump(), "application/json");
      return;
    }
    if ((req.method == "POST" && id.empty()) || ((req.method == "PATCH" || req.method == "PUT") && !secret)) {
      auto body = nlohmann::json::parse(req.body, nullptr, false);
      if (body.is_object() && body.contains("webhook") && refuses_subscription(body["webhook"])) {
        res.status = opts.refuse_subscription;
        res.set_content(nlohmann::json({{"errors", {{{"code", "InvalidValue"},
                                                     {"title", "Invalid subscription"},
                                                     {"detail", std::string(kAccessLogEventType) +
                                                                    " is not a valid event type for this account"},
                                                     {"source", {{"pointer", "/webhook/subscriptions"}}}}}}})
                            .dump(),
                        "application/json");
        return;
      }
    }
    if (req.method == "POST" && id.empty()) {
      auto body = nlohmann::json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body.contains("webhook") || !body["webhook"].contains("endpoint"))
        return bad_request(res, "webhook.endpoint is required");
      nlohmann::json w = body["webhook"];
      std::string wid = "01GEMULATORWEBHOOK" + std::to_string(100000 + webhooks.size());
      w["id"] = wid;
      if (!w.contains("status")) w["status"] = "active";
      webhooks[wid] = w;
      std::mt19937_64 r(opts.seed ^ webhooks.size());
      webhook_secrets[wid] = "emulator-signing-secret-" + std::to_string(r());
      push_to(w, webhook_secrets[wid]);
      res.status = 201;
      res.set_content(nlohmann::json({{"webhook", w}}).dump(), "application/json");
      return;
    }
    auto it = webhooks.find(id);
    if (it == webhooks.end()) {
      res.status = 404;
      res.set_content(error_body("RecordNotFound", "Not found"), "application/json");
      return;
    }
    if (secret) {
      res.set_content(nlohmann::json({{"signing_secret", {{"algorithm", "SHA256"}, {"secret", webhook_secrets[id]}}}}).dump(),
                      "application/json");
    } else if (req.method == "PATCH" || req.method == "PUT") {
      auto body = nlohmann::json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body.contains("webhook")) return bad_request(res, "a webhook object is required");
      for (auto& [k, v] : body["webhook"].items()) it->second[k] = v;
      push_to(it->second, webhook_secrets[id]);
      res.status = 204;
    } else {
      res.set_content(nlohmann::json({{"webhook", it->second}}).dump(), "application/json");
    }
  }

  static bool subscribes_access_logs(const nlohmann::json& w) {
    bool subscribed = false;
    for (const auto& s : w.value("subscriptions", nlohmann::json::array()))
      subscribed |= s.is_string() && s.get<std::string>() == kAccessLogEventType;
    return subscribed;
  }

  // The account does not offer the access-log event (refuse_subscription).
  bool refuses_subscription(const nlohmann::json& w) const {
    return opts.refuse_subscription != 0 && w.is_object() && subscribes_access_logs(w);
  }

  // An active webhook subscribed to access-log events gets the new ones.
  void push_to(const nlohmann::json& w, const std::string& secret) {
    bool subscribed = subscribes_access_logs(w);
    if (subscribed && w.value("status", "active") == "active" && w.contains("endpoint"))
      pushes.update({{"url", w["endpoint"]}, {"secret", secret}});
  }

  void add_live(size_t n, int64_t now) {
    std::vector<std::string> made;
    bool pushing = pushes.active();
    std::unique_lock lock(data_mu);
    for (size_t i = 0; i < n; ++i) {
      int64_t ts = now;
      if (opts.late_fraction > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < opts.late_fraction)
        ts -= static_cast<int64_t>(rng() % static_cast<uint64_t>(std::max<int64_t>(1, opts.late_max.count() * 1000)));
      Event e = make_event(ts, rng, opts.awkward, population);
      e.visible_ms = now;
      if (pushing) made.push_back(e.json);
      auto key = std::make_pair(e.ts_ms, e.id);
      events.emplace(std::move(key), std::move(e));
    }
    lock.unlock();
    if (!made.empty()) pushes.push(made, now);
  }

  void live_loop() {
    double owed = 0;
    auto last = std::chrono::steady_clock::now();
    while (live_running) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      auto t = std::chrono::steady_clock::now();
      double rate;
      {
        std::lock_guard lock(mu);
        rate = opts.live_rate;
      }
      owed += rate * std::chrono::duration<double>(t - last).count();
      last = t;
      if (owed >= 1) {
        add_live(static_cast<size_t>(owed), now_ms());
        owed -= static_cast<size_t>(owed);
      }
    }
  }
};

Emulator::Emulator(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {
  Impl& s = *impl_;
  s.server.set_keep_alive_max_count(100000);
  s.server.set_payload_max_length(1 << 20);
  s.server.Get("/api/v2/access_logs", [&s](const httplib::Request& req, httplib::Response& res) { s.handle(req, res); });
  auto webhooks = [&s](const httplib::Request& req, httplib::Response& res) { s.handle_webhooks(req, res); };
  s.server.Get("/api/v2/webhooks", webhooks);
  s.server.Post("/api/v2/webhooks", webhooks);
  s.server.Get(R"(/api/v2/webhooks/([A-Za-z0-9]+))", webhooks);
  s.server.Patch(R"(/api/v2/webhooks/([A-Za-z0-9]+))", webhooks);
  s.server.Put(R"(/api/v2/webhooks/([A-Za-z0-9]+))", webhooks);
  s.server.Get(R"(/api/v2/webhooks/([A-Za-z0-9]+)/signing_secret)", webhooks);
  s.server.Get("/api/v2/users", [&s](const httplib::Request& req, httplib::Response& res) { s.handle_users(req, res, false); });
  s.server.Get("/api/v2/users/show_many", [&s](const httplib::Request& req, httplib::Response& res) {
    s.handle_users(req, res, true);
  });
  s.server.Get("/_emulator/users", [this](const httplib::Request&, httplib::Response& res) {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& p : people()) all.push_back(Impl::person_json(p));
    res.set_content(all.dump(), "application/json");
  });
  s.server.Get("/_emulator/ids", [this](const httplib::Request&, httplib::Response& res) {
    std::string out;
    for (const auto& id : ids()) out += id + "\n";
    res.set_content(out, "text/plain");
  });
  s.server.Get("/_emulator/events", [this](const httplib::Request&, httplib::Response& res) {
    std::string out;
    for (const auto& e : listing())
      out += e.id + " " + std::to_string(e.ts_ms) + " " + std::to_string(e.visible_ms) + "\n";
    res.set_content(out, "text/plain");
  });
  s.server.Get("/_emulator/served_ids", [this](const httplib::Request&, httplib::Response& res) {
    std::string out;
    for (const auto& id : served_ids()) out += id + "\n";
    res.set_content(out, "text/plain");
  });
  s.server.Get("/_emulator/stats", [this](const httplib::Request&, httplib::Response& res) {
    Stats st = stats();
    nlohmann::json by_status = nlohmann::json::object();
    for (auto [code, n] : st.by_status) by_status[std::to_string(code)] = n;
    res.set_content(nlohmann::json({{"requests", st.requests},
                                    {"ok", st.ok},
                                    {"rate_limited", st.rate_limited},
                                    {"faults_injected", st.faults_injected},
                                    {"early_requests", st.early_requests},
                                    {"by_status", by_status},
                                    {"arrivals_ms", st.arrivals_ms},
                                    {"users_requests", st.users_requests},
                                    {"users_rate_limited", st.users_rate_limited}})
                        .dump(),
                    "application/json");
  });
  s.server.Get("/_emulator/pushes", [this](const httplib::Request&, httplib::Response& res) {
    PushStats st = push_stats();
    nlohmann::json by_status = nlohmann::json::object();
    for (auto [code, n] : st.by_status) by_status[std::to_string(code)] = n;
    auto& lat = st.ack_latency_s;
    std::sort(lat.begin(), lat.end());
    auto q = [&lat](double p) { return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<size_t>(p * lat.size()))]; };
    res.set_content(nlohmann::json({{"requests", st.requests},
                                    {"by_status", by_status},
                                    {"events", st.events},
                                    {"events_acknowledged", st.events_acknowledged},
                                    {"events_dropped", st.events_dropped},
                                    {"events_corrupted", st.events_corrupted},
                                    {"events_given_up", st.events_given_up},
                                    {"retries", st.retries},
                                    {"replays", st.replays},
                                    {"duplicates", st.duplicates},
                                    {"late", st.late},
                                    {"ack_latency_p50_s", q(0.5)},
                                    {"ack_latency_p99_s", q(0.99)}})
                        .dump(),
                    "application/json");
  });
  s.server.Post("/_emulator/config", [this](const httplib::Request& req, httplib::Response& res) {
    try {
      update(nlohmann::json::parse(req.body));
      res.set_content("{\"ok\":true}", "application/json");
    } catch (const std::exception& e) {
      res.status = 400;
      res.set_content(error_body("Bad emulator config", e.what()), "application/json");
    }
  });
}

Emulator::~Emulator() { stop(); }

uint16_t Emulator::start(const std::string& host, uint16_t port) {
  Impl& s = *impl_;
  int bound = port == 0 ? s.server.bind_to_any_port(host) : (s.server.bind_to_port(host, port) ? port : -1);
  if (bound < 0) throw std::runtime_error("emulator: cannot listen on " + host + ":" + std::to_string(port));
  s.host = host;
  s.port = static_cast<uint16_t>(bound);
  s.server_thread = std::thread([&s] { s.server.listen_after_bind(); });
  s.live_running = true;
  s.live_thread = std::thread([&s] { s.live_loop(); });
  return s.port;
}

void Emulator::stop() {
  Impl& s = *impl_;
  s.live_running = false;
  if (s.live_thread.joinable()) s.live_thread.join();
  s.server.stop();
  if (s.server_thread.joinable()) s.server_thread.join();
}

std::string Emulator::base_url() const { return "http://" + impl_->host + ":" + std::to_string(impl_->port); }

std::vector<std::string> Emulator::ids() const {
  std::shared_lock lock(impl_->data_mu);
  std::vector<std::string> out;
  out.reserve(impl_->events.size());
  for (const auto& [key, e] : impl_->events) out.push_back(e.id);
  return out;
}

std::vector<Emulator::Listed> Emulator::listing() const {
  std::shared_lock lock(impl_->data_mu);
  std::vector<Listed> out;
  out.reserve(impl_->events.size());
  for (const auto& [key, e] : impl_->events) out.push_back({e.id, e.ts_ms, e.visible_ms});
  return out;
}

std::vector<std::string> Emulator::served_ids() const {
  std::shared_lock lock(impl_->data_mu);
  std::vector<std::string> out;
  for (const auto& [key, e] : impl_->events)
    if (e.served) out.push_back(e.id);
  return out;
}

std::vector<Person> Emulator::people() const { return impl_->people; }

PushStats Emulator::push_stats() const { return impl_->pushes.stats(); }

Stats Emulator::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

void Emulator::update(const nlohmann::json& patch) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& k = it.key();
    if (k == "rate_limit") s.opts.rate_limit = it->get<int>();
    else if (k == "rate_window_ms") s.opts.rate_window = std::chrono::milliseconds(it->get<int64_t>());
    else if (k == "reset_format") s.opts.reset_format = parse_reset_format(it->get<std::string>());
    else if (k == "fault_rate") s.opts.fault_rate = it->get<double>();
    else if (k == "faults") {
      s.opts.faults.clear();
      for (const auto& f : *it) s.opts.faults.push_back(parse_fault(f.get<std::string>()));
    } else if (k == "force_status") s.opts.force_status = it->get<int>();
    else if (k == "live_rate") s.opts.live_rate = it->get<double>();
    else if (k == "users_down") s.opts.users_down = it->get<bool>();
    else if (k == "refuse_subscription") s.opts.refuse_subscription = it->get<int>();
    else if (k == "users_fault") s.opts.users_fault = it->get<std::string>();
    else if (k == "push") s.pushes.update(*it);
    else throw std::invalid_argument("unknown emulator setting \"" + k + "\"");
  }
  s.window_index = -1;  // a new limit starts a fresh window
}

}  // namespace zf::emulator
