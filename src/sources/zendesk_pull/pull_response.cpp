#include "sources/zendesk_pull/pull_response.h"

#include <algorithm>

#include "sources/zendesk_pull/page.h"

namespace zf::source {

std::string status_class(long status) {
  if (status == 0) return "transport";
  if (status == 429) return "429";
  return std::to_string(status / 100) + "xx";
}

Verdict classify_response(const HttpResponse& resp, const std::string& url, int consecutive_429, SystemTime server_now) {
  if (resp.status == 200) return AcceptPage{};

  if (resp.status == 429) {
    auto reset_header = resp.header("ratelimit-reset");
    auto retry_after = resp.header("retry-after");
    auto wait = reset_wait(reset_header ? std::optional<std::string_view>(*reset_header) : std::nullopt,
                           retry_after ? std::optional<std::string_view>(*retry_after) : std::nullopt, server_now);
    wait = std::max(wait, std::chrono::milliseconds(std::min<int64_t>(
                              60'000, 1000LL << std::min(std::max(consecutive_429, 1) - 1, 6))));
    return WaitReset{wait, reset_header.value_or(""), retry_after.value_or("")};
  }

  if (resp.status == 401 || resp.status == 403 || resp.status == 404) {
    std::string kind = resp.status == 401 ? "auth" : resp.status == 403 ? "forbidden" : "not_found";
    std::string hint =
        resp.status == 401
            ? "credentials were rejected: check zendesk.auth (email, API token or OAuth token) and that the token "
              "is active"
        : resp.status == 403
            ? "access denied: the user must be a Zendesk admin, and the account needs the Advanced Data Privacy "
              "and Protection add-on"
            : "the Access Log API is not available: turn it on in Admin Center (Account > Logs > Access log) and "
              "check zendesk.subdomain / zendesk.base_url";
    return AuthProblem{resp.status, kind, hint, error_detail(resp.body)};
  }

  if (resp.status == 400)
    return Fatal{"Zendesk rejected the request as malformed (HTTP 400: " + error_detail(resp.body) +
                 "). Check zendesk.page_size (1 to 2500) and zendesk.start (within the last 90 days); if the "
                 "checkpoint holds an expired cursor, move the checkpoint file aside. Request: " + url};

  std::string reason = resp.status == 0     ? "transport"
                       : resp.status >= 500 ? "5xx"
                       : resp.status >= 400 ? "4xx"
                       : resp.status >= 300 ? "redirect"
                                            : "unexpected_status";
  std::string what = resp.status == 0 ? resp.transport_error
                                      : "HTTP " + std::to_string(resp.status) + ": " + error_detail(resp.body);
  if (resp.status >= 300 && resp.status < 400)
    what = "HTTP " + std::to_string(resp.status) + " redirect to " + resp.header("location").value_or("(no Location)") +
           ": the Access Logs API does not redirect; check zendesk.base_url (https and the account's own host)";
  return Backoff{reason, what};
}

}  // namespace zf::source
