// The syslog sink over a real UDP socket on loopback.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <future>
#include <sstream>

#include <prometheus/registry.h>

#include "config/config_node.h"
#include "log/logger.h"
#include "syslog/syslog_sink.h"
#include "util/serial_worker.h"
#include "test_batches.h"

using namespace zf;
using namespace std::chrono;

TEST_CASE("syslog udp (#24): datagrams are paced to udp_max_messages_per_second, none lost on loopback") {
  int rx = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(rx, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(rx, reinterpret_cast<sockaddr*>(&a), &len);
  int bufsize = 8 << 20;
  ::setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
  auto section = ConfigNode::load_string("s: {host: 127.0.0.1, transport: udp, port: " +
                                         std::to_string(ntohs(a.sin_port)) + ", udp_max_messages_per_second: 1000}")
                     .child("s");
  auto build = sinks::syslog::configure(section);
  std::ostringstream logs;
  Logger log(logs);
  prometheus::Registry registry;
  auto sink = build({"udp", log, registry});
  std::promise<Ack> acked;
  auto t0 = steady_clock::now();
  sink->send(zf::testing::make_batch(1, 600), [&](Ack ack) { acked.set_value(ack); });
  auto ack = acked.get_future().get();
  double took = duration<double>(steady_clock::now() - t0).count();
  CHECK(ack.status == DeliveryStatus::Delivered);
  CHECK(took > 0.5);  // 600 at 1000/s, less the 50 ms burst
  CHECK(took < 5.0);
  int received = 0;
  char buf[65536];
  while (::recv(rx, buf, sizeof buf, MSG_DONTWAIT) > 0) ++received;
  CHECK(received == 600);
  sink->close(seconds(1));
  ::close(rx);
  // Only for UDP.
  CHECK_THROWS_WITH_AS(sinks::syslog::configure(
                           ConfigNode::load_string("s: {host: h, transport: tcp, udp_max_messages_per_second: 5}")
                               .child("s")),
                       doctest::Contains("applies to transport: udp only"), ConfigError);
}

TEST_CASE("syslog relp (#23): its keys are checked where they belong") {
  auto configure = [](const std::string& yaml) {
    return sinks::syslog::configure(ConfigNode::load_string("s: " + yaml).child("s"));
  };
  CHECK_NOTHROW(configure("{host: h, transport: relp}"));
  CHECK_NOTHROW(configure("{host: h, transport: relp, relp_window: 64, tls: {enabled: false}}"));
  CHECK_THROWS_WITH_AS(configure("{host: h, transport: relp, framing: lf}"), doctest::Contains("RELP frame is one message"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(configure("{host: h, transport: tcp, relp_window: 64}"),
                       doctest::Contains("s.relp_window: applies to transport: relp only"), ConfigError);
  CHECK_THROWS_WITH_AS(configure("{host: h, transport: tls, tls: {enabled: true}}"),
                       doctest::Contains("s.tls.enabled: is only used with transport: relp"), ConfigError);
  CHECK_THROWS_WITH_AS(configure("{host: h, transport: relp, relp_window: 0}"), doctest::Contains("relp_window"),
                       ConfigError);
}

TEST_CASE("serial worker (#13): close(timeout) returns by its timeout, aborting a write stuck on the network") {
  std::mutex mu;
  std::condition_variable cv;
  bool aborted = false;
  std::atomic<int> delivering{0};
  sinks::SerialWorker worker(
      [&](const Batch&) {
        ++delivering;
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return aborted; });  // a receiver that never answers
        return std::string("aborted");
      },
      [&] {
        std::lock_guard lock(mu);
        aborted = true;
        cv.notify_all();
      });
  std::vector<Ack> acks;
  std::mutex acks_mu;
  auto collect = [&](Ack a) {
    std::lock_guard lock(acks_mu);
    acks.push_back(a);
  };
  worker.send(zf::testing::make_batch(1, 1), collect);
  worker.send(zf::testing::make_batch(2, 1), collect);
  while (delivering == 0) std::this_thread::sleep_for(milliseconds(1));
  auto t0 = steady_clock::now();
  worker.close(milliseconds(300));
  auto took = steady_clock::now() - t0;
  CHECK(took >= milliseconds(290));
  CHECK(took < milliseconds(1000));
  CHECK(delivering == 1);  // the queued batch was not started after the close
  std::lock_guard lock(acks_mu);
  REQUIRE(acks.size() == 2);
  for (const Ack& a : acks) CHECK(a.status == DeliveryStatus::Retriable);
  // After close, a send is answered at once, not queued forever.
  bool answered = false;
  worker.send(zf::testing::make_batch(3, 1), [&](Ack a) { answered = a.status == DeliveryStatus::Retriable; });
  CHECK(answered);
}

TEST_CASE("syslog (#13): encoding: cef is the same as the older format: cef, and both at once is an error") {
  auto configure = [](const std::string& yaml) {
    return sinks::syslog::configure(ConfigNode::load_string("s: " + yaml).child("s"));
  };
  CHECK_NOTHROW(configure("{host: h, encoding: cef}"));
  CHECK_NOTHROW(configure("{host: h, format: cef}"));
  CHECK_THROWS_WITH_AS(configure("{host: h, format: cef, encoding: cef}"),
                       doctest::Contains("s.format: is the older spelling of encoding"), ConfigError);
  CHECK_THROWS_WITH_AS(configure("{host: h, encoding: leef}"), doctest::Contains("s.encoding: expected one of"),
                       ConfigError);
}
