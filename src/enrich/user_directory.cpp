#include "enrich/user_directory.h"

#include <algorithm>
#include <unordered_set>

#include <simdjson.h>

#include "log/logger.h"
#include "sources/zendesk_pull/ratelimit_reset.h"

namespace zf::enrich {

UserDirectory::UserDirectory(DirectorySettings settings, Logger& log, const Clock& clock)
    : settings_(std::move(settings)),
      log_(log),
      clock_(clock),
      http_(settings_.http),
      limiter_(std::max(1, settings_.budget_requests), settings_.budget_period, std::chrono::milliseconds(50)) {}

const PersonInfo* UserDirectory::find(std::string_view user_id) const {
  auto it = cache_.find(std::string(user_id));
  if (it == cache_.end() || !it->second.known) return nullptr;
  return &it->second.person;
}

size_t UserDirectory::resolve(const std::vector<std::string>& ids, bool wait, StopSignal& stop,
                              std::chrono::milliseconds max_wait) {
  int64_t now = clock_.now_ms();
  int64_t ttl_ms = static_cast<int64_t>(settings_.ttl.count()) * 1000;
  std::vector<std::string> wanted;
  std::unordered_set<std::string_view> seen;
  for (const auto& id : ids) {
    // Only numeric ids go into the request's URL.
    if (id.empty() || id.size() > 20 || !std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        !seen.insert(id).second)
      continue;
    auto it = cache_.find(id);
    if (it != cache_.end() && now - it->second.fetched_ms < ttl_ms) {
      ++stats_.hits;
      continue;
    }
    ++stats_.misses;
    wanted.push_back(id);
  }
  size_t done = 0;
  int64_t failing_since_ms = 0;  // 0 while the last request succeeded
  std::chrono::milliseconds pause{1000};
  auto out_of_time = [&](std::chrono::milliseconds more) {
    return max_wait.count() > 0 && failing_since_ms != 0 && clock_.now_ms() + more.count() - failing_since_ms >= max_wait.count();
  };
  while (done < wanted.size() && !stop.requested()) {
    if (!wait && clock_.now_ms() < paused_until_ms_) break;
    if (!wait && limiter_.next_delay().count() > 0) break;
    std::vector<std::string> batch(wanted.begin() + static_cast<std::ptrdiff_t>(done),
                                   wanted.begin() + static_cast<std::ptrdiff_t>(std::min(done + 100, wanted.size())));
    if (wait && out_of_time(limiter_.next_delay())) {  // a 429's reset beyond the bound included
      ++stats_.gave_up;
      break;
    }
    if (!limiter_.acquire(stop)) break;
    if (!fetch(batch, stop)) {
      paused_until_ms_ = clock_.now_ms() + static_cast<int64_t>(settings_.failure_pause.count()) * 1000;
      if (!wait) break;
      if (failing_since_ms == 0) failing_since_ms = clock_.now_ms();
      if (out_of_time(pause)) {
        ++stats_.gave_up;
        break;
      }
      // acquire() paces the retry too; a 429 holds it until the reset.
      if (!stop.sleep_for(pause)) break;
      pause = std::min(pause * 2, std::chrono::milliseconds(30'000));
      continue;
    }
    failing_since_ms = 0;
    pause = std::chrono::milliseconds(1000);
    done += batch.size();
  }
  size_t unknown = wanted.size() - done;
  stats_.unresolved += unknown;
  return unknown;
}

bool UserDirectory::fetch(const std::vector<std::string>& batch, StopSignal& stop) {
  std::string url = settings_.base_url + "/api/v2/users/show_many?ids=";
  for (size_t i = 0; i < batch.size(); ++i) url += (i ? "," : "") + batch[i];
  ++stats_.requests;
  net::HttpResponse res = http_.get(url, settings_.authorization, [&stop] { return stop.requested(); });
  if (res.status == 429) {
    ++stats_.rate_limited;
    auto now = std::chrono::system_clock::now();
    limiter_.hold_until(source::RateLimiter::Clock::now() +
                        source::reset_wait(res.header("ratelimit-reset"), res.header("retry-after"), now));
  }
  if (res.status != 200) {
    ++stats_.failures;
    stats_.last_failure = res.status ? "HTTP " + std::to_string(res.status) : res.transport_error;
    log_.warn("the Users API did not answer; records go out without names for now",
              {{"status", res.status}, {"error", res.transport_error}, {"ids", batch.size()}});
    return false;
  }
  simdjson::dom::parser parser;
  simdjson::dom::array users;
  if (parser.parse(res.body).get_object()["users"].get_array().get(users)) {
    ++stats_.failures;
    stats_.last_failure = "a body without a users list";
    log_.warn("the Users API answered without a users list; records go out without names for now");
    return false;
  }
  int64_t now = clock_.now_ms();
  std::unordered_set<std::string> listed;
  for (simdjson::dom::element u : users) {
    int64_t id = 0;
    if (u["id"].get_int64().get(id)) continue;
    Entry e;
    e.known = true;
    e.fetched_ms = now;
    std::string_view s;
    if (!u["name"].get_string().get(s)) e.person.name = s;
    if (!u["email"].get_string().get(s)) e.person.email = s;
    if (!u["role"].get_string().get(s)) e.person.role = s;
    store(*listed.insert(std::to_string(id)).first, std::move(e));
  }
  // Ids the API did not list (deleted users) are not asked for again until the TTL.
  for (const auto& id : batch)
    if (!listed.count(id)) store(id, Entry{{}, false, now});
  return true;
}

void UserDirectory::store(const std::string& id, Entry entry) {
  auto [it, inserted] = cache_.insert_or_assign(id, std::move(entry));
  if (!inserted) return;
  order_.push_back(id);
  while (cache_.size() > settings_.max_entries && !order_.empty()) {
    cache_.erase(order_.front());
    order_.pop_front();
  }
}

}  // namespace zf::enrich
