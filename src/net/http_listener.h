#pragma once
// The HTTP/1.1 server: the webhook's listener and the metrics endpoint
// (each with its own settings) are this one. One thread reads every connection
// (epoll, non-blocking, plain or TLS) until a request is complete, and only
// then hands it to a worker; so a connection that sends nothing, or sends
// slowly, costs a few hundred bytes and no thread, and thousands of them do
// not delay the pushes behind them. Each request must be complete within
// `request_timeout` of its first byte (or of the connection, for the
// first), however slowly it trickles; past `max_connections` the connection
// idle longest is closed.
//
// Memory is bounded across connections, not just per connection: every
// byte buffered for a request (head, body, the body while a worker has
// it) is charged to one budget, `max_buffered_bytes`. A body's whole
// Content-Length is reserved once its head is read; when the budget cannot
// cover it the request is answered 503 (Retry-After) and the connection
// closed, so 2,000 senders of 1 MiB bodies hold at most the budget, not
// 2 GiB. `check_head` lets the handler refuse a request from its head
// alone (no signature headers: 401) before any of its body is read.
#include <optional>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/request_head.h"

namespace zf::net {

struct ServerResponse {
  int status = 200;
  std::string body, content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

struct ListenerSettings {
  std::string name = "webhook";  // what an error message says it is about: "webhook", "metrics.listen"
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 = any free port
  std::string tls_cert_file, tls_key_file;  // both or neither
  size_t max_body_bytes = 1 << 20;
  size_t max_head_bytes = 16 << 10;
  std::chrono::milliseconds request_timeout{10000};
  size_t max_connections = 10000;
  size_t workers = 32;        // requests handled at once (a handler may wait for the sinks)
  size_t max_waiting = 256;   // complete requests waiting for a worker; beyond: 503
  size_t max_buffered_bytes = 64 << 20;  // request bytes held across all connections; beyond: 503
  size_t max_connections_per_ip = 0;     // 0: no cap (behind a proxy every peer is the proxy)
  int retry_after_s = 10;                // sent with the listener's own 503s
  // The methods answered at all (others: 405 with Allow, from the head
  // alone); empty: any, the handler judges.
  std::vector<std::string> methods;
  // false: every answer closes its connection (one request each), so a
  // client cannot hold a connection slot between requests.
  bool keep_alive = true;
  // On the reading thread, once a request's head is read and before its
  // body is: a response refuses the request with it (and closes).
  std::function<std::optional<ServerResponse>(const ServerRequest&)> check_head;
  // Polled by the reading thread: once true, requests not yet handed to a
  // worker (and new ones) are answered 503 at once instead of waiting.
  std::function<bool()> shutting_down;
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
  // Request bytes held now, and the most held at once since the start.
  size_t buffered_bytes() const;
  size_t peak_buffered_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zf::net
