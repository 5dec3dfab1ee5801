// The fetch stage against the emulator over real HTTP on loopback: every
// event arrives exactly once, through faults, rate limits and late events.
// What needs no socket is proven in tests/unit/pull_steps_test.cpp with a
// fake HttpGet: the 401/403/404 explanations and their slow retry, HTTP 400
// stopping with the setting to check, and #26.8's growing backoff for a
// page without a usable cursor moved there.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/app_config.h"
#include "app/forwarder.h"
#include "core/time_format.h"
#include "emulator/emulator.h"
#include "log/logger.h"

using namespace zf;
using namespace std::chrono;
namespace fs = std::filesystem;

namespace {

struct Workdir {
  fs::path dir;
  explicit Workdir(const std::string& name) {
    static int counter = 0;
    dir = fs::temp_directory_path() / ("zf-fetch-" + name + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Workdir() { fs::remove_all(dir); }
  std::string out() const { return (dir / "out.jsonl").string(); }
};

std::string config_yaml(const std::string& base_url, const Workdir& w, const std::string& extra_zendesk = "",
                        const std::string& auth = "{type: api_token, email: agent@example.com, token: emulator-token}") {
  return "zendesk:\n"
         "  base_url: " + base_url + "\n"
         "  auth: " + auth + "\n"
         "  start: 1d\n"
         "  settle_delay: 0s\n"
         "  retry: {initial_backoff: 20ms, max_backoff: 200ms, auth_error_interval: 100ms}\n"
         "  request_timeout: 5s\n" + extra_zendesk +
         (extra_zendesk.find("late_read_delay:") == std::string::npos ? "  late_read_delay: 1m\n" : "") +
         "checkpoint: {path: " + (w.dir / "checkpoint.json").string() + "}\n"
         "sinks:\n"
         "  - {type: jsonl, path: " + w.out() + ", fsync: false}\n";
}

// Started, with `events` historical events and no rate limit.
std::unique_ptr<emulator::Emulator> unlimited_emulator(uint64_t seed, size_t events) {
  emulator::Options opts;
  opts.seed = seed;
  opts.events = events;
  opts.rate_limit = 0;
  auto emu = std::make_unique<emulator::Emulator>(opts);
  emu->start();
  return emu;
}

struct RunOutcome {
  int code;
  std::string log;
};

RunOutcome run_once(const std::string& yaml, LogLevel level = LogLevel::Info, const Clock& clock = real_clock()) {
  std::ostringstream logs;
  Logger log(logs, level);
  auto config = app::load_config(ConfigNode::load_string(yaml));
  log.set_level(level);
  log.add_secrets(config.secrets);
  StopSignal stop;
  int code = app::run_forwarder(config, /*once=*/true, log, stop, clock);
  return {code, logs.str()};
}

// Runs the forwarder (not --once) for `how_long`, then stops it.
RunOutcome run_for(const std::string& yaml, milliseconds how_long) {
  std::ostringstream logs;
  Logger log(logs);
  auto config = app::load_config(ConfigNode::load_string(yaml));
  StopSignal stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(how_long);
    stop.request();
  });
  int code = app::run_forwarder(config, /*once=*/false, log, stop);
  stopper.join();
  return {code, logs.str()};
}

std::multiset<std::string> output_ids(const std::string& path) {
  std::multiset<std::string> ids;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) ids.insert(nlohmann::json::parse(line)["event"]["id"].get<std::string>());
  return ids;
}

// The "stopped" line the forwarder logs at exit.
nlohmann::json final_summary(const std::string& log) {
  std::istringstream in(log);
  std::string line;
  nlohmann::json last;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["msg"] == "stopped") last = j;
  }
  return last;
}

void check_exactly(const std::multiset<std::string>& got, const std::vector<std::string>& expected) {
  std::set<std::string> want(expected.begin(), expected.end());
  std::set<std::string> unique(got.begin(), got.end());
  CHECK(got.size() == unique.size());  // no duplicates
  CHECK(unique.size() == want.size());
  CHECK(unique == want);
}

}  // namespace

TEST_CASE("backfill: 50,000 events over many pages arrive exactly once, in either sort order") {
  for (bool descending : {false, true}) {
    CAPTURE(descending);
    emulator::Options opts;
    opts.seed = descending ? 2 : 1;
    opts.events = 50'000;
    opts.descending = descending;
    opts.rate_limit = 0;
    emulator::Emulator emu(opts);
    emu.start();
    Workdir w("backfill");
    auto r = run_once(config_yaml(emu.base_url(), w, "  page_size: 1000\n  rate_limit: {requests: 1000, period: 1s}\n"));
    CHECK(r.code == 0);
    check_exactly(output_ids(w.out()), emu.ids());
    CHECK(emu.stats().requests >= 50);
    CHECK(emu.served_ids().size() == 50'000);
  }
}

TEST_CASE("faults: 5xx, dropped connections, slow, truncated and malformed pages lose nothing") {
  emulator::Options opts;
  opts.seed = 3;
  opts.events = 20'000;
  opts.rate_limit = 0;
  opts.fault_rate = 0.3;
  opts.faults = {emulator::Fault::ServerError, emulator::Fault::DropConnection, emulator::Fault::Slow,
                 emulator::Fault::TruncatedBody, emulator::Fault::MalformedJson};
  opts.slow_delay = milliseconds(300);
  emulator::Emulator emu(opts);
  emu.start();
  Workdir w("faults");
  auto r = run_once(config_yaml(emu.base_url(), w, "  page_size: 500\n  rate_limit: {requests: 1000, period: 1s}\n"));
  CHECK(r.code == 0);
  check_exactly(output_ids(w.out()), emu.ids());
  CHECK(emu.stats().faults_injected > 5);
  CHECK(r.log.find("\"reason\":\"body\"") != std::string::npos);  // malformed/truncated pages were retried
}

TEST_CASE("rate limit: below our budget the server answers 429, each reset is honoured, and the run completes") {
  struct Format {
    emulator::ResetFormat format;
    const char* name;
  };
  for (auto f : {Format{emulator::ResetFormat::Rfc3339, "rfc3339"}, Format{emulator::ResetFormat::HttpDate, "http-date"},
                 Format{emulator::ResetFormat::EpochSeconds, "epoch"}, Format{emulator::ResetFormat::DeltaSeconds, "delta"},
                 Format{emulator::ResetFormat::RetryAfterOnly, "retry-after"}}) {
    CAPTURE(f.name);
    emulator::Options opts;
    opts.seed = 4;
    opts.events = 6'000;  // 6 pages of 1,000: more than the 4 requests a window allows
    opts.rate_limit = 4;
    opts.rate_window = milliseconds(1000);
    opts.reset_format = f.format;
    emulator::Emulator emu(opts);
    emu.start();
    Workdir w("429");
    auto r = run_once(config_yaml(emu.base_url(), w, "  page_size: 1000\n  rate_limit: {requests: 50, period: 60s}\n"));
    CHECK(r.code == 0);
    check_exactly(output_ids(w.out()), emu.ids());
    auto stats = emu.stats();
    CHECK(stats.rate_limited > 0);
    CHECK(stats.early_requests == 0);  // no request before the announced reset
  }
}

TEST_CASE("rate limit: with our budget below the server's limit, the run completes with zero 429s") {
  emulator::Options opts;
  opts.seed = 5;
  opts.events = 12'000;
  opts.rate_limit = 10;
  opts.rate_window = milliseconds(1000);
  emulator::Emulator emu(opts);
  emu.start();
  Workdir w("budget");
  auto r = run_once(config_yaml(emu.base_url(), w, "  page_size: 500\n  rate_limit: {requests: 9, period: 1s}\n"));
  CHECK(r.code == 0);
  check_exactly(output_ids(w.out()), emu.ids());
  CHECK(emu.stats().requests >= 24);
  CHECK(emu.stats().rate_limited == 0);
}

TEST_CASE("links.next to a foreign host never receives the Authorization header") {
  httplib::Server foreign;
  std::atomic<int> foreign_requests{0};
  std::atomic<int> foreign_with_auth{0};
  foreign.Get(".*", [&](const httplib::Request& req, httplib::Response& res) {
    ++foreign_requests;
    if (req.has_header("Authorization")) ++foreign_with_auth;
    res.set_content("{\"access_logs\":[],\"meta\":{\"has_more\":false}}", "application/json");
  });
  int foreign_port = foreign.bind_to_any_port("127.0.0.1");
  std::thread foreign_thread([&] { foreign.listen_after_bind(); });

  httplib::Server api;
  std::atomic<int> api_requests{0};
  std::string second_cursor;
  const std::string event_time = format_utc_seconds(
      duration_cast<seconds>(system_clock::now().time_since_epoch()).count() - 3600);
  api.Get("/api/v2/access_logs", [&](const httplib::Request& req, httplib::Response& res) {
    ++api_requests;
    std::string cursor = req.get_param_value("page[after]");
    nlohmann::json page;
    // One event, listed only by the window that holds its timestamp.
    auto event_ms = *parse_rfc3339_ms(event_time);
    bool in_window = *parse_rfc3339_ms(req.get_param_value("filter[start]")) <= event_ms &&
                     event_ms < *parse_rfc3339_ms(req.get_param_value("filter[end]"));
    if (cursor.empty() && in_window) {
      page = {{"access_logs", {{{"id", "01HFOREIGNTEST0000000000A1"}, {"timestamp", event_time},
                                {"user_id", 1}, {"ip_address", ""}, {"method", "GET"}, {"status", 200},
                                {"url", "/api/v2/tickets/1.json"}}}},
              {"links", {{"next", "http://127.0.0.1:" + std::to_string(foreign_port) + "/api/v2/access_logs?page[after]=c1"}}},
              {"meta", {{"after_cursor", "c1"}, {"has_more", true}}}};
    } else {
      if (!cursor.empty()) second_cursor = cursor;
      page = {{"access_logs", nlohmann::json::array()}, {"links", {{"next", nullptr}}},
              {"meta", {{"after_cursor", nullptr}, {"has_more", false}}}};
    }
    res.set_content(page.dump(), "application/json");
  });
  int api_port = api.bind_to_any_port("127.0.0.1");
  std::thread api_thread([&] { api.listen_after_bind(); });

  Workdir w("foreign");
  auto r = run_once(config_yaml("http://127.0.0.1:" + std::to_string(api_port), w));
  api.stop();
  foreign.stop();
  api_thread.join();
  foreign_thread.join();
  CHECK(r.code == 0);
  CHECK(foreign_requests == 0);
  CHECK(foreign_with_auth == 0);
  CHECK(second_cursor == "c1");  // paged on with meta.after_cursor instead
  CHECK(r.log.find("links.next points at another host") != std::string::npos);
  CHECK(output_ids(w.out()).size() == 1);
}

// A fake API answering every request with `handler`, on loopback.
struct FakeApi {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  explicit FakeApi(std::function<void(const httplib::Request&, httplib::Response&)> handler) {
    server.Get(".*", handler);
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~FakeApi() {
    server.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// A port nothing listens on now: bound, read back, closed (never listened).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST_CASE("API refusals (#8, #9): /readyz says why, and run --once with a rejected token exits 1 at once") {
  // #9: --once with a revoked token never exited (cron hung).
  {
    emulator::Options opts;
    opts.events = 100;
    opts.force_status = 401;
    emulator::Emulator emu(opts);
    emu.start();
    Workdir w("once401");
    auto t0 = steady_clock::now();
    auto r = run_once(config_yaml(emu.base_url(), w));
    CHECK(r.code == 1);
    CHECK(r.log.find("credentials were rejected") != std::string::npos);
    CHECK(steady_clock::now() - t0 < seconds(10));
  }
  // #9: /readyz said "no page fetched yet" on 403; #8: it said all was well
  // while has_more came without a cursor, retried forever.
  struct Case {
    std::string name, says;
    std::function<void(const httplib::Request&, httplib::Response&)> handler;
  };
  std::vector<Case> cases = {
      {"403", "must be a Zendesk admin",
       [](const httplib::Request&, httplib::Response& res) {
         res.status = 403;
         res.set_content("{\"errors\":[{\"title\":\"Forbidden\",\"detail\":\"admins only\"}]}", "application/json");
       }},
      {"no cursor", "neither meta.after_cursor nor links.next",
       [](const httplib::Request&, httplib::Response& res) {
         res.set_content("{\"access_logs\":[],\"links\":{\"next\":null},\"meta\":{\"has_more\":true}}",
                         "application/json");
       }},
      {"only a foreign cursor", "gives no usable cursor",
       [](const httplib::Request&, httplib::Response& res) {
         res.set_content("{\"access_logs\":[],\"links\":{\"next\":\"https://elsewhere.example/x\"},"
                         "\"meta\":{\"has_more\":true,\"after_cursor\":null}}",
                         "application/json");
       }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    FakeApi api(c.handler);
    Workdir w("readyz");
    int port = free_port();
    std::ostringstream logs;
    Logger log(logs);
    auto config = app::load_config(ConfigNode::load_string(
        config_yaml(api.url(), w) + "metrics: {listen: 127.0.0.1:" + std::to_string(port) + "}\n"));
    StopSignal stop;
    std::string body;
    int status = 0;
    std::thread prober([&] {
      httplib::Client client("127.0.0.1", port);
      client.set_connection_timeout(1);
      client.set_read_timeout(2);
      for (int i = 0; i < 50 && body.find(c.says) == std::string::npos; ++i) {
        std::this_thread::sleep_for(milliseconds(100));
        if (auto res = client.Get("/readyz")) {
          status = res->status;
          body = res->body;
        }
      }
      stop.request();
    });
    int code = app::run_forwarder(config, /*once=*/false, log, stop);
    prober.join();
    CHECK(code == 0);
    CHECK(status == 503);
    CHECK(body.find(c.says) != std::string::npos);
  }
}

TEST_CASE("budget (#7): every request opens its own connection, so libcurl never re-sends one unseen") {
  // A keep-alive server counting connections and requests. libcurl re-sends
  // a request by itself when a reused connection turns out dead, outside
  // our budget; without reuse it never does.
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(lfd, 16) == 0);
  socklen_t len = sizeof a;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  std::atomic<int> connections{0}, requests{0};
  std::atomic<bool> done{false};
  std::thread server([&] {
    std::vector<std::thread> handlers;
    while (!done) {
      pollfd p{lfd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int fd = ::accept(lfd, nullptr, nullptr);
      if (fd < 0) continue;
      ++connections;
      handlers.emplace_back([&, fd] {
        std::string in;
        char buf[4096];
        for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
          in.append(buf, static_cast<size_t>(n));
          for (size_t end; (end = in.find("\r\n\r\n")) != std::string::npos;) {
            in.erase(0, end + 4);
            ++requests;
            std::string body = "{\"access_logs\":[],\"links\":{\"next\":null},\"meta\":{\"has_more\":false}}";
            std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
                               "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
            ::send(fd, resp.data(), resp.size(), MSG_NOSIGNAL);
          }
        }
        ::close(fd);
      });
    }
    for (auto& t : handlers) t.join();
  });
  Workdir w("reuse");
  // Many small windows: many requests in a row on one forwarder.
  auto r = run_once(config_yaml("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)), w,
                                "  max_window: 1h\n"));
  done = true;
  ::shutdown(lfd, SHUT_RDWR);
  server.join();
  ::close(lfd);
  CHECK(r.code == 0);
  CHECK(requests >= 20);  // a day back in hour-long windows
  CHECK(connections == requests);
}

TEST_CASE("redirects (#10): a 302 is reported as a redirect with its Location, not as a 5xx") {
  FakeApi api([](const httplib::Request&, httplib::Response& res) {
    res.status = 302;
    res.set_header("Location", "https://login.example.invalid/next");
  });
  Workdir w("redirect");
  auto r = run_for(config_yaml(api.url(), w), milliseconds(500));
  CHECK(r.code == 0);
  CHECK(r.log.find("HTTP 302 redirect to https://login.example.invalid/next") != std::string::npos);
  CHECK(r.log.find("\"reason\":\"redirect\"") != std::string::npos);
  CHECK(r.log.find("\"reason\":\"5xx\"") == std::string::npos);
}

TEST_CASE("secrets: a debug-level log of a whole run contains no credential") {
  for (const char* auth : {"{type: api_token, email: agent@example.com, token: emulator-token}",
                           "{type: password, email: agent@example.com, password: emulator-password}",
                           "{type: oauth, oauth_token: emulator-oauth}"}) {
    CAPTURE(auth);
    emulator::Options opts;
    opts.events = 3000;
    opts.rate_limit = 0;
    opts.gzip = true;  // and gzip-compressed pages decode like plain ones
    emulator::Emulator emu(opts);
    emu.start();
    Workdir w("secrets");
    auto r = run_once(config_yaml(emu.base_url(), w, "  page_size: 1000\n", auth), LogLevel::Debug);
    CHECK(r.code == 0);
    CHECK(r.log.find("\"level\":\"debug\"") != std::string::npos);
    for (const char* secret : {"emulator-token", "emulator-password", "emulator-oauth",
                               "YWdlbnRAZXhhbXBsZS5jb20vdG9rZW46ZW11bGF0b3ItdG9rZW4=",
                               "YWdlbnRAZXhhbXBsZS5jb206ZW11bGF0b3ItcGFzc3dvcmQ="}) {
      CAPTURE(secret);
      CHECK(r.log.find(secret) == std::string::npos);
    }
    check_exactly(output_ids(w.out()), emu.ids());
  }
}

TEST_CASE("late events: a late read ships what appeared after the first read, nothing twice, at two walks per window") {
  emulator::Options opts;
  opts.seed = 9;
  opts.events = 2000;
  opts.span = std::chrono::seconds(600);
  opts.end_gap = std::chrono::seconds(5);
  opts.rate_limit = 0;
  opts.live_rate = 80;
  opts.late_fraction = 0.3;
  opts.late_max = std::chrono::seconds(4);
  emulator::Emulator emu(opts);
  emu.start();
  Workdir w("late");
  std::ostringstream logs;
  Logger log(logs);
  auto config = app::load_config(ConfigNode::load_string(
      config_yaml(emu.base_url(), w, "  late_read_delay: 6s\n  poll_interval: 1s\n  page_size: 200\n")));
  StopSignal stop;
  auto t0 = steady_clock::now();
  std::thread stopper([&] {
    std::this_thread::sleep_for(seconds(5));
    emu.update({{"live_rate", 0}});
    // Late events are at most 4 s late and every window is read again 6 s
    // after its end: after this pause (late_read_delay, a poll and 3 s to
    // spare) each window that could hold one has had its late read.
    std::this_thread::sleep_for(seconds(10));
    stop.request();
  });
  int code = app::run_forwarder(config, /*once=*/false, log, stop);
  stopper.join();
  double run_s = duration<double>(steady_clock::now() - t0).count();
  CHECK(code == 0);
  check_exactly(output_ids(w.out()), emu.ids());
  CHECK(emu.ids().size() > 2200);  // live events did arrive (80/s for 5 s)
  auto summary = final_summary(logs.str());
  CHECK(summary["late_events"].get<double>() > 0);         // found only by late reads
  CHECK(summary["duplicates_dropped"].get<int>() > 0);     // late reads re-list what was shipped
  CHECK(summary["late_reads_done"].get<double>() > 5);
  CHECK(summary["late_reads_given_up"].get<double>() == 0);
  // Two walks per window, whatever the poll interval: the backfill's pages
  // once, and at most two requests per second of live windows (1 s polls,
  // each window under one page) plus a few for the window boundaries.
  auto requests = emu.stats().requests;
  CAPTURE(requests);
  CAPTURE(run_s);
  CHECK(static_cast<double>(requests) <= 2000 / 200 + 2 * run_s + 6);
}

TEST_CASE("checkpoint version 1: resumed after an upgrade, nothing the old version shipped is shipped again") {
  emulator::Options opts;
  opts.seed = 21;
  opts.events = 3000;
  opts.span = std::chrono::seconds(1800);
  opts.end_gap = std::chrono::seconds(30);
  opts.rate_limit = 0;
  emulator::Emulator emu(opts);
  emu.start();
  auto events = emu.listing();
  // A version-1 checkpoint as the previous release writes it (shape as in
  // tests/fixtures/checkpoint-v1-from-e45a5ea.json) between two windows:
  // its next window starts 5 minutes (its overlap) before the last one
  // ended, and the ids of that overlap are listed as already shipped.
  int64_t start_s = events[1000].ts_ms / 1000;
  int64_t overlap_end_s = start_s + 300;
  nlohmann::json recent = nlohmann::json::array();
  std::set<std::string> shipped, expected;
  for (const auto& e : events) {
    if (e.ts_ms < start_s * 1000) continue;
    if (e.ts_ms < overlap_end_s * 1000) {
      recent.push_back({e.id, e.ts_ms / 1000});
      shipped.insert(e.id);
    } else {
      expected.insert(e.id);
    }
  }
  REQUIRE(shipped.size() > 200);
  Workdir w("v1");
  {
    std::ofstream cp(w.dir / "checkpoint.json");
    cp << nlohmann::json({{"version", 1},
                          {"account", "127.0.0.1"},
                          {"position", {{"window_start", start_s}, {"window_end", 0}, {"cursor", ""}}},
                          {"recent_ids", recent},
                          {"committed_at", start_s},
                          {"events_delivered", 1234}})
              .dump();
  }
  auto r = run_once(config_yaml(emu.base_url(), w, "  page_size: 500\n"));
  CHECK(r.code == 0);
  CHECK(r.log.find("checkpoint migrated from version 1") != std::string::npos);
  auto got = output_ids(w.out());
  std::set<std::string> unique(got.begin(), got.end());
  CHECK(got.size() == unique.size());
  CHECK(unique == expected);
  auto summary = final_summary(r.log);
  CHECK(summary["duplicates_dropped"].get<size_t>() == shipped.size());
  std::ifstream cp(w.dir / "checkpoint.json");
  CHECK(nlohmann::json::parse(cp)["version"] == 2);
}

TEST_CASE("checkpoint writes failing (#20): run --once exits non-zero instead of reporting success") {
  auto started = unlimited_emulator(14, 3000);
  emulator::Emulator& emu = *started;
  Workdir w("cpfail");
  // Every write fails the way a full disk does: the temp file cannot be
  // created (a directory is in the way; root ignores permissions).
  fs::create_directories(w.dir / "checkpoint.json.tmp" / "x");
  auto r = run_once(config_yaml(emu.base_url(), w, "  page_size: 1000\n"));
  CHECK(r.code == 1);
  CHECK(r.log.find("checkpoint write failed") != std::string::npos);
  CHECK(r.log.find("the last checkpoint write failed") != std::string::npos);
  CHECK_FALSE(fs::exists(w.dir / "checkpoint.json"));
}

TEST_CASE("backfill start older than the 90-day retention is clipped with a warning, and the run completes") {
  emulator::Options opts;
  opts.seed = 12;
  opts.events = 2000;
  opts.rate_limit = 0;
  emulator::Emulator emu(opts);
  emu.start();
  Workdir w("retention");
  std::string yaml = config_yaml(emu.base_url(), w, "  page_size: 1000\n  max_window: 90d\n");
  yaml.replace(yaml.find("start: 1d"), 9, "start: 120d");
  auto r = run_once(yaml);
  CHECK(r.code == 0);
  CHECK(r.log.find("older than the API's 90-day retention; clipping it") != std::string::npos);
  check_exactly(output_ids(w.out()), emu.ids());
}

TEST_CASE("clock (#13): which windows are due is decided by the injected clock") {
  emulator::Options opts;
  opts.seed = 81;
  opts.events = 4000;
  opts.span = std::chrono::hours(4);
  opts.end_gap = std::chrono::seconds(60);
  opts.rate_limit = 0;
  emulator::Emulator emu(opts);
  emu.start();
  Workdir w("clock");
  int64_t real_now_ms = real_clock().now_ms();
  ManualClock clock(real_now_ms - 2 * 3600 * 1000);  // the forwarder believes it is two hours earlier
  std::string yaml = config_yaml(emu.base_url(), w, "  page_size: 500\n  rate_limit: {requests: 1000, period: 1s}\n");
  auto r = run_once(yaml, LogLevel::Info, clock);
  CHECK(r.code == 0);
  auto shipped = output_ids(w.out());
  // Everything before the injected "now" and nothing after it.
  size_t before = 0;
  for (const auto& e : emu.listing()) {
    if (e.ts_ms < clock.now_ms() - 1000) {
      ++before;
      CHECK(shipped.count(e.id) == 1);
    }
    if (e.ts_ms >= clock.now_ms() + 1000) CHECK(shipped.count(e.id) == 0);
  }
  CHECK(before > 1000);
  CHECK(shipped.size() < emu.ids().size());
  // Three hours pass in an instant: the rest is due, and shipped once.
  clock.advance(std::chrono::hours(3));
  r = run_once(yaml, LogLevel::Info, clock);
  CHECK(r.code == 0);
  check_exactly(output_ids(w.out()), emu.ids());
}

TEST_CASE("sources (#13): three accounts in one process, each within its own budget, with its own checkpoint") {
  // Each account is its own emulator, limited to exactly the budget its
  // source is given; the budgets differ, so a shared or swapped limiter
  // would show as 429s or as too many requests in the request log.
  struct Account {
    std::string name;
    int budget;
    size_t events;
    std::unique_ptr<emulator::Emulator> emu;
  };
  std::vector<Account> accounts(3);
  accounts[0] = {"acme", 3, 3000, nullptr};
  accounts[1] = {"globex", 5, 5000, nullptr};
  accounts[2] = {"initech", 8, 8000, nullptr};
  const milliseconds period(1000);
  Workdir w("sources");
  std::string yaml = "sources:\n";
  for (size_t i = 0; i < accounts.size(); ++i) {
    auto& a = accounts[i];
    emulator::Options opts;
    opts.seed = 90 + i;
    opts.events = a.events;
    opts.rate_limit = a.budget;
    opts.rate_window = period;
    a.emu = std::make_unique<emulator::Emulator>(opts);
    a.emu->start();
    yaml += "  - type: zendesk_pull\n"
            "    name: " + a.name + "\n"
            "    base_url: " + a.emu->base_url() + "\n"
            "    account: " + a.name + "\n"
            "    auth: {type: api_token, email: agent@example.com, token: emulator-token}\n"
            "    start: 1d\n"
            "    settle_delay: 0s\n"
            "    late_read_delay: 1m\n"
            "    page_size: 250\n"
            "    rate_limit: {requests: " + std::to_string(a.budget) + ", period: 1s}\n"
            "    checkpoint: {path: " + (w.dir / (a.name + ".checkpoint.json")).string() + "}\n";
  }
  yaml += "sinks:\n  - {type: jsonl, path: " + w.out() + ", fsync: false}\n";

  auto r = run_once(yaml);
  CHECK(r.code == 0);
  std::vector<std::string> all;
  for (auto& a : accounts) {
    CAPTURE(a.name);
    auto ids = a.emu->ids();
    all.insert(all.end(), ids.begin(), ids.end());
    auto st = a.emu->stats();
    CHECK(st.rate_limited == 0);
    CHECK(st.requests >= a.events / 250);
    // From the request log: never more than the budget within one period
    // (less 100 ms for the jitter between our send and its arrival).
    size_t most = 0;
    for (size_t i = 0, j = 0; j < st.arrivals_ms.size(); ++j) {
      while (st.arrivals_ms[j] - st.arrivals_ms[i] >= period.count() - 100) ++i;
      most = std::max(most, j - i + 1);
    }
    MESSAGE(a.name << ": " << st.requests << " requests, at most " << most << " within one period, budget "
                   << a.budget);
    CHECK(most <= static_cast<size_t>(a.budget));
    CHECK(fs::exists(w.dir / (a.name + ".checkpoint.json")));
    // Each source logs under its own name.
    CHECK(r.log.find("\"source\":\"" + a.name + "\"") != std::string::npos);
  }
  check_exactly(output_ids(w.out()), all);

  // Each checkpoint holds its own position: a second run ships nothing again.
  r = run_once(yaml);
  CHECK(r.code == 0);
  check_exactly(output_ids(w.out()), all);
}

TEST_CASE("encodings (#14): an ocsf_json sink and a cef sink get every event; ECS is not made when no sink ships it") {
  auto started = unlimited_emulator(14, 3000);
  emulator::Emulator& emu = *started;
  Workdir w("encodings");
  std::string cef_out = (w.dir / "out.cef").string();
  std::string yaml = config_yaml(emu.base_url(), w, "  page_size: 1000\n");
  yaml.replace(yaml.find("fsync: false}"), 13, "fsync: false, encoding: ocsf_json}\n  - {type: jsonl, name: cef, path: " +
                                                   cef_out + ", fsync: false, encoding: cef}");
  auto r = run_once(yaml);
  CHECK(r.code == 0);
  std::multiset<std::string> ocsf_ids, cef_ids;
  std::ifstream ocsf(w.out()), cef(cef_out);
  std::string line;
  while (std::getline(ocsf, line)) {
    auto j = nlohmann::json::parse(line);
    CHECK(j["class_uid"] == 6003);
    ocsf_ids.insert(j["metadata"]["uid"].get<std::string>());
  }
  while (std::getline(cef, line)) {
    REQUIRE(line.rfind("CEF:0|Zendesk|Access Logs|2|", 0) == 0);
    size_t at = line.find("externalId=") + 11;
    cef_ids.insert(line.substr(at, line.find(' ', at) - at));
  }
  check_exactly(ocsf_ids, emu.ids());
  check_exactly(cef_ids, emu.ids());
}
