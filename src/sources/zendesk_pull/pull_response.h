#pragma once
// Step 1 of a pull: what an API answer means, decided from the answer
// alone (no I/O). The source then acts on the verdict: parse the page,
// back off, wait for the server's reset, report the credentials, or stop.
#include <chrono>
#include <string>
#include <variant>

#include "net/http_get.h"
#include "sources/zendesk_pull/ratelimit_reset.h"

namespace zf::source {

using net::HttpResponse;

struct AcceptPage {};  // 200: the body is a page to parse
struct Backoff {       // worth retrying after an exponential, jittered pause
  std::string reason;  // metric label: transport, 5xx, 4xx, redirect, unexpected_status, body
  std::string what;    // for the log
};
struct WaitReset {  // 429: no request before `wait` has passed
  std::chrono::milliseconds wait{0};
  std::string ratelimit_reset, retry_after;  // the headers as sent ("" when absent)
};
struct AuthProblem {  // 401/403/404: an operator must act; retried rarely
  long status = 0;
  std::string kind;    // metric label: auth, forbidden, not_found
  std::string hint;    // what to check
  std::string detail;  // the server's error detail
};
struct Fatal {  // 400: retrying cannot help
  std::string message;
};
using Verdict = std::variant<AcceptPage, Backoff, WaitReset, AuthProblem, Fatal>;

// `consecutive_429` counts this answer too when it is a 429: 429 after 429
// despite honoured resets means a wrong header or a shared budget, so the
// wait grows (1 s, 2 s, ... up to a minute) whatever the header says.
// `server_now` reads the reset headers (they are the server's clock).
Verdict classify_response(const HttpResponse& resp, const std::string& url, int consecutive_429, SystemTime server_now);

// The metric label of a status: transport, 429, 2xx, 4xx, 5xx...
std::string status_class(long status);

}  // namespace zf::source
