#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>
#include <variant>

#include "core/errors.h"
#include "core/stop_signal.h"
#include "log/logger.h"
#include "metrics/metrics.h"
#include "net/http_listener.h"
#include "sources/recent_ids.h"
#include "sources/zendesk_webhook/webhook_request.h"
#include "sources/zendesk_webhook/webhook_source.h"
#include "test_dirs.h"
#include "test_push.h"

using namespace zf::source;
using namespace zf::net;

TEST_CASE("webhook signature: base64(HMAC-SHA256(secret, timestamp + body)), as openssl dgst computes it") {
  // echo -n '2024-08-15T14:23:45Z{"a":1}' | openssl dgst -sha256 -hmac dGVzdC1zZWNyZXQ -binary | base64
  CHECK(webhook_signature("dGVzdC1zZWNyZXQ", "2024-08-15T14:23:45Z", "{\"a\":1}") ==
        "dGHdMl94bgIa7mpvLQx9AtzdA92M/2uoz0tvxGK6HdQ=");
}

TEST_CASE("webhook signature: any configured secret is accepted (rotation); a changed byte anywhere is not") {
  std::string body = R"({"type":"zen:event-type:access_log.created"})", ts = "2024-08-15T14:23:45Z";
  std::string sig = webhook_signature("old", ts, body);
  CHECK(webhook_signature_valid({"new", "old"}, ts, body, sig));
  CHECK_FALSE(webhook_signature_valid({"new"}, ts, body, sig));
  CHECK_FALSE(webhook_signature_valid({"new", "old"}, "2024-08-15T14:23:46Z", body, sig));
  CHECK_FALSE(webhook_signature_valid({"new", "old"}, ts, body + " ", sig));
  CHECK_FALSE(webhook_signature_valid({"new", "old"}, ts, body, sig.substr(1)));
  CHECK_FALSE(webhook_signature_valid({}, ts, body, sig));
}

TEST_CASE("webhook body: the access logs of an access_log.created event; anything else refused with a reason") {
  auto ok = parse_webhook_body(R"({"account_id":12514403,"detail":{},"event":{"access_logs":[
    {"id":"01J5M2QGXR3KZ8N4BVWYH6T9PA","timestamp":"2024-08-15T14:23:45Z","user_id":"6596848315901","graphql":null},
    {"id":"01J5M2QGXR3KZ8N4BVWYH6T9PB"}]},"id":"x","type":"zen:event-type:access_log.created"})");
  REQUIRE(std::holds_alternative<WebhookEvents>(ok));
  CHECK(std::get<WebhookEvents>(ok).count == 2);
  CHECK(std::get<WebhookEvents>(ok).access_logs_json.rfind("[{\"id\":\"01J5M2QGXR3KZ8N4BVWYH6T9PA\"", 0) == 0);
  auto why = [](std::string_view body) {
    auto r = parse_webhook_body(body);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : std::string();
  };
  CHECK(why("not json") == "the body is not JSON");
  CHECK(why("[1]") == "the body is not a JSON object");
  CHECK(why(R"({"event":{}})") == "no string \"type\"");
  CHECK(why(R"({"type":"zen:event-type:ticket.created"})").find("not an access log event") == 0);
  CHECK(why(R"({"type":"zen:event-type:access_log.created","event":{"access_logs":{}}})") == "no event.access_logs array");
  CHECK(why(R"({"type":"zen:event-type:access_log.created","event":{"access_logs":[1]}})") ==
        "an entry of event.access_logs is not an object");
}

TEST_CASE("pushed ids: kept across a restart, newest first within the bound, one process per file, torn tail ignored") {
  auto dir = zf::testing::temp_dir("recent-ids");
  std::string path = (dir / "state" / "push.ids").string();
  auto keys = [](int from, int to) {
    std::vector<EventKey> out;
    for (int i = from; i < to; ++i) out.push_back(event_key("id-" + std::to_string(i)));
    return out;
  };
  {
    RecentIds ids(100, path);
    for (int i = 0; i < 250; i += 10) ids.add(keys(i, i + 10));  // compacts past 200 on disk
    CHECK(ids.size() == 100);
    CHECK_THROWS_AS(RecentIds(100, path), zf::FatalError);  // a second process would race the file
    CHECK(std::filesystem::file_size(path) <= 200 * kEventKeyBytes);
  }
  std::ofstream(path, std::ios::app) << "torn";  // a crash mid-append
  RecentIds again(100, path);
  CHECK(again.size() == 100);
  CHECK(again.contains(event_key("id-249")));
  CHECK(again.contains(event_key("id-150")));
  CHECK_FALSE(again.contains(event_key("id-149")));
  again.add(keys(250, 251));
  CHECK(again.contains(event_key("id-250")));
  CHECK_FALSE(again.contains(event_key("id-150")));
  std::filesystem::remove_all(dir);
}

TEST_CASE("listener request head: path without query, lower-case names, a POST needs a length, chunked refused") {
  auto head = parse_request_head("POST /zendesk/access-logs?x=1 HTTP/1.1\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 12\r\nX-Zendesk-Webhook-Signature: abc=\r\nConnection: close");
  REQUIRE(std::holds_alternative<RequestHead>(head));
  const auto& h = std::get<RequestHead>(head);
  CHECK(h.request.path == "/zendesk/access-logs");
  CHECK(h.request.header("x-zendesk-webhook-signature") == "abc=");
  CHECK(h.content_length == 12);
  CHECK_FALSE(h.keep_alive);
  auto status = [](std::string_view text) {
    auto r = parse_request_head(text);
    return std::holds_alternative<HeadError>(r) ? std::get<HeadError>(r).status : 0;
  };
  CHECK(status("POST /a HTTP/1.1\r\nHost: x") == 411);
  CHECK(status("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3") == 411);
  CHECK(status("POST /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6") == 400);
  CHECK(status("POST /a HTTP/1.1\r\nContent-Length: -1") == 400);
  CHECK(status("GET a HTTP/1.1") == 400);
  CHECK(status("GET / HTTP/2") == 400);
  CHECK(status("GET / HTTP/1.0\r\nno colon") == 400);
  CHECK(status("GET / HTTP/1.0") == 0);
}

TEST_CASE("listener request head: strict framing (RFC 9112): no space before the colon, no obs-fold, CRLF only, no NUL") {
  auto status = [](std::string_view text) {
    auto r = parse_request_head(text);
    return std::holds_alternative<HeadError>(r) ? std::get<HeadError>(r).status : 0;
  };
  using namespace std::string_view_literals;
  CHECK(status("POST /a HTTP/1.1\r\nContent-Length: 3\r\nX-A: b") == 0);
  CHECK(status("POST /a HTTP/1.1\r\nContent-Length : 3") == 400);   // whitespace before the colon
  CHECK(status("POST /a HTTP/1.1\r\nContent-Length\t: 3") == 400);
  CHECK(status("POST /a HTTP/1.1\r\nContent-Length: 3\r\nX-A: b\r\n c: d") == 400);  // folded line with a colon
  CHECK(status("POST /a HTTP/1.1\r\nContent-Length: 3\r\nX-A: b\r\n\tmore") == 400);  // folded line
  CHECK(status("POST /a HTTP/1.1\r\nContent-Length: 3\nX-A: b") == 400);  // bare LF
  CHECK(status("POST /a HTTP/1.1\nContent-Length: 3") == 400);
  CHECK(status("POST /a HTTP/1.1\r\nContent-Length: 3\rX-A: b") == 400);  // bare CR
  CHECK(status("POST /a HTTP/1.1\r\nContent-Length: 3\r\nX-A: b\0c"sv) == 400);  // NUL in a value
  CHECK(status("POST /a HTTP/1.1\r\nContent-Length: 3\r\nX-A: b\x01" "c") == 400);
  CHECK(status("POST /a HTTP/1.1\r\nContent-Length: 3\r\nX(A): b") == 400);  // not a token
  CHECK(status("PO\0ST /a HTTP/1.1\r\nContent-Length: 3"sv) == 400);
  CHECK(status("GET /a b HTTP/1.1") == 400);  // a space in the target
  CHECK(status("GET /a HTTP/1.1\r\nX-A: tab\there") == 0);  // a tab is allowed in a value
}

TEST_CASE("pushed ids (#27): a failed write keeps none of its ids, in memory or on disk, and a retry writes them whole") {
  auto dir = zf::testing::temp_dir("recent-ids-full");
  std::string path = (dir / "push.ids").string();
  auto keys = [](int from, int to) {
    std::vector<EventKey> out;
    for (int i = from; i < to; ++i) out.push_back(event_key("id-" + std::to_string(i)));
    return out;
  };
  {
    RecentIds ids(1000, path);
    ids.add(keys(0, 10));
    auto before = std::filesystem::file_size(path);
    // A full disk, part way through the next key: the file-size limit
    // makes write() stop there (EFBIG) as ENOSPC would.
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = saved;
    small.rlim_cur = before + kEventKeyBytes + 5;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    CHECK_THROWS(ids.add(keys(10, 20)));
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, old_handler);
    // Not durable, so not delivered: a retried push must be shipped again,
    // not answered "duplicate".
    CHECK_FALSE(ids.contains(event_key("id-10")));
    CHECK_FALSE(ids.contains(event_key("id-19")));
    CHECK(std::filesystem::file_size(path) == before);  // cut back: no partial key shifts the later ones
    ids.add(keys(10, 20));  // the retry, once there is room
    CHECK(ids.contains(event_key("id-19")));
  }
  RecentIds again(1000, path);
  CHECK(again.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(again.contains(event_key("id-" + std::to_string(i))));
  std::filesystem::remove_all(dir);
}

using zf::testing::push_events;

TEST_CASE("webhook source (#27): a commit whose ids cannot be written answers its pushes 503 at once and releases "
          "their ids; one id twice in a push is one event") {
  auto dir = zf::testing::temp_dir("webhook-commit");
  auto ids = std::make_shared<RecentIds>(1000, (dir / "push.ids").string());
  std::ostringstream logs;
  zf::Logger log(logs);
  zf::ProcessMetrics process("test");
  zf::Metrics metrics(process, "push", "acme");
  zf::StopSignal stop;
  WebhookSettings settings;
  settings.port = 0;
  settings.path = "/h";
  settings.secrets = {"k3y"};
  settings.ack_timeout = std::chrono::seconds(20);
  WebhookSource source(settings, ids, log, metrics, stop);
  uint16_t port = source.start();

  auto a = std::async(std::launch::async, [&] { return push_events(port, {"a1", "a2", "a1"}, nullptr); });
  auto first = source.next(false);
  REQUIRE(first);
  CHECK(first->events.size() == 2);  // a1 once
  auto b = std::async(std::launch::async, [&] { return push_events(port, {"b1"}, nullptr); });
  auto second = source.next(false);
  REQUIRE(second);

  // The volume is full: not one byte of the ids can be written.
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit none = saved;
  none.rlim_cur = 0;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &none) == 0);
  auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS(source.commit(second->token));  // both pages in one commit
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  CHECK(a.get() == 503);
  CHECK(b.get() == 503);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));  // at once, not at ack_timeout
  CHECK(source.failed_commits() == 1);
  CHECK(source.durability_problem().find("could not be written") != std::string::npos);
  CHECK_FALSE(ids->contains(event_key("a1")));

  // Zendesk retries: delivered again (not "200 duplicate", not 503 "being
  // delivered"), and with room the commit answers 200.
  auto retry = std::async(std::launch::async, [&] { return push_events(port, {"b1", "a1"}, nullptr); });
  auto again = source.next(false);
  REQUIRE(again);
  CHECK(again->events.size() == 2);
  source.commit(again->token);
  CHECK(retry.get() == 200);
  CHECK(source.durability_problem().empty());
  CHECK(ids->contains(event_key("a1")));
  CHECK(push_events(port, {"a1"}, nullptr) == 200);  // now a duplicate
  std::filesystem::remove_all(dir);
}

namespace {
int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}
// The status of the answer on `fd` (0: closed or timed out without one).
int status_on(int fd) {
  std::string answer;
  char buf[4096];
  while (answer.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  return answer.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(answer.substr(9, 3)) : 0;
}
std::string head_for(size_t length, bool signed_ = true) {
  return "POST /h HTTP/1.1\r\nHost: x\r\n" + std::string(signed_ ? "X-Sig: yes\r\n" : "") +
         "Content-Length: " + std::to_string(length) + "\r\n\r\n";
}
}  // namespace

TEST_CASE("listener (#27): one byte budget across connections; small requests keep a share; refusals from the head; "
          "a cap per address") {
  ListenerSettings settings;
  settings.max_buffered_bytes = 200 << 10;  // an eighth (25 KiB) kept for requests of 64 KiB at most
  settings.max_body_bytes = 180 << 10;
  settings.max_connections_per_ip = 4;
  settings.check_head = [](const ServerRequest& req) -> std::optional<ServerResponse> {
    if (req.header("x-sig").empty()) return ServerResponse{401, "{}", "application/json", {}};
    return std::nullopt;
  };
  HttpListener listener(settings, [](const ServerRequest& req) { return ServerResponse{200, std::to_string(req.body.size())}; },
                        nullptr);
  uint16_t port = listener.start();
  auto wait_for = [&](auto done) {
    for (int i = 0; i < 200 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return done();
  };

  // A large body's whole length is reserved from its head: the second one
  // finds no room and is answered 503 before sending any of its body.
  int big = connect_to(port);
  std::string h = head_for(150 << 10);
  ::send(big, h.data(), h.size(), MSG_NOSIGNAL);
  CHECK(wait_for([&] { return listener.buffered_bytes() >= (150u << 10); }));
  int second = connect_to(port);
  h = head_for(150 << 10);
  ::send(second, h.data(), h.size(), MSG_NOSIGNAL);
  CHECK(status_on(second) == 503);
  ::close(second);
  // A small request still gets through (the share kept for small ones).
  int small = connect_to(port);
  h = head_for(10) + "0123456789";
  ::send(small, h.data(), h.size(), MSG_NOSIGNAL);
  CHECK(status_on(small) == 200);
  ::close(small);
  // Unsigned: refused from the head, its body never read nor reserved.
  int unsigned_ = connect_to(port);
  h = head_for(150 << 10, false);
  ::send(unsigned_, h.data(), h.size(), MSG_NOSIGNAL);
  CHECK(status_on(unsigned_) == 401);
  ::close(unsigned_);
  // The large one completes; everything it held is given back.
  std::string body(150 << 10, 'x');
  ::send(big, body.data(), body.size(), MSG_NOSIGNAL);
  CHECK(status_on(big) == 200);
  ::close(big);
  CHECK(wait_for([&] { return listener.buffered_bytes() == 0; }));
  CHECK(listener.peak_buffered_bytes() <= settings.max_buffered_bytes);

  // One address holds at most 4 connections: the fifth is refused.
  std::vector<int> fds;
  for (int i = 0; i < 4; ++i) fds.push_back(connect_to(port));
  CHECK(wait_for([&] { return listener.connections() == 4; }));
  int fifth = connect_to(port);
  CHECK(status_on(fifth) == 503);
  ::close(fifth);
  for (int fd : fds) ::close(fd);
  CHECK(wait_for([&] { return listener.connections() == 0; }));
  int later = connect_to(port);  // the count went down with the closes
  h = head_for(1) + "x";
  ::send(later, h.data(), h.size(), MSG_NOSIGNAL);
  CHECK(status_on(later) == 200);
  ::close(later);
}
