#include "sources/zendesk_webhook/webhook_source.h"

#include <algorithm>

#include "core/errors.h"
#include "core/time_format.h"
#include "log/logger.h"
#include "metrics/metrics.h"
#include "proof/raw_event.h"
#include "sources/zendesk_webhook/webhook_request.h"

namespace zf::source {

WebhookSource::WebhookSource(WebhookSettings settings, std::shared_ptr<RecentIds> delivered, Logger& log,
                             Metrics& metrics, StopSignal& stop)
    : settings_(std::move(settings)), log_(log), metrics_(metrics), stop_(stop), delivered_(std::move(delivered)) {}

WebhookSource::~WebhookSource() {
  {
    // Requests still waiting are answered 503 now, not at their timeouts:
    // shutting down must not wait ack_timeout per request.
    std::lock_guard lock(mu_);
    closing_ = true;
    for (auto& p : queued_) p->acked.set_value(false);
    for (auto& [token, p] : handed_out_) p->acked.set_value(false);
    queued_.clear();
    handed_out_.clear();
    pending_.clear();
  }
  listener_.reset();
}

uint16_t WebhookSource::start() {
  ListenerSettings l;
  l.host = settings_.host;
  l.port = settings_.port;
  l.tls_cert_file = settings_.tls_cert_file;
  l.tls_key_file = settings_.tls_key_file;
  l.max_body_bytes = settings_.max_body_bytes;
  l.max_connections = settings_.max_connections;
  l.max_buffered_bytes = settings_.max_buffered_bytes;
  l.max_connections_per_ip = settings_.max_connections_per_ip;
  l.retry_after_s = settings_.retry_after_s;
  // An unsigned, stale or misdirected request is refused from its head,
  // before its body costs memory.
  l.check_head = [this](const ServerRequest& req) { return check_head(req); };
  l.shutting_down = [this] { return stop_.requested(); };
  // Every request waiting for its ack holds a worker: room for the queue
  // and the pages in flight.
  l.workers = settings_.max_queued_requests / 2;
  listener_ = std::make_unique<HttpListener>(
      l, [this](const ServerRequest& req) { return handle(req); },
      [this](int status) {
        metrics_.webhook_requests(status == 413 ? "too_large" : status == 503 ? "backpressure" : "bad_request").Increment();
      });
  uint16_t port = listener_->start();
  log_.info("webhook listening", {{"address", settings_.host + ":" + std::to_string(port)}, {"path", settings_.path},
                                  {"tls", !settings_.tls_cert_file.empty()}, {"secrets", settings_.secrets.size()}});
  return port;
}

ServerResponse WebhookSource::refuse(int status, const std::string& outcome, const std::string& why) {
  metrics_.webhook_requests(outcome).Increment();
  ServerResponse res{status, "{\"error\":\"" + why + "\"}", "application/json", {}};
  if (status == 503) res.headers.emplace_back("Retry-After", std::to_string(settings_.retry_after_s));
  // Never the body or a header value: they are the sender's.
  log_.warn("webhook request refused", {{"status", status}, {"reason", why}});
  return res;
}

std::optional<ServerResponse> WebhookSource::check_head(const ServerRequest& req) {
  if (req.path != settings_.path) return refuse(404, "bad_request", "no webhook at this path");
  if (req.method != "POST") return ServerResponse{405, "{\"error\":\"only POST\"}", "application/json", {{"Allow", "POST"}}};
  std::string type = req.header("content-type");
  if (type.rfind("application/json", 0) != 0) return refuse(415, "bad_request", "Content-Type must be application/json");
  std::string timestamp = req.header("x-zendesk-webhook-signature-timestamp");
  if (timestamp.empty() || req.header("x-zendesk-webhook-signature").empty())
    return refuse(401, "bad_signature", "signature headers missing");
  // A replay of an old request is refused even when signed; checked
  // before the signature, which needs the body.
  auto sent_ms = parse_rfc3339_ms(timestamp);
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  int64_t tolerance_ms = static_cast<int64_t>(settings_.timestamp_tolerance.count()) * 1000;
  if (!sent_ms || *sent_ms < now_ms - tolerance_ms || *sent_ms > now_ms + tolerance_ms)
    return refuse(401, "stale", "timestamp outside the accepted window");
  return std::nullopt;
}

ServerResponse WebhookSource::handle(const ServerRequest& req) {
  auto received = std::chrono::steady_clock::now();
  if (auto refusal = check_head(req)) return *refusal;
  if (!webhook_signature_valid(settings_.secrets, req.header("x-zendesk-webhook-signature-timestamp"), req.body,
                               req.header("x-zendesk-webhook-signature")))
    return refuse(401, "bad_signature", "signature does not match");
  auto parsed = parse_webhook_body(req.body);
  if (auto* why = std::get_if<std::string>(&parsed)) return refuse(400, "bad_request", *why);
  auto& events = std::get<WebhookEvents>(parsed);

  // Drop what was delivered already (Zendesk's retries, replays); if all
  // of it was, the answer is 200 at once.
  auto push = std::make_shared<Push>();
  push->received = received;
  std::future<bool> acked = push->acked.get_future();
  {
    simdjson::dom::parser parser;
    simdjson::dom::array logs = parser.parse(events.access_logs_json).get_array();
    std::lock_guard lock(mu_);
    if (closing_ || stop_.requested()) return refuse(503, "backpressure", "shutting down; retry");
    size_t in_flight = 0;
    std::unordered_set<EventKey, EventKeyHash> in_this_push;  // the same id twice is one event
    push->events_json = "[";
    for (simdjson::dom::element e : logs) {
      // An event without an id is kept: the pipeline logs it in full.
      if (auto id = proof::raw_id(e)) {
        EventKey key = event_key(*id);
        if (delivered_->contains(key)) continue;
        if (pending_.count(key)) {
          ++in_flight;
          continue;
        }
        if (!in_this_push.insert(key).second) continue;
        push->ids.push_back(key);
      }
      if (push->events_json.size() > 1) push->events_json += ',';
      push->events_json += simdjson::minify(e);
    }
    push->events_json += "]";
    if (push->events_json == "[]") {
      if (in_flight) return refuse(503, "backpressure", "these events are being delivered; retry");
      metrics_.webhook_requests("duplicate").Increment();
      return {200, "{\"ok\":true,\"duplicate\":true}", "application/json", {}};
    }
    if (queued_.size() >= settings_.max_queued_requests) return refuse(503, "backpressure", "too many requests waiting");
    for (const auto& k : push->ids) pending_.insert(k);
    queued_.push_back(push);
  }
  arrived_.notify_one();
  // In slices: once a stop is requested, a push no page carries yet will
  // not be delivered, and is answered at once rather than at ack_timeout.
  auto until = std::chrono::steady_clock::now() + settings_.ack_timeout;
  while (acked.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
    if (std::chrono::steady_clock::now() >= until) break;  // still queued, it is delivered later
    if (!stop_.requested()) continue;
    std::lock_guard lock(mu_);
    auto queued = std::find(queued_.begin(), queued_.end(), push);
    if (queued == queued_.end()) continue;  // handed out: its commit may still come
    for (const auto& k : push->ids) pending_.erase(k);
    queued_.erase(queued);
    return refuse(503, "backpressure", "shutting down; retry");
  }
  if (acked.wait_for(std::chrono::seconds(0)) != std::future_status::ready || !acked.get())
    return refuse(503, "not_acknowledged", "the sinks did not acknowledge in time; retry");
  metrics_.webhook_requests("accepted").Increment();
  return {200, "{\"ok\":true}", "application/json", {}};
}

std::optional<SourcePage> WebhookSource::next(bool once) {
  std::shared_ptr<Push> push;
  {
    std::unique_lock lock(mu_);
    while (queued_.empty()) {
      if (once || stop_.requested()) return std::nullopt;
      arrived_.wait_for(lock, std::chrono::milliseconds(200));
    }
    push = queued_.front();
    queued_.pop_front();
    push->token = next_token_++;
    handed_out_[push->token] = push;
  }
  SourcePage page;
  simdjson::dom::array events;
  if (parser_.parse(push->events_json).get_array().get(events)) throw FatalError("webhook: a verified body did not parse again");
  for (simdjson::dom::element e : events) page.events.push_back(e);
  page.listed = page.events.size();
  page.token = push->token;
  auto now_s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  page.span_start_s = page.span_end_s = now_s;
  return page;
}

CommitCost WebhookSource::commit(uint64_t token) {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  for (auto it = handed_out_.begin(); it != handed_out_.end() && it->first <= token;) {
    Push& p = *it->second;
    try {
      delivered_->add(p.ids);  // on disk before the 200
    } catch (const std::exception& e) {
      // Not durable: this push and the later ones of the commit are
      // answered 503 and their ids released, so Zendesk's retry delivers
      // them again (at least once) rather than being told "duplicate".
      size_t pushes = 0;
      for (; it != handed_out_.end() && it->first <= token; it = handed_out_.erase(it), ++pushes) {
        for (const auto& k : it->second->ids) pending_.erase(k);
        it->second->acked.set_value(false);
      }
      ++failed_commits_;
      not_durable_ = std::string("the delivered ids could not be written: ") + e.what();
      throw std::runtime_error(not_durable_ + " (" + std::to_string(pushes) +
                               " push(es) answered 503 for a retry; free space on the checkpoint volume)");
    }
    for (const auto& k : p.ids) pending_.erase(k);
    metrics_.webhook_ack_latency().Observe(std::chrono::duration<double>(now - p.received).count());
    p.acked.set_value(true);
    it = handed_out_.erase(it);
    not_durable_.clear();  // written again: ready again
  }
  return {};
}

std::string WebhookSource::durability_problem() const {
  std::lock_guard lock(mu_);
  return not_durable_;
}

uint64_t WebhookSource::failed_commits() const {
  std::lock_guard lock(mu_);
  return failed_commits_;
}

}  // namespace zf::source
