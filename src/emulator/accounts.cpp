#include "emulator/accounts.h"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

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

uint64_t mix(uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr const char* kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// The same layout as make_ulid: 10 characters of time, 16 of random bits.
std::string ulid(int64_t ms, uint64_t hi, uint64_t lo) {
  std::string out(26, '0');
  uint64_t t = static_cast<uint64_t>(ms);
  for (int i = 9; i >= 0; --i) {
    out[i] = kCrockford[t & 31];
    t >>= 5;
  }
  for (int i = 10; i < 26; ++i) {
    uint64_t& src = i < 18 ? hi : lo;
    out[i] = kCrockford[src & 31];
    src >>= 5;
  }
  return out;
}

// The millisecond of a ULID, or nothing when `id` is not one.
std::optional<int64_t> ulid_ms(const std::string& id) {
  if (id.size() != 26) return std::nullopt;
  int64_t ms = 0;
  for (size_t i = 0; i < 26; ++i) {
    const char* at = std::strchr(kCrockford, id[i]);
    if (id[i] == 0 || !at) return std::nullopt;
    if (i < 10) ms = ms * 32 + (at - kCrockford);
  }
  return ms;
}

std::string error_body(const std::string& title, const std::string& detail) {
  return nlohmann::json({{"errors", {{{"title", title}, {"detail", detail}}}}}).dump();
}

// Event k of a stream is stamped base + k * p / q ms (exact integers, so
// the inverse below finds the first event at or after any time).
struct Stream {
  int64_t base = 0;
  int64_t p = 1, q = 0;   // q = 0: no events
  uint64_t count = 0;     // events in all (history); live streams: unbounded, limited by now
  bool live = false;
  uint64_t tag = 0;       // hashed into each event's id and body

  int64_t at(uint64_t k) const { return base + static_cast<int64_t>(static_cast<__int128>(k) * p / q); }
  // The first k with at(k) >= t.
  uint64_t first_at_or_after(int64_t t) const {
    if (q == 0 || t <= base) return 0;
    __int128 k = (static_cast<__int128>(t - base) * q + p - 1) / p;
    return k > static_cast<__int128>(UINT64_MAX / 2) ? UINT64_MAX / 2 : static_cast<uint64_t>(k);
  }
  // Events listed at `now`.
  uint64_t limit(int64_t now) const {
    if (q == 0) return 0;
    return live ? first_at_or_after(now + 1) : count;
  }
  std::string id(uint64_t k) const {
    uint64_t h = mix(tag ^ mix(k));
    return ulid(at(k), h, mix(h ^ 0x5851f42d4c957f2dULL));
  }
};

// A rate in events per second as p/q with q in thousandths.
void set_rate(Stream& s, double per_second) {
  if (per_second <= 0) return;
  s.p = 1'000'000;
  s.q = std::max<int64_t>(1, std::llround(per_second * 1000));
}

struct Ref {
  const Stream* stream;
  uint64_t k;
  int64_t ms;
  std::string id;
};

}  // namespace

size_t parse_hot_accounts(const std::string& text, size_t accounts) {
  try {
    size_t used = 0;
    if (!text.empty() && text.back() == '%') {
      double share = std::stod(text.substr(0, text.size() - 1), &used);
      if (used != text.size() - 1 || share < 0 || share > 100) throw std::invalid_argument("");
      if (share == 0) return 0;
      return std::clamp<size_t>(static_cast<size_t>(std::llround(share / 100 * static_cast<double>(accounts))), 1,
                                accounts);
    }
    size_t n = std::stoull(text, &used);
    if (used != text.size() || n > accounts) throw std::invalid_argument("");
    return n;
  } catch (const std::exception&) {
    throw std::invalid_argument("--hot-accounts: expected a share such as 1% or a count up to --accounts, got \"" +
                                text + "\"");
  }
}

struct AccountsEmulator::Impl {
  struct Account {
    bool hot = false;
    Stream history, live;
    mutable std::mutex mu;  // everything below
    AccountStats stats;
    int64_t window_index = -1;
    int window_count = 0;
    int64_t reset_given_ms = -1;
  };

  AccountsOptions opts;
  httplib::Server server;
  std::thread server_thread;
  std::string host;
  uint16_t port = 0;
  int64_t started = now_ms();
  std::vector<std::unique_ptr<Account>> accounts;
  std::map<std::string, size_t> by_authorization;
  std::mutex unknown_mu;
  uint64_t unauthorized = 0;

  explicit Impl(AccountsOptions o) : opts(std::move(o)) {
    if (opts.accounts == 0) throw std::invalid_argument("--accounts must be at least 1");
    if (opts.hot_accounts > opts.accounts) throw std::invalid_argument("more hot accounts than accounts");
    int64_t span_ms = std::max<int64_t>(1, opts.span.count() * 1000);
    int64_t history_base = started - opts.end_gap.count() * 1000 - span_ms;
    for (size_t i = 0; i < opts.accounts; ++i) {
      auto a = std::make_unique<Account>();
      // Hot accounts spread evenly: with 10 of 1,000, accounts 0, 100, 200...
      a->hot = opts.hot_accounts > 0 && (i * opts.hot_accounts) % opts.accounts < opts.hot_accounts;
      double history_rate = a->hot && opts.hot_history_rate >= 0 ? opts.hot_history_rate : opts.history_rate;
      uint64_t n = opts.history_rate > 0 || (a->hot && opts.hot_history_rate >= 0)
                       ? static_cast<uint64_t>(std::llround(history_rate * static_cast<double>(opts.span.count())))
                       : opts.events;
      uint64_t key = mix(opts.seed ^ mix(i + 1));
      a->history = {history_base, span_ms, static_cast<int64_t>(n), n, false, mix(key ^ 1)};
      if (n == 0) a->history.q = 0;
      // The live tail goes on where the history ends, so a forwarder started
      // with the emulator meets a steady state as soon as it has caught up.
      a->live = {history_base + span_ms, 1, 0, 0, true, mix(key ^ 2)};
      set_rate(a->live, a->hot ? opts.hot_rate : opts.live_rate);
      accounts.push_back(std::move(a));
      auto basic = [](const std::string& user, const std::string& secret) {
        return "Basic " + base64_encode(user + ":" + secret);
      };
      std::string suffix = "-" + std::to_string(i);
      by_authorization[basic(opts.email + "/token", opts.api_token + suffix)] = i;
      by_authorization[basic(opts.email, opts.password + suffix)] = i;
      by_authorization["Bearer " + opts.bearer + suffix] = i;
    }
  }

  // Events of `a` in the API's order from time `from` (after the id
  // `after` when given) up to `end` (exclusive), at most `max`.
  void walk(const Account& a, int64_t from, const std::optional<std::string>& after, int64_t end, int64_t now,
            size_t max, std::vector<Ref>& out) const {
    const Stream* streams[] = {&a.history, &a.live};
    uint64_t limits[] = {a.history.limit(now), a.live.limit(now)};
    int64_t t = from;
    std::vector<Ref> group;
    while (out.size() < max) {
      int64_t next = INT64_MAX;
      for (int s = 0; s < 2; ++s) {
        uint64_t k = streams[s]->first_at_or_after(t);
        if (k < limits[s]) next = std::min(next, streams[s]->at(k));
      }
      if (next == INT64_MAX || next >= end) return;
      group.clear();
      for (int s = 0; s < 2; ++s) {
        uint64_t k1 = std::min(limits[s], streams[s]->first_at_or_after(next + 1));
        for (uint64_t k = streams[s]->first_at_or_after(next); k < k1; ++k)
          group.push_back({streams[s], k, next, streams[s]->id(k)});
      }
      std::sort(group.begin(), group.end(), [](const Ref& x, const Ref& y) { return x.id < y.id; });
      for (auto& r : group) {
        if (after && r.id <= *after) continue;
        out.push_back(std::move(r));
        if (out.size() == max) return;
      }
      t = next + 1;
    }
  }

  std::string event_json(const Ref& r) const {
    std::mt19937_64 rng(mix(r.stream->tag ^ mix(r.k) ^ 0x243f6a8885a308d3ULL));
    return make_event(r.ms, rng, opts.awkward, {}, r.id).json;
  }

  void bad_request(httplib::Response& res, const std::string& detail) {
    res.status = 400;
    res.set_content(error_body("Malformed query params", detail), "application/json");
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    int64_t now = now_ms();
    auto found = by_authorization.find(req.get_header_value("Authorization"));
    if (found == by_authorization.end()) {
      std::lock_guard lock(unknown_mu);
      ++unauthorized;
      res.status = 401;
      res.set_content(error_body("Authentication failed", "Please use valid credentials"), "application/json");
      return;
    }
    Account& a = *accounts[found->second];
    auto count = [&](int status) {
      std::lock_guard lock(a.mu);
      ++a.stats.by_status[status];
    };
    {
      std::lock_guard lock(a.mu);
      AccountStats& st = a.stats;
      ++st.requests;
      st.arrivals_ms.push_back(now);
      if (st.first_request_ms < 0) st.first_request_ms = now;
      if (a.reset_given_ms >= 0) {
        if (now < a.reset_given_ms) ++st.early_requests;
        else a.reset_given_ms = -1;
      }
      if (opts.rate_limit > 0) {
        int64_t w = opts.rate_window.count();
        int64_t index = (now - started) / w;
        if (index != a.window_index) a.window_index = index, a.window_count = 0;
        if (a.window_count >= opts.rate_limit) {
          int64_t reset_ms = ((started + (index + 1) * w + 999) / 1000) * 1000;
          ++st.rate_limited;
          ++st.by_status[429];
          a.reset_given_ms = reset_ms;
          res.status = 429;
          res.set_header("ratelimit-reset", format_utc_seconds(reset_ms / 1000));
          res.set_content(error_body("Too many requests", "Use RateLimit-Reset header to backoff on retries"),
                          "application/json");
          return;
        }
        ++a.window_count;
      }
    }
    std::string problem;
    auto query = read_listing_query(req, problem);
    if (!query) return bad_request(res, problem), count(400);
    const int size = query->size;
    const int64_t start = query->start_ms, end = query->end_ms;
    const std::string& cursor = query->cursor;
    if (req.get_param_value("sort") == "-created_at")
      return bad_request(res, "the many-accounts emulator lists oldest first only"), count(400);
    std::optional<std::string> after;
    int64_t from = start;
    if (!cursor.empty()) {
      auto ms = ulid_ms(cursor);
      if (!ms) return bad_request(res, "invalid cursor"), count(400);
      after = cursor;
      from = std::max(from, *ms);
    }

    std::vector<Ref> page;
    walk(a, from, after, end, now, static_cast<size_t>(size) + 1, page);
    bool has_more = page.size() > static_cast<size_t>(size);
    if (has_more) page.pop_back();
    std::string body = "{\"access_logs\":[";
    bool history_done = false;
    for (size_t k = 0; k < page.size(); ++k) {
      if (k) body += ',';
      body += event_json(page[k]);
      history_done |= page[k].stream == &a.history && page[k].k + 1 == a.history.count;
    }
    body += "],";
    body += page_links(req, size, has_more && !page.empty() ? &page.back().id : nullptr);
    res.set_content(std::move(body), "application/json; charset=utf-8");
    std::lock_guard lock(a.mu);
    ++a.stats.ok;
    ++a.stats.by_status[200];
    a.stats.events_served += page.size();
    int64_t done = now_ms();
    if (a.stats.first_ok_ms < 0) a.stats.first_ok_ms = done;
    if (history_done && a.stats.history_done_ms < 0) a.stats.history_done_ms = done;
  }

  // The account named by ?account=i, or nothing (and a 400) when missing or wrong.
  std::optional<size_t> account_param(const httplib::Request& req, httplib::Response& res) {
    std::string text = req.get_param_value("account");
    try {
      size_t used = 0;
      size_t i = std::stoull(text, &used);
      if (used == text.size() && i < accounts.size()) return i;
    } catch (...) {
    }
    res.status = 400;
    res.set_content(error_body("Bad account", "?account=0.." + std::to_string(accounts.size() - 1) + " is required"),
                    "application/json");
    return std::nullopt;
  }
};

AccountsEmulator::AccountsEmulator(AccountsOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  Impl& s = *impl_;
  size_t threads = s.opts.threads ? s.opts.threads : s.opts.accounts + 16;
  // cpp-httplib gives each kept-alive connection a worker until it goes
  // idle: one per account's client, or the emulator would be the queue.
  s.server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.server.set_keep_alive_max_count(100000);
  s.server.Get("/api/v2/access_logs", [&s](const httplib::Request& req, httplib::Response& res) { s.handle(req, res); });
  s.server.Get("/_emulator/ids", [this, &s](const httplib::Request& req, httplib::Response& res) {
    auto i = s.account_param(req, res);
    if (!i) return;
    std::string out;
    for (const auto& e : listing(*i)) out += e.id + "\n";
    res.set_content(out, "text/plain");
  });
  s.server.Get("/_emulator/events", [this, &s](const httplib::Request& req, httplib::Response& res) {
    auto i = s.account_param(req, res);
    if (!i) return;
    std::string out;
    for (const auto& e : listing(*i))
      out += e.id + " " + std::to_string(e.ts_ms) + " " + std::to_string(e.visible_ms) + "\n";
    res.set_content(out, "text/plain");
  });
  s.server.Get("/_emulator/stats", [this, &s](const httplib::Request& req, httplib::Response& res) {
    nlohmann::json by_status = nlohmann::json::object();
    nlohmann::json out;
    if (req.has_param("account")) {
      auto i = s.account_param(req, res);
      if (!i) return;
      AccountStats st = stats(*i);
      for (auto [code, n] : st.by_status) by_status[std::to_string(code)] = n;
      out = {{"account", *i},         {"requests", st.requests},           {"ok", st.ok},
             {"rate_limited", st.rate_limited}, {"faults_injected", 0}, {"early_requests", st.early_requests},
             {"by_status", by_status}, {"arrivals_ms", st.arrivals_ms},     {"events_served", st.events_served},
             {"first_request_ms", st.first_request_ms}, {"first_ok_ms", st.first_ok_ms},
             {"history_done_ms", st.history_done_ms}};
    } else {  // every account together; the request logs are per account
      uint64_t requests = 0, ok = 0, limited = 0, early = 0, served = 0;
      std::map<int, uint64_t> all;
      for (size_t i = 0; i < accounts(); ++i) {
        std::lock_guard lock(s.accounts[i]->mu);
        const AccountStats& st = s.accounts[i]->stats;
        requests += st.requests, ok += st.ok, limited += st.rate_limited, early += st.early_requests;
        served += st.events_served;
        for (auto [code, n] : st.by_status) all[code] += n;
      }
      for (auto [code, n] : all) by_status[std::to_string(code)] = n;
      std::lock_guard lock(s.unknown_mu);
      out = {{"accounts", accounts()}, {"requests", requests}, {"ok", ok}, {"rate_limited", limited},
             {"faults_injected", 0}, {"early_requests", early}, {"by_status", by_status},
             {"events_served", served}, {"unauthorized", s.unauthorized}};
    }
    res.set_content(out.dump(), "application/json");
  });
  s.server.Get("/_emulator/accounts", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(summary().dump(), "application/json");
  });
}

AccountsEmulator::~AccountsEmulator() { stop(); }

uint16_t AccountsEmulator::start(const std::string& host, uint16_t port) {
  Impl& s = *impl_;
  int bound = port == 0 ? s.server.bind_to_any_port(host) : (s.server.bind_to_port(host, port) ? port : -1);
  if (bound < 0) throw std::runtime_error("emulator: cannot listen on " + host + ":" + std::to_string(port));
  s.host = host;
  s.port = static_cast<uint16_t>(bound);
  s.server_thread = std::thread([&s] { s.server.listen_after_bind(); });
  return s.port;
}

void AccountsEmulator::stop() {
  impl_->server.stop();
  if (impl_->server_thread.joinable()) impl_->server_thread.join();
}

std::string AccountsEmulator::base_url() const { return "http://" + impl_->host + ":" + std::to_string(impl_->port); }
int64_t AccountsEmulator::started_ms() const { return impl_->started; }
size_t AccountsEmulator::accounts() const { return impl_->accounts.size(); }
bool AccountsEmulator::hot(size_t account) const { return impl_->accounts.at(account)->hot; }
uint64_t AccountsEmulator::history_events(size_t account) const { return impl_->accounts.at(account)->history.count; }

std::string AccountsEmulator::authorization(size_t account) const {
  return "Basic " + base64_encode(impl_->opts.email + "/token:" + impl_->opts.api_token + "-" + std::to_string(account));
}

std::vector<AccountsEmulator::Listed> AccountsEmulator::listing(size_t account) const {
  const auto& a = *impl_->accounts.at(account);
  std::vector<Ref> refs;
  impl_->walk(a, INT64_MIN, std::nullopt, INT64_MAX, now_ms(), SIZE_MAX, refs);
  std::vector<Listed> out;
  out.reserve(refs.size());
  for (auto& r : refs)
    out.push_back({std::move(r.id), (r.ms / 1000) * 1000, r.stream == &a.history ? impl_->started : r.ms});
  return out;
}

AccountStats AccountsEmulator::stats(size_t account) const {
  const auto& a = *impl_->accounts.at(account);
  std::lock_guard lock(a.mu);
  return a.stats;
}

nlohmann::json AccountsEmulator::summary() const {
  const Impl& s = *impl_;
  int64_t now = now_ms();
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = 0; i < s.accounts.size(); ++i) {
    const auto& a = *s.accounts[i];
    std::lock_guard lock(a.mu);
    const AccountStats& st = a.stats;
    // The most requests in any rate window, sliding: stricter than the
    // fixed windows the 429s follow.
    size_t most = 0;
    for (size_t lo = 0, hi = 0; hi < st.arrivals_ms.size(); ++hi) {
      while (st.arrivals_ms[hi] - st.arrivals_ms[lo] >= s.opts.rate_window.count()) ++lo;
      most = std::max(most, hi - lo + 1);
    }
    list.push_back({{"account", i},
                    {"hot", a.hot},
                    {"history_events", a.history.count},
                    {"live_events", a.live.limit(now)},
                    {"requests", st.requests},
                    {"ok", st.ok},
                    {"rate_limited", st.rate_limited},
                    {"early_requests", st.early_requests},
                    {"first_request_ms", st.first_request_ms},
                    {"first_ok_ms", st.first_ok_ms},
                    {"history_done_ms", st.history_done_ms},
                    {"events_served", st.events_served},
                    {"max_requests_in_window", most}});
  }
  return {{"started_ms", s.started},
          {"now_ms", now},
          {"rate_limit", s.opts.rate_limit},
          {"rate_window_ms", s.opts.rate_window.count()},
          {"accounts", list}};
}

}  // namespace zf::emulator
