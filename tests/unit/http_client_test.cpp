// net::HttpClient: clients that share their thread's libcurl handle (one
// per account, a thousand in a process) neither hold resources of their own
// nor see each other's settings.
#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "net/http_client.h"
#include "test_net.h"

using zf::net::HttpClient;
using zf::net::HttpSettings;

namespace {

// Answers every request with 200 and `body`, one request per connection,
// and keeps each request's head.
class LoopbackHttp {
 public:
  explicit LoopbackHttp(std::string body = "ok") : body_(std::move(body)) {
    listen_fd_ = zf::testing::listen_on_loopback(port_, 64);
    thread_ = std::thread([this] { run(); });
  }
  ~LoopbackHttp() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/x"; }
  std::vector<std::string> heads() {
    std::lock_guard lock(mu_);
    return heads_;
  }
  int connections() const { return connections_; }

 private:
  void run() {
    for (;;) {
      int c = ::accept(listen_fd_, nullptr, nullptr);
      if (c < 0) return;
      ++connections_;
      std::string in;
      char buf[4096];
      ssize_t n;
      while (in.find("\r\n\r\n") == std::string::npos && (n = ::recv(c, buf, sizeof buf, 0)) > 0)
        in.append(buf, static_cast<size_t>(n));
      {
        std::lock_guard lock(mu_);
        heads_.push_back(in);
      }
      std::string out = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body_.size()) +
                        "\r\nContent-Type: application/json\r\n\r\n" + body_;
      (void)::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  std::string body_;
  int listen_fd_ = -1, port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> heads_;
  std::atomic<int> connections_{0};
};

size_t open_fds() {
  size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  REQUIRE(d);
  while (::readdir(d)) ++n;
  ::closedir(d);
  return n;
}

bool has_header(const std::string& head, const std::string& line) {
  return head.find("\r\n" + line + "\r\n") != std::string::npos;
}

}  // namespace

TEST_CASE("http client: idle clients hold no sockets or handles of their own") {
  LoopbackHttp server;
  // The thread's handle exists after its first request.
  HttpClient warm({});
  REQUIRE(warm.get(server.url(), "").status == 200);
  size_t before = open_fds();
  {
    std::vector<std::unique_ptr<HttpClient>> clients;
    for (int i = 0; i < 200; ++i) {
      clients.push_back(std::make_unique<HttpClient>(HttpSettings{}));
      REQUIRE(clients.back()->get(server.url(), "Bearer t" + std::to_string(i)).status == 200);
    }
    // A handle per client kept its multi handle's wake-up socket pair (2
    // descriptors each, 400 here) for as long as the client lived.
    CHECK(open_fds() <= before + 4);
  }
  CHECK(server.connections() == 201);  // still a connection per request
}

TEST_CASE("http client: clients sharing a thread's handle do not see each other's settings") {
  LoopbackHttp server;
  HttpSettings a_settings;
  a_settings.user_agent = "agent-a";
  HttpClient a(a_settings);
  HttpSettings b_settings;
  b_settings.user_agent = "agent-b";
  b_settings.max_body_bytes = 1;  // "ok" is too large for b, not for a
  HttpClient b(b_settings);

  auto ra = a.get(server.url(), "Bearer secret-a");
  auto rb = b.get(server.url(), "");
  auto ra2 = a.get(server.url(), "");
  CHECK(ra.status == 200);
  CHECK(ra.body == "ok");
  CHECK(rb.status == 0);
  CHECK(rb.transport_error.find("larger than") != std::string::npos);
  CHECK(ra2.status == 200);
  CHECK(ra2.body == "ok");

  auto heads = server.heads();
  REQUIRE(heads.size() == 3);
  CHECK(has_header(heads[0], "Authorization: Bearer secret-a"));
  CHECK(has_header(heads[0], "User-Agent: agent-a"));
  CHECK(heads[1].find("Authorization") == std::string::npos);  // b sends none
  CHECK(has_header(heads[1], "User-Agent: agent-b"));
  CHECK(heads[2].find("Authorization") == std::string::npos);
  CHECK(has_header(heads[2], "User-Agent: agent-a"));
}

TEST_CASE("http client: a body leaves room for a parser's padding, so it is parsed in place") {
  // Exactly the size the client reserves up front: the string is full.
  LoopbackHttp server(std::string(1 << 20, 'x'));
  HttpClient client({});
  auto r = client.get(server.url(), "");
  REQUIRE(r.status == 200);
  CHECK(r.body.size() == (1u << 20));
  CHECK(r.body.capacity() - r.body.size() >= 64);
}
