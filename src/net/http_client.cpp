#include "net/http_client.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <stdexcept>

namespace zf::net {

namespace {

constexpr size_t kBodyPadding = 64;

// The calling thread's libcurl handle, made on its first request and
// cleaned up when the thread ends (see http_client.h for why it is not the
// client's). Null when libcurl cannot make one (out of memory).
CURL* thread_handle() {
  struct Handle {
    CURL* curl = curl_easy_init();
    ~Handle() {
      if (curl) curl_easy_cleanup(curl);
    }
  };
  thread_local Handle handle;
  if (!handle.curl) handle.curl = curl_easy_init();
  return handle.curl;
}

}  // namespace

HttpClient::HttpClient(HttpSettings settings) : settings_(std::move(settings)) {}

HttpClient::~HttpClient() = default;

size_t HttpClient::on_body(char* data, size_t size, size_t n, void* self) {
  auto* client = static_cast<HttpClient*>(self);
  if (client->current_->body.size() + size * n > client->settings_.max_body_bytes) {
    client->body_too_large_ = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  client->current_->body.append(data, size * n);
  return size * n;
}

int HttpClient::on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* client = static_cast<HttpClient*>(self);
  return client->abort_ && *client->abort_ && (*client->abort_)() ? 1 : 0;
}

size_t HttpClient::on_header(char* data, size_t size, size_t n, void* self) {
  auto* client = static_cast<HttpClient*>(self);
  std::string_view line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
    client->current_->headers[name] = std::string(value);
  }
  return size * n;
}

HttpResponse HttpClient::get(const std::string& url, const std::string& authorization,
                             const std::function<bool()>& abort) {
  HttpResponse resp;
  CURL* curl = thread_handle();
  if (!curl) {
    resp.transport_error = "curl_easy_init failed (out of memory?)";
    return resp;
  }
  resp.body.reserve(1 << 20);
  current_ = &resp;
  abort_ = &abort;
  body_too_large_ = false;
  curl_easy_reset(curl);  // keeps the connection cache; clears per-request options
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!settings_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, settings_.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.total_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  // gzip/deflate; the body bound applies after decoding
  curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, settings_.low_speed_bytes);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(settings_.low_speed_time.count()));
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &HttpClient::on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, settings_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &HttpClient::on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &HttpClient::on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, this);

  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, curl_slist_free_all);
  curl_slist* list = curl_slist_append(nullptr, "Accept: application/json");
  if (!authorization.empty()) list = curl_slist_append(list, ("Authorization: " + authorization).c_str());
  headers.reset(list);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);

  auto t0 = std::chrono::steady_clock::now();
  CURLcode rc = curl_easy_perform(curl);
  resp.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp.status);
  if (rc != CURLE_OK) {
    // A status line followed by a broken body (truncated, reset) is still a
    // failed transfer: the body must not be used.
    resp.transport_error = std::string(curl_easy_strerror(rc)) + " (curl " + std::to_string(rc) + ")";
    if (body_too_large_)
      resp.transport_error = "the response body is larger than " + std::to_string(settings_.max_body_bytes >> 20) +
                             " MiB after decompression; refused (raise zendesk.max_response_size_mib if a real page is that big)";
    resp.status = 0;
    resp.body.clear();
    resp.body.shrink_to_fit();
  } else if (resp.body.capacity() - resp.body.size() < kBodyPadding) {
    // Spare room after the body, so a JSON parser reads it in place instead
    // of copying it into a padded buffer of its own (simdjson reads up to
    // 64 bytes past the end): the copy would be another page-sized buffer
    // per fetch worker, and a memcpy per page.
    resp.body.reserve(resp.body.size() + kBodyPadding);
  }
  current_ = nullptr;
  abort_ = nullptr;
  return resp;
}

std::optional<Origin> origin_of(const std::string& url) {
  CURLU* h = curl_url();
  if (!h) return std::nullopt;
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> guard(h, curl_url_cleanup);
  if (curl_url_set(h, CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return std::nullopt;
  char *scheme = nullptr, *host = nullptr, *port = nullptr;
  Origin o;
  if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) return std::nullopt;
  o.scheme = scheme;
  curl_free(scheme);
  if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK) return std::nullopt;
  o.host = host;
  curl_free(host);
  std::transform(o.host.begin(), o.host.end(), o.host.begin(), [](unsigned char c) { return std::tolower(c); });
  if (curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
    o.port = std::stol(port);
    curl_free(port);
  }
  return o;
}

bool same_origin(const std::string& url, const Origin& configured) {
  auto o = origin_of(url);
  return o && *o == configured;
}

}  // namespace zf::net
