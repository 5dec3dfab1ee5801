#pragma once
// Zendesk's side of a push, for the webhook source's unit tests.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>
#include <string>
#include <vector>

#include "sources/zendesk_webhook/webhook_request.h"

namespace zf::testing {

// POSTs one signed access_log.created request (secret "k3y", path /h)
// over a fresh connection; the status code it got (0: none). Events carry
// `timestamp` when it is not null.
inline int push_events(uint16_t port, const std::vector<std::string>& ids,
                       const char* timestamp = "2026-12-06T00:00:00Z") {
  std::string logs;
  for (const auto& id : ids)
    logs += (logs.empty() ? "" : ",") + std::string("{\"id\":\"") + id + "\"" +
            (timestamp ? std::string(",\"timestamp\":\"") + timestamp + "\"" : "") + "}";
  std::string body = R"({"type":"zen:event-type:access_log.created","event":{"access_logs":[)" + logs + "]}}";
  char ts[32];
  std::time_t now = std::time(nullptr);
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::string request = "POST /h HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
                        "X-Zendesk-Webhook-Signature: " + source::webhook_signature("k3y", ts, body) +
                        "\r\nX-Zendesk-Webhook-Signature-Timestamp: " + ts +
                        "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return ::close(fd), 0;
  (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return answer.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(answer.substr(9, 3)) : 0;
}

}  // namespace zf::testing
