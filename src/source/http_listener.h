#pragma once
// The webhook's HTTP/1.1 listener. One thread reads every connection
// (epoll, non-blocking, plain or TLS) until a request is complete, and only
// then hands it to a worker; so a connection that sends nothing, or sends
// slowly, costs a few hundred bytes and no thread, and thousands of them do
// not delay the pushes behind them. Each request must be complete within
// `request_timeout` of its first byte (or of the connection, for the
// first), however slowly it trickles; past `max_connections` the connection
// idle longest is closed.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace zf::source {

struct ServerRequest {
  std::string method, path;  // path without the query
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

struct ServerResponse {
  int status = 200;
  std::string body, content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

// A request head (request line and headers, up to the blank line). Pure,
// for the fuzz target: an error is a status and a reason.
struct RequestHead {
  ServerRequest request;  // without the body
  size_t content_length = 0;
  bool keep_alive = true;
  bool expect_continue = false;
};
struct HeadError {
  int status;
  std::string why;
};
std::variant<RequestHead, HeadError> parse_request_head(std::string_view head);

struct ListenerSettings {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 = any free port
  std::string tls_cert_file, tls_key_file;  // both or neither
  size_t max_body_bytes = 1 << 20;
  size_t max_head_bytes = 16 << 10;
  std::chrono::milliseconds request_timeout{10000};
  size_t max_connections = 10000;
  size_t workers = 32;        // requests handled at once (a handler may wait for the sinks)
  size_t max_waiting = 256;   // complete requests waiting for a worker; beyond: 503
};

class HttpListener {
 public:
  using Handler = std::function<ServerResponse(const ServerRequest&)>;
  // `refused`: called (on the reading thread) for what the listener answers
  // itself: 400, 408, 411, 413, 431, 503 when every worker is busy.
  HttpListener(ListenerSettings settings, Handler handler, std::function<void(int status)> refused);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Binds and starts; returns the port. Throws FatalError when the address
  // cannot be bound or the TLS files cannot be used.
  uint16_t start();
  size_t connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zf::source
