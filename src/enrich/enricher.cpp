#include "enrich/enricher.h"

#include "sources/zendesk_pull/pull_metrics.h"

namespace zf::enrich {

Enricher::Enricher(DirectorySettings settings, Logger& log, PullMetrics& metrics, StopSignal& stop)
    : directory_(std::move(settings), log), metrics_(metrics), stop_(stop) {}

void Enricher::enrich(std::vector<Record>& records) {
  auto target_of = [](const AccessEvent& e) -> const std::string* {
    return e.resource.type == "user" && !e.resource.search && !e.resource.id.empty() ? &e.resource.id : nullptr;
  };
  ids_.clear();
  for (const Record& r : records) {
    ids_.push_back(r.event.user_id);
    if (const std::string* target = target_of(r.event)) ids_.push_back(*target);
  }
  directory_.resolve(ids_, /*wait=*/false, stop_);
  uint64_t named = 0;
  for (Record& r : records) {
    AccessEvent& e = r.event;
    if (const PersonInfo* p = directory_.find(e.user_id)) {
      e.user_name = p->name;
      e.user_email = p->email;
      e.user_role = p->role;
      ++named;
    }
    if (const std::string* target = target_of(e))
      if (const PersonInfo* p = directory_.find(*target)) {
        e.target_user_name = p->name;
        e.target_user_email = p->email;
      }
  }
  metrics_.enrich_records("named").Increment(static_cast<double>(named));
  metrics_.enrich_records("unnamed").Increment(static_cast<double>(records.size() - named));
  const DirectoryStats& now = directory_.stats();
  metrics_.enrich_cache_lookups("hit").Increment(static_cast<double>(now.hits - counted_.hits));
  metrics_.enrich_cache_lookups("miss").Increment(static_cast<double>(now.misses - counted_.misses));
  uint64_t failed = now.failures - counted_.failures, limited = now.rate_limited - counted_.rate_limited;
  metrics_.users_api_requests("ok").Increment(static_cast<double>(now.requests - counted_.requests - failed));
  metrics_.users_api_requests("rate_limited").Increment(static_cast<double>(limited));
  metrics_.users_api_requests("failed").Increment(static_cast<double>(failed - limited));
  counted_ = now;
}

}  // namespace zf::enrich
