// RELP client: frame parsing, and a session against a scripted receiver
// (a Transport that answers what a test tells it to).
#include <doctest/doctest.h>

#include <deque>

#include "syslog/relp.h"

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
