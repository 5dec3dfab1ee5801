#include "syslog/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

namespace zf::sinks::syslog {

namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out;
}

// Resolves and connects within the timeout, unless `aborted` is set
// meanwhile; returns the fd or -1 with `error`.
int open_socket(const TransportSettings& s, int type, const std::atomic<bool>& aborted, std::string& error) {
  addrinfo hints{};
  hints.ai_socktype = type;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(s.host.c_str(), std::to_string(s.port).c_str(), &hints, &res);
  if (rc != 0) {
    error = "cannot resolve " + s.host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      auto deadline = std::chrono::steady_clock::now() + s.connect_timeout;
      int ready = 0;
      while (ready == 0 && !aborted && std::chrono::steady_clock::now() < deadline)
        ready = poll(&p, 1, 100);  // in slices, to notice an abort
      if (ready == 1) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr == 0) break;
        errno = soerr;
      } else {
        errno = ETIMEDOUT;
      }
    }
    error = errno_text("cannot connect to " + s.host + ":" + std::to_string(s.port));
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd >= 0) {
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);  // blocking writes, bounded by SO_SNDTIMEO
    timeval tv{static_cast<time_t>(s.write_timeout.count() / 1000),
               static_cast<suseconds_t>((s.write_timeout.count() % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (type == SOCK_STREAM) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
  }
  return fd;
}

void set_receive_timeout(int fd, std::chrono::milliseconds timeout) {
  auto ms = std::max<int64_t>(1, timeout.count());
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

bool socket_peer_closed(int fd) {
  char c;
  ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

class UdpTransport final : public Transport {
 public:
  explicit UdpTransport(TransportSettings s) : s_(std::move(s)) {}
  ~UdpTransport() override { close(); }
  std::string connect() override {
    std::string error;
    fd_ = open_socket(s_, SOCK_DGRAM, aborted_, error);
    return fd_ < 0 ? error : "";
  }
  void abort() override { aborted_ = true; }
  std::string send(const std::string& bytes) override {
    if (::send(fd_, bytes.data(), bytes.size(), 0) < 0) return errno_text("UDP send to " + s_.host);
    return "";
  }
  std::string receive(std::string&, std::chrono::milliseconds) override { return "UDP has no answers to read"; }
  bool peer_closed() override { return false; }
  void close() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool connected() const override { return fd_ >= 0; }

 private:
  TransportSettings s_;
  int fd_ = -1;
  std::atomic<bool> aborted_{false};
};

class TcpTransport : public Transport {
 public:
  explicit TcpTransport(TransportSettings s) : s_(std::move(s)) {}
  ~TcpTransport() override { close(); }
  std::string connect() override {
    std::string error;
    fd_ = open_socket(s_, SOCK_STREAM, aborted_, error);
    if (fd_ >= 0 && aborted_) {  // abort() may have missed it
      close();
      return "the sink is closing";
    }
    return fd_ < 0 ? error : "";
  }
  // shutdown(2), not close(2): the fd stays valid for the thread using it,
  // whose blocked send, recv or TLS handshake returns at once.
  void abort() override {
    aborted_ = true;
    int fd = fd_;
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  }
  std::string send(const std::string& bytes) override {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_text("TCP write to " + s_.host + ":" + std::to_string(s_.port));
      }
      off += static_cast<size_t>(n);
    }
    return "";
  }
  std::string receive(std::string& into, std::chrono::milliseconds timeout) override {
    set_receive_timeout(fd_, timeout);
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        into.append(buf, static_cast<size_t>(n));
        return "";
      }
      if (n == 0) return "the receiver closed the connection";
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return "no answer from the receiver within " + std::to_string(timeout.count()) + " ms";
      return errno_text("TCP read from " + s_.host + ":" + std::to_string(s_.port));
    }
  }
  bool peer_closed() override { return fd_ < 0 || socket_peer_closed(fd_); }
  void close() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool connected() const override { return fd_ >= 0; }

 protected:
  TransportSettings s_;
  std::atomic<int> fd_{-1};
  std::atomic<bool> aborted_{false};
};

class TlsTransport final : public TcpTransport {
 public:
  explicit TlsTransport(TransportSettings s) : TcpTransport(std::move(s)) {}
  ~TlsTransport() override {
    close();
    if (ctx_) SSL_CTX_free(ctx_);
  }

  std::string connect() override {
    if (!ctx_) {
      ctx_ = SSL_CTX_new(TLS_client_method());
      SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
      if (s_.verify) SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
      bool ca_ok = s_.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx_) == 1
                                      : SSL_CTX_load_verify_locations(ctx_, s_.ca_file.c_str(), nullptr) == 1;
      if (!ca_ok) return fail_ctx("cannot load CA certificates from " + (s_.ca_file.empty() ? "the system store" : s_.ca_file));
      if (!s_.cert_file.empty() &&
          (SSL_CTX_use_certificate_chain_file(ctx_, s_.cert_file.c_str()) != 1 ||
           SSL_CTX_use_PrivateKey_file(ctx_, s_.key_file.c_str(), SSL_FILETYPE_PEM) != 1))
        return fail_ctx("cannot load the client certificate " + s_.cert_file + " / key " + s_.key_file);
    }
    std::string error = TcpTransport::connect();
    if (!error.empty()) return error;
    ssl_ = SSL_new(ctx_);
    std::string name = s_.server_name.empty() ? s_.host : s_.server_name;
    SSL_set_tlsext_host_name(ssl_, name.c_str());
    if (s_.verify) {
      // An IP address is checked against IP SANs, a name against DNS SANs.
      in6_addr a6;
      in_addr a4;
      bool ip = inet_pton(AF_INET, name.c_str(), &a4) == 1 || inet_pton(AF_INET6, name.c_str(), &a6) == 1;
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
      if (ip) X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
      else SSL_set1_host(ssl_, name.c_str());
    }
    SSL_set_fd(ssl_, fd_);
    set_receive_timeout(fd_, s_.connect_timeout);  // a peer that never answers the handshake
    if (SSL_connect(ssl_) != 1) {
      long verify = SSL_get_verify_result(ssl_);
      std::string why = verify != X509_V_OK ? std::string("certificate verification failed: ") +
                                                  X509_verify_cert_error_string(verify)
                                            : "TLS handshake failed: " + openssl_errors();
      close();
      return "TLS to " + s_.host + ":" + std::to_string(s_.port) + ": " + why +
             " (check tls.ca_file and tls.server_name; the server's certificate must name " + name + ")";
    }
    return "";
  }

  std::string send(const std::string& bytes) override {
    size_t off = 0;
    while (off < bytes.size()) {
      int n = SSL_write(ssl_, bytes.data() + off, static_cast<int>(std::min<size_t>(bytes.size() - off, 1 << 30)));
      if (n <= 0) return "TLS write to " + s_.host + " failed: " + openssl_errors();
      off += static_cast<size_t>(n);
    }
    return "";
  }

  std::string receive(std::string& into, std::chrono::milliseconds timeout) override {
    set_receive_timeout(fd_, timeout);
    char buf[16384];
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      into.append(buf, static_cast<size_t>(n));
      return "";
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_ZERO_RETURN) return "the receiver closed the TLS session";
    if (err == SSL_ERROR_WANT_READ || (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)))
      return "no answer from the receiver within " + std::to_string(timeout.count()) + " ms";
    return "TLS read from " + s_.host + " failed: " + openssl_errors();
  }

  void close() override {
    if (ssl_) {
      // close_notify, then wait (bounded by the socket timeout) for the
      // receiver's: it answers once it has read everything we sent.
      if (SSL_shutdown(ssl_) == 0) {
        set_receive_timeout(fd_, std::chrono::seconds(2));
        SSL_shutdown(ssl_);
      }
      SSL_free(ssl_);
    }
    ssl_ = nullptr;
    TcpTransport::close();
  }

  bool connected() const override { return ssl_ != nullptr; }

 private:
  std::string fail_ctx(const std::string& what) {
    std::string e = what + ": " + openssl_errors();
    SSL_CTX_free(ctx_);
    ctx_ = nullptr;
    return e;
  }
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

}  // namespace

std::unique_ptr<Transport> make_transport(const TransportSettings& s) {
  switch (s.protocol) {
    case Protocol::Udp: return std::make_unique<UdpTransport>(s);
    case Protocol::Tcp: return std::make_unique<TcpTransport>(s);
    case Protocol::Tls: return std::make_unique<TlsTransport>(s);
  }
  return nullptr;
}

}  // namespace zf::sinks::syslog
