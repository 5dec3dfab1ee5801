#pragma once
// A blocking HTTP GET client on one reused libcurl handle (one connection,
// kept alive). TLS verification is always on; redirects are never followed,
// so credentials cannot be carried to another host by a 3xx.
#include <chrono>
#include <map>
#include <optional>
#include <string>

#include <curl/curl.h>

namespace zf::source {

struct HttpResponse {
  long status = 0;                            // 0 when no HTTP answer (transport error)
  std::string transport_error;                // curl's explanation when status == 0 or the body broke
  std::map<std::string, std::string> headers; // lower-cased names
  std::string body;
  std::chrono::milliseconds elapsed{0};

  std::optional<std::string> header(const std::string& lower_name) const;
};

struct HttpSettings {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds total_timeout{120'000};
  std::string ca_file;      // empty: the system trust store
  std::string user_agent;
};

class HttpClient {
 public:
  explicit HttpClient(HttpSettings settings);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `authorization` is sent as the Authorization header when non-empty.
  HttpResponse get(const std::string& url, const std::string& authorization);

 private:
  static size_t on_body(char* data, size_t size, size_t n, void* self);
  static size_t on_header(char* data, size_t size, size_t n, void* self);

  HttpSettings settings_;
  CURL* curl_;
  HttpResponse* current_ = nullptr;
};

// Scheme, host and port of a URL (port defaulted from the scheme), for the
// rule that credentials only go to the configured origin.
struct Origin {
  std::string scheme, host;
  long port = 0;
  bool operator==(const Origin&) const = default;
};
std::optional<Origin> origin_of(const std::string& url);
bool same_origin(const std::string& url, const Origin& configured);

}  // namespace zf::source
