// RELP client: frame parsing, and a session against a scripted receiver
// (a Transport that answers what a test tells it to).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <prometheus/text_serializer.h>

#include "config/config_node.h"
#include "log/logger.h"
#include "metrics/metrics.h"
#include "syslog/relp.h"
#include "syslog/syslog_sink.h"
#include "test_batches.h"
#include "test_dirs.h"
#include "test_net.h"

using namespace zf::sinks::syslog;
using namespace std::chrono_literals;

namespace {

// Records what the session sent; answers from a script, one chunk per receive().
class ScriptedReceiver final : public Transport {
 public:
  std::string sent;
  std::deque<std::string> answers;
  bool open = true;
  std::string connect() override { return ""; }
  std::string send(const std::string& bytes) override {
    sent += bytes;
    return "";
  }
  std::string receive(std::string& into, std::chrono::milliseconds timeout) override {
    if (answers.empty()) return "no answer from the receiver within " + std::to_string(timeout.count()) + " ms";
    into += answers.front();
    answers.pop_front();
    return "";
  }
  bool peer_closed() override { return !open; }
  void close() override { open = false; }
  bool connected() const override { return open; }
  void abort() override {}
};

const std::string kOpenOk = "1 rsp 53 200 OK\nrelp_version=0\nrelp_software=x\ncommands=syslog\n";

}  // namespace

TEST_CASE("RELP frames: complete, incomplete and malformed") {
  RelpFrame f;
  std::string two = "2 rsp 6 200 OK\n3 rsp 6 200 OK\n";
  REQUIRE(parse_relp_frame(two, f) == 15);
  CHECK(f.txnr == 2);
  CHECK(f.command == "rsp");
  CHECK(f.data == "200 OK");
  CHECK(relp_status(f.data) == 200);
  // Any prefix of a frame is "not yet", never an error or a short frame.
  std::string frame = "12 rsp 28 500 message refused: too big\n";
  for (size_t n = 0; n < 15; ++n) CHECK(parse_relp_frame(std::string_view(frame).substr(0, n), f) == 0);
  CHECK(parse_relp_frame("0 serverclose 0\n", f) == 16);
  CHECK(f.command == "serverclose");
  CHECK(f.data.empty());
  CHECK(parse_relp_frame("8 rsp 0 \n", f) == 9);  // an empty data field, written with its space
  for (const char* bad : {"x rsp 6 200 OK\n", "1 r5p 6 200 OK\n", "1  6 200 OK\n", "1 rsp 6x200 OK\n",
                          "1 rsp 2 200 OK\n", "1234567890 rsp 0\n", "1 rsp 999999999 \n"}) {
    std::string value = bad;
    CAPTURE(value);
    CHECK_THROWS(parse_relp_frame(bad, f));
  }
  CHECK(relp_status("500 no") == 500);
  CHECK_FALSE(relp_status("20"));
  CHECK_FALSE(relp_status("2000"));
}

TEST_CASE("RELP session: a batch is taken only when every message was answered 200, in any order") {
  ScriptedReceiver rx;
  RelpSession session(rx, 1s, 1024);
  rx.answers = {kOpenOk};
  REQUIRE(session.open() == "");
  CHECK(rx.sent.rfind("1 open 62 relp_version=0\nrelp_software=zendesk-forwarder\ncommands=syslog\n", 0) == 0);
  rx.sent.clear();
  // Answers out of order and split across reads.
  rx.answers = {"4 rsp 6 200 OK\n2 rsp", " 6 200 OK\n", "3 rsp 6 200 OK\n"};
  CHECK(session.send_all({"a", "bb", "ccc"}) == "");
  CHECK(rx.sent == "2 syslog 1 a\n3 syslog 2 bb\n4 syslog 3 ccc\n");
}

TEST_CASE("RELP session: a missing, refused, repeated or unknown answer fails the batch") {
  ScriptedReceiver rx;
  RelpSession session(rx, 50ms, 1024);
  auto fresh = [&] {
    rx.answers = {kOpenOk};
    REQUIRE(session.open() == "");
  };
  fresh();
  rx.answers = {"2 rsp 6 200 OK\n"};
  CHECK(session.send_all({"a", "b"}).find("1 of 2 messages unanswered") != std::string::npos);
  fresh();
  rx.answers = {"2 rsp 6 200 OK\n3 rsp 13 500 disk full\n"};
  CHECK(session.send_all({"a", "b"}).find("refused a message: 500 disk full") != std::string::npos);
  fresh();
  rx.answers = {"2 rsp 6 200 OK\n2 rsp 6 200 OK\n"};
  CHECK(session.send_all({"a", "b"}).find("not waiting for one") != std::string::npos);
  fresh();
  rx.answers = {"9 rsp 6 200 OK\n"};
  CHECK(session.send_all({"a"}).find("not waiting for one") != std::string::npos);
  fresh();
  rx.answers = {"2 rsp 6 200 OK\n0 serverclose 0\n"};
  CHECK(session.send_all({"a", "b"}).find("serverclose") != std::string::npos);
  fresh();
  rx.answers = {"HTTP/1.1 400 Bad Request\r\n"};
  CHECK(session.send_all({"a"}).find("not speaking RELP") != std::string::npos);
}

TEST_CASE("RELP session: a receiver that refuses the open is an error that names it") {
  ScriptedReceiver rx;
  RelpSession session(rx, 50ms, 1024);
  rx.answers = {"1 rsp 17 500 not supported\n"};
  CHECK(session.open().find("RELP open refused") != std::string::npos);
  rx.answers = {};
  CHECK(session.open().find("no answer") != std::string::npos);
}

TEST_CASE("RELP session: at most `window` messages are unanswered at a time") {
  ScriptedReceiver rx;
  RelpSession session(rx, 1s, 2);
  rx.answers = {kOpenOk};
  REQUIRE(session.open() == "");
  rx.sent.clear();
  // The second window is only sent after the first was answered: if the
  // session sent all three at once, the script's order would not matter.
  rx.answers = {"2 rsp 6 200 OK\n3 rsp 6 200 OK\n", "4 rsp 6 200 OK\n"};
  CHECK(session.send_all({"a", "b", "c"}) == "");
  CHECK(rx.sent == "2 syslog 1 a\n3 syslog 1 b\n4 syslog 1 c\n");
}

TEST_CASE("RELP session (#27): a refused message leaves the others taken, and a retry sends only what was not taken") {
  ScriptedReceiver rx;
  RelpSession session(rx, 1s, 2);
  rx.answers = {kOpenOk};
  REQUIRE(session.open() == "");
  rx.sent.clear();
  // Two windows; "b" and "d" refused. The session reads every answer
  // rather than giving up at the first refusal.
  rx.answers = {"2 rsp 6 200 OK\n3 rsp 13 500 disk full\n", "5 rsp 9 500 again\n4 rsp 6 200 OK\n"};
  std::vector<std::string> messages = {"a", "b", "c", "d"};
  std::vector<bool> taken;
  auto outcome = session.send(messages, taken);
  CHECK(outcome.error == "");
  CHECK(outcome.refused == std::vector<size_t>{1, 3});
  CHECK(outcome.refusal == "500 disk full");
  CHECK(taken == std::vector<bool>{true, false, true, false});
  CHECK(rx.sent == "2 syslog 1 a\n3 syslog 1 b\n4 syslog 1 c\n5 syslog 1 d\n");
  // The same session, again: only "b" and "d" go out.
  rx.sent.clear();
  rx.answers = {"6 rsp 6 200 OK\n7 rsp 6 200 OK\n"};
  outcome = session.send(messages, taken);
  CHECK(outcome.error == "");
  CHECK(outcome.refused.empty());
  CHECK(taken == std::vector<bool>{true, true, true, true});
  CHECK(rx.sent == "6 syslog 1 b\n7 syslog 1 d\n");
  // A broken session keeps what was answered before it.
  taken.assign(4, false);
  rx.sent.clear();
  rx.answers = {"9 rsp 6 200 OK\n"};
  outcome = session.send(messages, taken);
  CHECK(outcome.error.find("1 of 2 messages unanswered") != std::string::npos);
  CHECK(taken == std::vector<bool>{false, true, false, false});
}

namespace {

// A RELP receiver on loopback for the whole sink: answers "open" and
// "close", and each "syslog" frame 200 when `take(message)` says so (the
// message is then kept), else 500.
class LoopbackRelpReceiver {
 public:
  explicit LoopbackRelpReceiver(std::function<bool(const std::string&)> take) : take_(std::move(take)) {
    listen_fd_ = zf::testing::listen_on_loopback(port_);
    thread_ = std::thread([this] { run(); });
  }
  ~LoopbackRelpReceiver() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (int c = conn_.load(); c >= 0) ::shutdown(c, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }
  int port() const { return port_; }
  std::vector<std::string> kept() {
    std::lock_guard lock(mu_);
    return kept_;
  }
  size_t offered() {
    std::lock_guard lock(mu_);
    return offered_;
  }

 private:
  void run() {
    for (;;) {
      int c = ::accept(listen_fd_, nullptr, nullptr);
      if (c < 0) return;
      conn_ = c;
      std::string in;
      char buf[65536];
      ssize_t n;
      while ((n = ::recv(c, buf, sizeof buf, 0)) > 0) {
        in.append(buf, static_cast<size_t>(n));
        RelpFrame f;
        while (size_t used = parse_relp_frame(in, f)) {
          in.erase(0, used);
          std::string rsp = "200 OK";
          if (f.command == "open") rsp = "200 OK\nrelp_version=0\ncommands=syslog";
          if (f.command == "syslog") {
            std::lock_guard lock(mu_);
            ++offered_;
            if (take_(f.data))
              kept_.push_back(f.data);
            else
              rsp = "500 refused by the test";
          }
          std::string out = std::to_string(f.txnr) + " rsp " + std::to_string(rsp.size()) + " " + rsp + "\n";
          ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
        }
      }
      conn_ = -1;
      ::close(c);
    }
  }

  std::function<bool(const std::string&)> take_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> conn_{-1};
  std::mutex mu_;
  std::vector<std::string> kept_;
  size_t offered_ = 0;
  std::thread thread_;  // last
};

size_t count_id(const std::vector<std::string>& messages, const std::string& id) {
  size_t n = 0;
  for (const auto& m : messages) n += m.find("id=\"" + id + "\"") != std::string::npos;
  return n;
}

zf::Ack send_and_wait(zf::Sink& sink, zf::BatchPtr batch) {
  std::promise<zf::Ack> got;
  sink.send(std::move(batch), [&](zf::Ack a) { got.set_value(a); });
  return got.get_future().get();
}

}  // namespace

TEST_CASE("syslog relp (#27): a retry resends only the refused messages; one refused relp_max_refusals times is "
          "Permanent") {
  std::map<std::string, int> refusals_left = {{"ID1_1", 2}, {"ID1_3", 1000}};
  LoopbackRelpReceiver rx([&](const std::string& m) {
    for (auto& [id, left] : refusals_left)
      if (m.find("id=\"" + id + "\"") != std::string::npos && left > 0) return --left, false;
    return true;
  });
  std::ostringstream logs;
  zf::Logger log(logs);
  zf::ProcessMetrics metrics("test");
  auto sink = configure(zf::ConfigNode::load_string("s: {host: 127.0.0.1, port: " + std::to_string(rx.port()) +
                                                    ", transport: relp, relp_max_refusals: 3}")
                            .child("s"))(zf::SinkContext{"relp", log, metrics.registry()});
  auto batch = zf::testing::make_batch(1, 5);
  auto ack = send_and_wait(*sink, batch);
  CHECK(ack.status == zf::DeliveryStatus::Retriable);
  CHECK(ack.error.find("3 of 5 messages of the batch taken") != std::string::npos);
  CHECK(rx.offered() == 5);
  CHECK(send_and_wait(*sink, batch).status == zf::DeliveryStatus::Retriable);
  CHECK(rx.offered() == 7);  // ID1_1 and ID1_3 only
  ack = send_and_wait(*sink, batch);
  CHECK(ack.status == zf::DeliveryStatus::Permanent);
  CHECK(ack.error.find("refused event ID1_3 3 times") != std::string::npos);
  CHECK(rx.offered() == 9);
  auto kept = rx.kept();
  for (const char* id : {"ID1_0", "ID1_1", "ID1_2", "ID1_4"}) {
    CAPTURE(id);
    CHECK(count_id(kept, id) == 1);
  }
  CHECK(count_id(kept, "ID1_3") == 0);
  // Another source's batch with the same seq is not taken for the first:
  // all of it is sent.
  CHECK(send_and_wait(*sink, zf::testing::make_batch(1, 2)).status == zf::DeliveryStatus::Delivered);
  CHECK(count_id(rx.kept(), "ID1_0") == 2);
  sink->close(2s);
}

TEST_CASE("syslog relp (#27): with relp_dead_letter_file a message refused relp_max_refusals times is set aside "
          "there, counted, and the batch delivered") {
  auto dir = zf::testing::temp_dir("relp-dead");
  auto dead = (dir / "dead.log").string();
  LoopbackRelpReceiver rx([](const std::string& m) { return m.find("id=\"ID2_1\"") == std::string::npos; });
  std::ostringstream logs;
  zf::Logger log(logs);
  zf::ProcessMetrics metrics("test");
  auto sink = configure(zf::ConfigNode::load_string("s: {host: 127.0.0.1, port: " + std::to_string(rx.port()) +
                                                    ", transport: relp, relp_max_refusals: 2, "
                                                    "relp_dead_letter_file: " + dead + "}")
                            .child("s"))(zf::SinkContext{"relp", log, metrics.registry()});
  auto batch = zf::testing::make_batch(2, 3);
  CHECK(send_and_wait(*sink, batch).status == zf::DeliveryStatus::Retriable);
  CHECK(send_and_wait(*sink, batch).status == zf::DeliveryStatus::Delivered);
  sink->close(2s);
  CHECK(rx.offered() == 4);
  auto kept = rx.kept();
  CHECK(count_id(kept, "ID2_0") == 1);
  CHECK(count_id(kept, "ID2_2") == 1);
  CHECK(count_id(kept, "ID2_1") == 0);
  std::ifstream in(dead);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 1);
  CHECK(count_id(lines, "ID2_1") == 1);
  std::string text = prometheus::TextSerializer().Serialize(metrics.registry().Collect());
  CHECK(text.find("zendesk_forwarder_syslog_dead_letters_total{sink=\"relp\"} 1") != std::string::npos);
  CHECK(text.find("zendesk_forwarder_syslog_relp_refused_total{sink=\"relp\"} 2") != std::string::npos);
  CHECK(logs.str().find("written to the dead-letter file") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("syslog relp (#27): relp_max_refusals and relp_dead_letter_file are checked") {
  auto parse = [](const std::string& yaml) { return configure(zf::ConfigNode::load_string("s: " + yaml).child("s")); };
  CHECK_NOTHROW(parse("{host: h, transport: relp, relp_max_refusals: 1, relp_dead_letter_file: /tmp/x}"));
  CHECK_THROWS_WITH_AS(parse("{host: h, transport: tcp, relp_max_refusals: 3}"),
                       doctest::Contains("s.relp_max_refusals: applies to transport: relp only"), zf::ConfigError);
  CHECK_THROWS_WITH_AS(parse("{host: h, transport: tls, relp_dead_letter_file: /tmp/x}"),
                       doctest::Contains("s.relp_dead_letter_file: applies to transport: relp only"), zf::ConfigError);
  CHECK_THROWS_WITH_AS(parse("{host: h, transport: relp, relp_max_refusals: 0}"),
                       doctest::Contains("relp_max_refusals"), zf::ConfigError);
  CHECK_THROWS_WITH_AS(parse("{host: h, transport: relp, relp_dead_letter_file: /nonexistent/dir/x}"),
                       doctest::Contains("cannot write to the directory /nonexistent/dir"), zf::ConfigError);
}
