#include "app/owned_runs.h"

#include <algorithm>

namespace zf::app {

OwnedRuns::OwnedRuns(const AppConfig& config, source::RunContext& ctx, source::RunLinks& links,
                     std::function<bool(const std::string&)> may_poll)
    : config_(config), ctx_(ctx), links_(links), may_poll_(std::move(may_poll)) {
  for (const auto& s : config.sources) entry_of_[s->name] = s.get();
}

OwnedRuns::~OwnedRuns() {
  {
    std::lock_guard lock(mu_);
    wanted_.clear();
  }
  starter_.stop_jobs();
}

void OwnedRuns::assign(const std::vector<std::string>& names) {
  for (const auto& name : names) {
    {
      std::lock_guard lock(mu_);
      if (running_.count(name) || !wanted_.insert(name).second) continue;
    }
    starter_.add([this, name, backoff = std::chrono::milliseconds(1000)](PageBuffer&) mutable {
      return try_start(name, backoff);
    }, std::chrono::steady_clock::now());
  }
}

sched::Next OwnedRuns::try_start(const std::string& name, std::chrono::milliseconds& backoff) {
  {
    std::lock_guard lock(mu_);
    if (!wanted_.count(name)) return sched::Next::finished();  // revoked before it started
    building_.insert(name);
  }
  const source::SourceEntry& entry = *entry_of_.at(name);
  std::unique_ptr<source::Run> run;
  std::string error;
  try {
    run = source::type_of(entry).build(entry, ctx_, links_, true);
  } catch (const std::exception& e) {
    error = e.what();
  }
  std::unique_lock lock(mu_);
  building_.erase(name);
  built_.notify_all();
  if (!wanted_.count(name)) {
    lock.unlock();
    run.reset();  // revoked while it was built: never started
    return sched::Next::finished();
  }
  if (!run) {
    ctx_.log.warn("cannot start an assigned source yet; trying again",
                  {{"source", name}, {"error", error}, {"retry_in_ms", backoff.count()}});
    auto wait = backoff;
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(30));
    return sched::Next::in(wait);
  }
  wanted_.erase(name);
  // The lease is checked before each step, so before each API request
  // (one page). A request sent just before the lease ends completes after
  // it: lease_margin covers that request (keep the HTTP timeout below it),
  // so it still ends inside the session.
  ctx_.log.info("source assigned: running", {{"source", name}});  // before its first request
  run->start(std::chrono::steady_clock::now(), [this, name] { return may_poll_(name); });
  running_[name] = std::move(run);
  return sched::Next::finished();
}

void OwnedRuns::revoke(const std::vector<std::string>& names) {
  std::vector<std::unique_ptr<source::Run>> stopping;
  {
    std::unique_lock lock(mu_);
    for (const auto& name : names) {
      wanted_.erase(name);
      built_.wait(lock, [&] { return !building_.count(name); });
      auto it = running_.find(name);
      if (it == running_.end()) continue;
      stopping.push_back(std::move(it->second));
      running_.erase(it);
    }
  }
  // All stop fetching first, then they drain within one bound.
  for (auto& r : stopping) r->revoke();
  for (auto& r : stopping) r->wait_revoked();
  auto deadline = std::chrono::steady_clock::now() + config_.coordination.handoff_timeout;
  for (auto& r : stopping) {
    r->finish_loop(std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                               deadline - std::chrono::steady_clock::now())));
    r->stop_retries();
    if (!r->finish()) {
      failed_ = true;
      ctx_.stop.request();
    }
    ctx_.log.info("source revoked: stopped and committed",
                  {{"source", r->name}, {"all_acknowledged", r->result.drained}});
    if (!r->result.drained) {
      std::lock_guard lock(mu_);
      retired_.push_back(std::move(r));
    }
  }
}

void OwnedRuns::tick(int64_t now_ms) {
  std::lock_guard lock(mu_);
  for (auto& [name, r] : running_) r->tick(now_ms);
}

}  // namespace zf::app
