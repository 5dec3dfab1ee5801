// The syslog sink over a real UDP socket on loopback.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <sstream>

#include <prometheus/registry.h>

#include "config/config_node.h"
#include "log/logger.h"
#include "syslog/syslog_sink.h"
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
