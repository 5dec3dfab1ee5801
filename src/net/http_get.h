#pragma once
// The one thing the pull source needs from HTTP: a blocking GET. The curl
// client is the real implementation; unit tests answer with a fake server,
// so every status and page shape runs without a socket.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace zf::net {

struct HttpResponse {
  long status = 0;                            // 0 when no HTTP answer (transport error)
  std::string transport_error;                // the client's explanation when status == 0 or the body broke
  std::map<std::string, std::string> headers; // lower-cased names
  std::string body;
  std::chrono::milliseconds elapsed{0};

  std::optional<std::string> header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    if (it == headers.end()) return std::nullopt;
    return it->second;
  }
};

class HttpGet {
 public:
  virtual ~HttpGet() = default;
  // `authorization` is sent as the Authorization header when non-empty.
  // While `abort` returns true the transfer stops.
  virtual HttpResponse get(const std::string& url, const std::string& authorization,
                           const std::function<bool()>& abort = {}) = 0;
};

}  // namespace zf::net
