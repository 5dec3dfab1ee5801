#pragma once
// Byte transports to a syslog receiver: UDP datagrams, TCP, and TLS
// (RFC 5425) with the server certificate and host name verified. RELP
// (relp.h) runs over the TCP or TLS transport.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace zf::sinks::syslog {

enum class Protocol { Udp, Tcp, Tls };

struct TransportSettings {
  Protocol protocol = Protocol::Tcp;
  std::string host = "127.0.0.1";
  int port = 514;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds write_timeout{30000};
  // TLS
  std::string ca_file;      // empty: the system trust store
  std::string cert_file;    // client certificate (optional)
  std::string key_file;
  std::string server_name;  // checked against the certificate; default: host
  bool verify = true;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Each returns an empty string on success, else what went wrong.
  virtual std::string connect() = 0;
  virtual std::string send(const std::string& bytes) = 0;  // UDP: one datagram
  // Appends at least one received byte to `into`, waiting at most
  // `timeout` (TCP and TLS; the receiver's answers in RELP).
  virtual std::string receive(std::string& into, std::chrono::milliseconds timeout) = 0;
  // True when the peer has closed (or reset) the connection: what was
  // written since may not have been read.
  virtual bool peer_closed() = 0;
  virtual void close() = 0;
  virtual bool connected() const = 0;
  // From another thread: makes a connect, write or read blocked in this
  // transport fail now, and every later one too (the sink is closing).
  virtual void abort() = 0;
};

std::unique_ptr<Transport> make_transport(const TransportSettings& s);

}  // namespace zf::sinks::syslog
