#pragma once
// A blocking HTTP GET client. TLS verification is always on; redirects are
// never followed, so credentials cannot be carried to another host by a
// 3xx. Each request gets its own connection: libcurl silently sends a
// request again when a reused connection turns out dead, which would spend
// the account's request budget unseen. Bodies are bounded (after
// decompression) and a transfer is aborted at once when the process is
// stopping.
//
// The libcurl handle is the calling thread's, not the client's: a client
// per account (a thousand in one process) would otherwise each keep a
// handle with its buffers, its own multi handle and, over TLS, its own copy
// of the parsed CA store (libcurl caches it per multi handle), all idle
// between the account's requests. A request sets every option it uses
// afresh, and no connection is reused, so clients sharing a thread's handle
// one after the other do not see each other.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <curl/curl.h>

#include "net/http_get.h"

namespace zf::net {

struct HttpSettings {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds total_timeout{120'000};
  std::string ca_file;      // empty: the system trust store
  std::string user_agent;
  size_t max_body_bytes = 32u << 20;  // a full page of 2500 events is 1-4 MiB
  // Abort a transfer slower than this many bytes/s for low_speed_time (a
  // server that trickles bytes forever).
  long low_speed_bytes = 1024;
  std::chrono::seconds low_speed_time{30};
};

class HttpClient final : public HttpGet {
 public:
  explicit HttpClient(HttpSettings settings);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `authorization` is sent as the Authorization header when non-empty.
  // While `abort` returns true the transfer stops (checked about once a
  // second even when no byte arrives). The body has at least 64 bytes of
  // spare capacity (a parser's padding).
  HttpResponse get(const std::string& url, const std::string& authorization,
                   const std::function<bool()>& abort = {}) override;

 private:
  static size_t on_body(char* data, size_t size, size_t n, void* self);
  static size_t on_header(char* data, size_t size, size_t n, void* self);
  static int on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t);

  HttpSettings settings_;
  HttpResponse* current_ = nullptr;
  const std::function<bool()>* abort_ = nullptr;
  bool body_too_large_ = false;
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

}  // namespace zf::net
