#pragma once
// The push source: Zendesk POSTs access events to a webhook (event type
// zen:event-type:access_log.created). Each verified request becomes one
// page; the request is answered 200 only once every sink acknowledged that
// page (commit), and 503 with Retry-After when that does not happen within
// ack_timeout (sink outage, backpressure): Zendesk then retries, and the
// ids already delivered are dropped from the retry. Nothing is
// acknowledged early, so a push the sinks never took is never lost to a
// 200; a push Zendesk gives up on is what the pull source is for.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <simdjson.h>

#include "core/source.h"
#include "core/stop_signal.h"
#include "sources/event_id.h"
#include "net/http_listener.h"
#include "sources/recent_ids.h"

namespace zf {
class Logger;
class Metrics;
}  // namespace zf

namespace zf::source {

using net::HttpListener;  // the one HTTP server lives in net/
using net::ListenerSettings;
using net::ServerRequest;
using net::ServerResponse;

struct WebhookSettings {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;           // 0 = any free port (tests)
  std::string path = "/zendesk/access-logs";
  std::string tls_cert_file, tls_key_file;  // both or neither: HTTPS
  std::vector<std::string> secrets;         // signing secrets; several while rotating
  size_t max_body_bytes = 1 << 20;
  std::chrono::seconds timestamp_tolerance{300};
  std::chrono::milliseconds ack_timeout{5000};
  size_t max_queued_requests = 64;          // beyond: 503 (backpressure)
  int retry_after_s = 10;
  size_t max_connections = 10000;           // beyond: the connection idle longest is closed
  size_t max_buffered_bytes = 64 << 20;     // request bytes held across connections; beyond: 503
  size_t max_connections_per_ip = 0;        // 0: no cap
};

class WebhookSource final : public Source {
 public:
  // `delivered`: the ids this source's pages delivered (shared with a pull
  // source of the same account, which skips them).
  WebhookSource(WebhookSettings settings, std::shared_ptr<RecentIds> delivered, Logger& log, Metrics& metrics,
                StopSignal& stop);
  ~WebhookSource() override;

  // Binds and starts answering; returns the port. Throws FatalError when
  // the address cannot be bound or the TLS files cannot be read.
  uint16_t start();
  // Blocks until a verified request's events arrive; nullopt when stop was
  // requested, or with `once` when nothing is waiting.
  std::optional<SourcePage> next(bool once) override;
  // Every page up to `token` reached every sink: their ids are written
  // (fdatasync) and their requests get 200. When the ids cannot be
  // written, those requests get 503 (their ids are released for the
  // retry) and this throws.
  CommitCost commit(uint64_t token) override;
  // Why the newest commit failed ("" after a good one): for readiness.
  std::string durability_problem() const;
  // Commits whose ids could not be written, since the start.
  uint64_t failed_commits() const;

 private:
  struct Push {
    std::string events_json;
    std::vector<EventKey> ids;
    std::promise<bool> acked;
    std::chrono::steady_clock::time_point received;
    uint64_t token = 0;
  };
  ServerResponse handle(const ServerRequest& req);
  // What can be refused from the head alone (path, method, type, missing
  // signature headers, a stale timestamp); nullopt when the body is needed.
  std::optional<ServerResponse> check_head(const ServerRequest& req);
  ServerResponse refuse(int status, const std::string& outcome, const std::string& why);

  WebhookSettings settings_;
  Logger& log_;
  Metrics& metrics_;
  StopSignal& stop_;
  std::unique_ptr<HttpListener> listener_;
  simdjson::dom::parser parser_;  // the page next() handed out points into it

  mutable std::mutex mu_;
  std::condition_variable arrived_;
  bool closing_ = false;
  std::string not_durable_;
  uint64_t failed_commits_ = 0;
  std::deque<std::shared_ptr<Push>> queued_;
  std::map<uint64_t, std::shared_ptr<Push>> handed_out_;
  uint64_t next_token_ = 1;
  std::shared_ptr<RecentIds> delivered_;
  std::unordered_set<EventKey, EventKeyHash> pending_;  // queued or handed out, not yet delivered
};

}  // namespace zf::source
