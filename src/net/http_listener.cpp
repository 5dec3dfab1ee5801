#include "net/http_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "core/errors.h"

namespace zf::net {

namespace {

using Clock = std::chrono::steady_clock;

const char* reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

// A HEAD answer is a GET's without its body (RFC 9110 9.3.2).
std::string serialize(const ServerResponse& r, bool keep_alive, bool head_only = false) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return head_only ? out : out + r.body;
}

ServerResponse error_response(int status, const std::string& why) {
  return {status, "{\"error\":\"" + why + "\"}", "application/json", {}};
}

}  // namespace

struct HttpListener::Impl {
  struct Conn {
    int fd = -1;
    SSL* ssl = nullptr;
    bool handshaken = false;
    std::string in;
    std::optional<RequestHead> head;
    size_t head_bytes = 0;
    size_t charged = 0;          // of the budget: the capacity of `in` (or of the body a worker holds)
    std::string peer;            // the client's address, for the per-address cap
    Clock::time_point deadline;  // the current request must be complete by then
    bool busy = false;           // a worker has it
    bool draining = false;       // answered and closing: what the client still sends is read and dropped
  };

  ListenerSettings settings;
  Handler handler;
  std::function<void(int)> refused;
  SSL_CTX* tls = nullptr;
  int listen_fd = -1, epoll_fd = -1, wake_fd = -1;
  std::atomic<bool> stopping{false};
  std::thread reader;
  std::vector<std::thread> workers;
  std::unordered_map<int, std::unique_ptr<Conn>> conns;  // reader thread only
  std::unordered_map<std::string, size_t> per_peer;      // reader thread only
  std::atomic<size_t> open{0};
  std::atomic<size_t> held{0}, peak_held{0};  // bytes charged to the budget

  std::mutex mu;
  std::condition_variable work;
  std::deque<Conn*> waiting;   // complete requests for the workers
  std::vector<Conn*> returned; // keep-alive connections back from the workers
  std::vector<Conn*> finished; // connections the workers are done with (closed)

  ~Impl() {
    if (tls) SSL_CTX_free(tls);
    for (int fd : {listen_fd, epoll_fd, wake_fd})
      if (fd >= 0) ::close(fd);
  }

  // Charges `c` for `bytes` in all (more or less than before); false, and
  // nothing charged, when the budget cannot cover the increase. An eighth
  // of the budget is kept for small requests (64 KiB at most, as Zendesk's
  // pushes are): a flood of large bodies cannot lock them out.
  bool charge(Conn* c, size_t bytes) {
    if (bytes <= c->charged) {
      held -= c->charged - bytes;
      c->charged = bytes;
      return true;
    }
    constexpr size_t kSmallRequest = 64 << 10;
    size_t limit = settings.max_buffered_bytes;
    if (bytes > kSmallRequest) limit -= limit / 8;
    size_t more = bytes - c->charged;
    size_t now = held.load();
    do {
      if (now + more > limit) return false;
    } while (!held.compare_exchange_weak(now, now + more));
    c->charged = bytes;
    size_t peak = peak_held.load();
    while (now + more > peak && !peak_held.compare_exchange_weak(peak, now + more)) {
    }
    return true;
  }

  void release_buffer(Conn* c) {
    std::string().swap(c->in);
    charge(c, 0);
  }

  void close_conn(Conn* c) {
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, nullptr);
    if (c->ssl) SSL_free(c->ssl);
    ::close(c->fd);
    charge(c, 0);
    if (!c->peer.empty()) {
      auto it = per_peer.find(c->peer);
      if (it != per_peer.end() && --it->second == 0) per_peer.erase(it);
    }
    conns.erase(c->fd);
    open = conns.size();
  }

  // Best effort, from the reader: small answers to requests refused before
  // a worker saw them; the connection is closed after. Not at once: a
  // client still sending (a body too large) would get a reset instead of
  // the answer, so what it sends is read and dropped for a moment.
  void answer_and_close(Conn* c, int status, const std::string& why) {
    if (refused) refused(status);
    ServerResponse res = error_response(status, why);
    if (status == 503) res.headers.emplace_back("Retry-After", std::to_string(settings.retry_after_s));
    if (status == 405 && !settings.methods.empty()) {
      std::string allow;
      for (const auto& m : settings.methods) allow += (allow.empty() ? "" : ", ") + m;
      res.headers.emplace_back("Allow", allow);
    }
    send_and_close(c, res);
  }

  void send_and_close(Conn* c, const ServerResponse& res) {
    std::string out = serialize(res, false);
    if (c->ssl && c->handshaken) {
      SSL_write(c->ssl, out.data(), static_cast<int>(out.size()));
      SSL_shutdown(c->ssl);
      ERR_clear_error();
    } else if (!c->ssl) {
      ::send(c->fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    ::shutdown(c->fd, SHUT_WR);
    c->draining = true;
    release_buffer(c);
    c->head.reset();
    c->deadline = Clock::now() + std::chrono::seconds(2);
  }

  void drain(Conn* c) {
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(c->fd, buf, sizeof buf, 0);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      return close_conn(c);
    }
  }

  void watch(Conn* c, uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = c->fd;
    ::epoll_ctl(epoll_fd, op, c->fd, &ev);
  }

  static std::string address_of(const sockaddr_storage& a) {
    char text[INET6_ADDRSTRLEN] = "";
    if (a.ss_family == AF_INET) ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, text, sizeof text);
    if (a.ss_family == AF_INET6)
      ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, text, sizeof text);
    return text;
  }

  void accept_all() {
    for (;;) {
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&from), &from_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        // Out of descriptors: the listening socket would stay readable and
        // spin this loop; make room instead.
        if ((errno == EMFILE || errno == ENFILE) && evict_one()) continue;
        return;
      }
      if (conns.size() >= settings.max_connections) evict_one();
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      c->deadline = Clock::now() + settings.request_timeout;
      if (tls) {
        c->ssl = SSL_new(tls);
        SSL_set_fd(c->ssl, fd);
        SSL_set_accept_state(c->ssl);
      }
      Conn* raw = c.get();
      conns.emplace(fd, std::move(c));
      open = conns.size();
      watch(raw, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
      if (settings.max_connections_per_ip > 0) {
        raw->peer = address_of(from);
        if (++per_peer[raw->peer] > settings.max_connections_per_ip) {
          // No handshake is spent on it: a plain connection is told 503,
          // a TLS one is only closed.
          if (refused) refused(503);
          std::string out = serialize(error_response(503, "too many connections from this address"), false);
          if (!raw->ssl) ::send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          close_conn(raw);
        }
      }
    }
  }

  // At the connection limit: the one nearest its deadline (idle longest)
  // goes, so a flood of silent connections cannot lock pushes out.
  bool evict_one() {
    Conn* oldest = nullptr;
    for (auto& [fd, c] : conns)
      if (!c->busy && (!oldest || c->deadline < oldest->deadline)) oldest = c.get();
    if (oldest) close_conn(oldest);
    return oldest != nullptr;
  }

  // How many more bytes the current request may still send: up to the end
  // of its body once its head is known, else up to the head limit. Never
  // more, so a connection's buffer is exactly what it was charged for.
  size_t room(const Conn* c) const {
    if (c->head) {
      size_t total = c->head_bytes + c->head->content_length;
      return c->in.size() < total ? total - c->in.size() : 0;
    }
    size_t limit = settings.max_head_bytes + 4;
    return c->in.size() < limit ? limit - c->in.size() : 0;
  }

  // Reads what is there; hands a complete request to the workers.
  void readable(Conn* c) {
    if (c->draining) return drain(c);
    if (c->ssl && !c->handshaken) {
      int r = SSL_do_handshake(c->ssl);
      if (r != 1) {
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) return watch(c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
        if (e == SSL_ERROR_WANT_WRITE) return watch(c, EPOLLOUT | EPOLLRDHUP, EPOLL_CTL_MOD);
        ERR_clear_error();
        return close_conn(c);
      }
      c->handshaken = true;
      watch(c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
    }
    char buf[16384];
    for (;;) {
      size_t want = std::min(sizeof buf, room(c));
      if (want == 0) break;  // complete (the rest is the next request), or judged below
      ssize_t n;
      if (c->ssl) {
        int r = SSL_read(c->ssl, buf, static_cast<int>(want));
        if (r <= 0) {
          int e = SSL_get_error(c->ssl, r);
          ERR_clear_error();
          if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
          return close_conn(c);
        }
        n = r;
      } else {
        n = ::recv(c->fd, buf, want, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return close_conn(c);
      }
      size_t need = c->in.size() + static_cast<size_t>(n);
      if (need > c->in.capacity()) {
        // The head grows by doubling up to its limit; a body was reserved whole.
        size_t target = std::min(std::max({need, 2 * c->in.capacity(), size_t{1024}}), settings.max_head_bytes + 4);
        if (!charge(c, std::max(target, need))) return answer_and_close(c, 503, "the server is busy; retry");
        c->in.reserve(std::max(target, need));
        charge(c, std::max(c->charged, c->in.capacity()));
      }
      c->in.append(buf, static_cast<size_t>(n));
      if (!c->head) {
        advance(c);
        if (c->draining || c->busy) return;
      }
    }
    if (!c->draining && !c->busy) advance(c);
  }

  void advance(Conn* c) {
    if (!c->head) {
      size_t end = c->in.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (c->in.size() > settings.max_head_bytes) answer_and_close(c, 431, "request head too large");
        return;
      }
      if (end > settings.max_head_bytes) return answer_and_close(c, 431, "request head too large");
      auto parsed = parse_request_head(std::string_view(c->in).substr(0, end), settings.methods);
      if (auto* err = std::get_if<HeadError>(&parsed)) return answer_and_close(c, err->status, err->why);
      c->head = std::move(std::get<RequestHead>(parsed));
      c->head_bytes = end + 4;
      if (settings.check_head)
        if (auto refusal = settings.check_head(c->head->request)) return send_and_close(c, *refusal);
      if (c->head->content_length > settings.max_body_bytes) return answer_and_close(c, 413, "body too large");
      // The whole request is reserved now, or refused now: never half a
      // body read and then nowhere to put the rest.
      size_t total = c->head_bytes + c->head->content_length;
      if (total > c->in.capacity()) {
        if (!charge(c, total)) return answer_and_close(c, 503, "the server is busy; retry");
        c->in.reserve(total);
        charge(c, std::max(c->charged, c->in.capacity()));
      }
      if (c->head->expect_continue && c->in.size() == c->head_bytes && !c->ssl)
        ::send(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (c->in.size() < c->head_bytes + c->head->content_length) return;
    if (settings.shutting_down && settings.shutting_down()) return answer_and_close(c, 503, "shutting down; retry");
    std::unique_lock lock(mu);
    if (waiting.size() >= settings.max_waiting) {
      lock.unlock();
      return answer_and_close(c, 503, "too many requests waiting");
    }
    c->busy = true;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, nullptr);
    waiting.push_back(c);
    work.notify_one();
  }

  // Requests no worker took yet are answered 503 at once once shutting
  // down: the workers may be held by requests waiting for their acks.
  void shed_waiting() {
    std::deque<Conn*> shed;
    {
      std::lock_guard lock(mu);
      shed.swap(waiting);
    }
    for (Conn* c : shed) {
      c->busy = false;
      watch(c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
      answer_and_close(c, 503, "shutting down; retry");
    }
  }

  void expire() {
    auto now = Clock::now();
    std::vector<Conn*> late;
    for (auto& [fd, c] : conns)
      if (!c->busy && c->deadline < now) late.push_back(c.get());
    for (Conn* c : late) {
      if (c->in.empty() || c->draining) close_conn(c);  // idle keep-alive, silent, or answered
      else answer_and_close(c, 408, "request not complete in time");
    }
  }

  void reader_loop() {
    std::vector<epoll_event> events(512);
    while (!stopping) {
      int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 200);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == listen_fd) {
          accept_all();
        } else if (fd == wake_fd) {
          uint64_t v;
          (void)!::read(wake_fd, &v, sizeof v);
        } else if (auto it = conns.find(fd); it != conns.end() && !it->second->busy) {
          if ((events[i].events & (EPOLLERR | EPOLLHUP)) && !(events[i].events & EPOLLIN)) close_conn(it->second.get());
          else readable(it->second.get());
        }
      }
      std::vector<Conn*> back, done;
      {
        std::lock_guard lock(mu);
        back.swap(returned);
        done.swap(finished);
      }
      for (Conn* c : done) close_conn(c);
      for (Conn* c : back) {
        c->busy = false;
        watch(c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
        // A pipelined request already read, here or (TLS) still in the
        // session's buffer, where epoll cannot see it: reads stop at the
        // end of each request.
        if (c->ssl && SSL_pending(c->ssl) > 0) readable(c);
        else if (!c->in.empty()) advance(c);
      }
      if (settings.shutting_down && settings.shutting_down()) shed_waiting();
      expire();
    }
  }

  bool write_all(Conn* c, const std::string& out) {
    size_t off = 0;
    auto until = Clock::now() + settings.request_timeout;
    while (off < out.size()) {
      ssize_t n;
      short want = POLLOUT;
      if (c->ssl) {
        int r = SSL_write(c->ssl, out.data() + off, static_cast<int>(out.size() - off));
        if (r > 0) n = r;
        else {
          int e = SSL_get_error(c->ssl, r);
          ERR_clear_error();
          if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) return false;
          want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
          n = -1;
          errno = EAGAIN;
        }
      } else {
        n = ::send(c->fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      }
      if (n >= 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      pollfd p{c->fd, want, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    }
    return true;
  }

  void worker_loop() {
    for (;;) {
      Conn* c;
      {
        std::unique_lock lock(mu);
        work.wait(lock, [&] { return stopping || !waiting.empty(); });
        if (waiting.empty()) return;
        c = waiting.front();
        waiting.pop_front();
      }
      size_t total = c->head_bytes + c->head->content_length;
      bool keep_alive = c->head->keep_alive && settings.keep_alive;
      bool head_only = c->head->request.method == "HEAD";
      ServerResponse res;
      if (stopping) {
        // Shutting down: a request no worker took yet is not started.
        res = error_response(503, "shutting down; retry");
        res.headers.emplace_back("Retry-After", std::to_string(settings.retry_after_s));
        c->in.erase(0, std::min(total, c->in.size()));
      } else {
        ServerRequest req = std::move(c->head->request);
        if (c->in.size() == total) {
          // The usual case: the buffer becomes the body, no copy. It stays
          // charged until the handler is done with it.
          req.body = std::move(c->in);
          req.body.erase(0, c->head_bytes);
          c->in = std::string();
        } else {
          req.body = c->in.substr(c->head_bytes, c->head->content_length);
          c->in.erase(0, total);
        }
        try {
          res = handler(req);
        } catch (const std::exception&) {
          res = error_response(503, "internal error; retry");
        }
      }
      keep_alive = keep_alive && !stopping;
      bool written = write_all(c, serialize(res, keep_alive, head_only));
      // What is left (a pipelined request) keeps a buffer of its own size.
      c->in = c->in.empty() ? std::string() : std::string(c->in);
      charge(c, c->in.capacity());
      c->head.reset();
      c->deadline = Clock::now() + settings.request_timeout;
      {
        std::lock_guard lock(mu);
        (written && keep_alive ? returned : finished).push_back(c);
      }
      uint64_t one = 1;
      (void)!::write(wake_fd, &one, sizeof one);
    }
  }
};

HttpListener::HttpListener(ListenerSettings settings, Handler handler, std::function<void(int)> refused)
    : impl_(std::make_unique<Impl>()) {
  impl_->settings = std::move(settings);
  impl_->handler = std::move(handler);
  impl_->refused = std::move(refused);
}

HttpListener::~HttpListener() {
  Impl& s = *impl_;
  s.stopping = true;
  s.work.notify_all();
  for (auto& t : s.workers) t.join();
  if (s.reader.joinable()) s.reader.join();
  std::vector<Impl::Conn*> all;
  for (auto& [fd, c] : s.conns) all.push_back(c.get());
  for (auto* c : all) s.close_conn(c);
}

size_t HttpListener::connections() const { return impl_->open; }
size_t HttpListener::buffered_bytes() const { return impl_->held; }
size_t HttpListener::peak_buffered_bytes() const { return impl_->peak_held; }

uint16_t HttpListener::start() {
  Impl& s = *impl_;
  const auto& st = s.settings;
  std::string where = st.host + ":" + std::to_string(st.port);
  if (!st.tls_cert_file.empty()) {
    s.tls = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(s.tls, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(s.tls, st.tls_cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(s.tls, st.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(s.tls) != 1) {
      ERR_clear_error();
      throw FatalError(st.name + ": cannot use the TLS certificate " + st.tls_cert_file + " and key " + st.tls_key_file +
                       ": check both are readable PEM files and belong together");
    }
  }
  addrinfo hints{}, *found = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  // An empty host: every local address.
  if (::getaddrinfo(st.host.empty() ? nullptr : st.host.c_str(), std::to_string(st.port).c_str(), &hints, &found) != 0 ||
      !found)
    throw FatalError(st.name + ": cannot resolve the listen address " + where);
  s.listen_fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(s.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  bool bound = s.listen_fd >= 0 && ::bind(s.listen_fd, found->ai_addr, found->ai_addrlen) == 0 &&
               ::listen(s.listen_fd, 4096) == 0;
  ::freeaddrinfo(found);
  if (!bound)
    throw FatalError(st.name + ": cannot listen on " + where + ": " + std::strerror(errno) +
                     " (is the port in use, or the address not this machine's?)");
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  uint16_t port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                                   : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  // Each connection is a descriptor: the usual soft limit (1024) would
  // refuse connections long before max_connections.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < st.max_connections + 1024) {
    nofile.rlim_cur = std::min<rlim_t>(nofile.rlim_max, st.max_connections + 1024);
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  s.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  s.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  for (int fd : {s.listen_fd, s.wake_fd}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(s.epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  }
  s.reader = std::thread([&s] { s.reader_loop(); });
  for (size_t i = 0; i < std::max<size_t>(1, st.workers); ++i) s.workers.emplace_back([&s] { s.worker_loop(); });
  return port;
}

}  // namespace zf::net
