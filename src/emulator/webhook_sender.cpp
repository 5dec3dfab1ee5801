#include "emulator/webhook_sender.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <random>

#include "core/time_format.h"

namespace zf::emulator {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// base64(HMAC-SHA256(secret, timestamp + body)): written here from Zendesk's
// description, not shared with the forwarder, so a mistake in either shows.
std::string sign(const std::string& secret, const std::string& timestamp, const std::string& body) {
  std::string message = timestamp + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_len);
  std::string out(4 * ((mac_len + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), mac, static_cast<int>(mac_len));
  out.resize(static_cast<size_t>(n));
  return out;
}

// The API's event as the webhook spells it: user_id a string, graphql null
// when absent.
nlohmann::json as_pushed(const std::string& api_json) {
  nlohmann::json e = nlohmann::json::parse(api_json);
  if (e.contains("user_id") && e["user_id"].is_number()) e["user_id"] = std::to_string(e["user_id"].get<int64_t>());
  if (!e.contains("graphql")) e["graphql"] = nullptr;
  return e;
}

// "http://host:port/path" -> ("http://host:port", "/path")
std::pair<std::string, std::string> split_url(const std::string& url) {
  size_t scheme = url.find("://");
  size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (path == std::string::npos) return {url, "/"};
  return {url.substr(0, path), url.substr(path)};
}

}  // namespace

WebhookSender::WebhookSender(PushOptions options, uint64_t seed) : opts_(std::move(options)), rng_(seed) {
  batcher_ = std::thread([this] { batch_loop(); });
  for (size_t i = 0; i < std::max<size_t>(1, opts_.senders); ++i) senders_.emplace_back([this] { send_loop(); });
}

WebhookSender::~WebhookSender() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  batcher_.join();
  for (auto& t : senders_) t.join();
}

bool WebhookSender::active() const {
  std::lock_guard lock(mu_);
  return !opts_.url.empty();
}

void WebhookSender::push(const std::vector<std::string>& events_json, int64_t made_ms) {
  std::vector<nlohmann::json> events;
  events.reserve(events_json.size());
  for (const auto& j : events_json) events.push_back(as_pushed(j));
  std::lock_guard lock(mu_);
  if (opts_.url.empty()) return;
  stats_.events += events.size();
  for (auto& e : events) {
    if (open_.empty()) {
      open_since_ = std::chrono::steady_clock::now();
      open_made_ms_ = made_ms;
    }
    open_.push_back(std::move(e));
    if (open_.size() >= opts_.batch) seal(std::exchange(open_, {}), open_made_ms_);
  }
}

// A full request (or one that waited `linger`): dropped, or queued to send.
void WebhookSender::seal(std::vector<nlohmann::json> events, int64_t made_ms) {
  std::uniform_real_distribution<double> share(0, 1);
  if (share(rng_) < opts_.drop) {
    stats_.events_dropped += events.size();
    return;
  }
  nlohmann::json body = {{"account_id", 12514403},
                         {"detail", nlohmann::json::object()},
                         {"event", {{"access_logs", events}}},
                         {"id", std::to_string(rng_())},
                         {"time", events.front().value("timestamp", "")},
                         {"type", "zen:event-type:access_log.created"},
                         {"zendesk_event_version", "2022-11-06"},
                         {"subject", "zen:access_log:" + events.front().value("id", "")}};
  Request r;
  r.body = body.dump();
  r.events = events.size();
  r.made_ms = made_ms;
  r.corrupted = share(rng_) < opts_.corrupt;
  auto now = std::chrono::steady_clock::now();
  if (share(rng_) < opts_.late) {
    ++stats_.late;
    due_.emplace(now + opts_.late_delay, std::move(r));
    work_.notify_all();
    return;
  }
  due_.emplace(now, r);  // before its copies: equal times keep insertion order
  if (share(rng_) < opts_.duplicate) {
    Request twin = r;
    twin.copy = true;
    ++stats_.duplicates;
    due_.emplace(now, std::move(twin));
  }
  if (share(rng_) < opts_.replay && !sent_.empty()) {
    Request old = sent_[rng_() % sent_.size()];
    old.copy = true;
    old.attempt = -1;  // as it was signed then: not re-signed
    ++stats_.replays;
    due_.emplace(now, std::move(old));
  }
  work_.notify_all();
}

void WebhookSender::batch_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    work_.wait_for(lock, std::chrono::milliseconds(10));
    if (!open_.empty() && std::chrono::steady_clock::now() - open_since_ >= opts_.linger)
      seal(std::exchange(open_, {}), open_made_ms_);
  }
}

void WebhookSender::send_loop() {
  std::unique_ptr<httplib::Client> client;
  std::string client_for;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    if (due_.empty() || due_.begin()->first > now) {
      work_.wait_until(lock, due_.empty() ? now + std::chrono::milliseconds(50) : due_.begin()->first);
      continue;
    }
    Request r = std::move(due_.begin()->second);
    due_.erase(due_.begin());
    auto [base, path] = split_url(opts_.url);
    std::string secret = r.corrupted ? "not-" + opts_.secret : opts_.secret;
    auto timeout = opts_.timeout;
    lock.unlock();

    if (r.attempt >= 0) {  // a fresh signature per attempt, as Zendesk does
      r.timestamp = format_utc_seconds(now_ms() / 1000);
      r.signature = sign(secret, r.timestamp, r.body);
    }
    if (!client || client_for != base) {
      client = std::make_unique<httplib::Client>(base);
      client->enable_server_certificate_verification(false);  // loopback tests with a self-signed certificate
      client->set_keep_alive(true);
      client_for = base;
    }
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    client->set_read_timeout(secs.count(), 0);
    client->set_write_timeout(secs.count(), 0);
    httplib::Headers headers = {{"X-Zendesk-Webhook-Signature", r.signature},
                                {"X-Zendesk-Webhook-Signature-Timestamp", r.timestamp}};
    auto res = client->Post(path, headers, r.body, "application/json");
    int status = res ? res->status : 0;
    int retry_after = -1;
    if (res && res->has_header("Retry-After")) {
      try {
        retry_after = std::stoi(res->get_header_value("Retry-After"));
      } catch (const std::exception&) {
      }
    }
    if (!res) client.reset();  // a fresh connection for the next request

    lock.lock();
    finish(r, status, retry_after);
  }
}

// Under mu_: counts the answer and schedules a retry where Zendesk would.
void WebhookSender::finish(Request& r, int status, int retry_after_s) {
  ++stats_.requests;
  ++stats_.by_status[status];
  if (r.attempt >= 0 && !r.copy) {
    sent_.push_back(r);
    if (sent_.size() > 1000) sent_.pop_front();
  }
  if (status >= 200 && status < 300) {
    if (r.copy) return;
    stats_.events_acknowledged += r.events;
    double latency = static_cast<double>(now_ms() - r.made_ms) / 1000.0;
    stats_.ack_latency_s.insert(stats_.ack_latency_s.end(), r.events, latency);
    return;
  }
  bool retriable = status == 409 || ((status == 429 || status == 503) && retry_after_s >= 0 && retry_after_s <= 60);
  if (retriable && r.attempt < opts_.retries) {
    ++r.attempt;
    ++stats_.retries;
    due_.emplace(std::chrono::steady_clock::now() + std::chrono::seconds(std::max(0, retry_after_s)), std::move(r));
    work_.notify_one();
    return;
  }
  if (!r.copy) (r.corrupted ? stats_.events_corrupted : stats_.events_given_up) += r.events;
}

PushStats WebhookSender::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void WebhookSender::update(const nlohmann::json& patch) {
  std::lock_guard lock(mu_);
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& k = it.key();
    if (k == "url") opts_.url = it->get<std::string>();
    else if (k == "secret") opts_.secret = it->get<std::string>();
    else if (k == "batch") opts_.batch = std::max<size_t>(1, it->get<size_t>());
    else if (k == "linger_ms") opts_.linger = std::chrono::milliseconds(it->get<int64_t>());
    else if (k == "drop") opts_.drop = it->get<double>();
    else if (k == "corrupt") opts_.corrupt = it->get<double>();
    else if (k == "replay") opts_.replay = it->get<double>();
    else if (k == "duplicate") opts_.duplicate = it->get<double>();
    else if (k == "late") opts_.late = it->get<double>();
    else if (k == "late_delay_ms") opts_.late_delay = std::chrono::milliseconds(it->get<int64_t>());
    else if (k == "retries") opts_.retries = it->get<int>();
    else throw std::invalid_argument("unknown push setting \"" + k + "\"");
  }
}

}  // namespace zf::emulator
