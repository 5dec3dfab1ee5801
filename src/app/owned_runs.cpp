#include "app/owned_runs.h"

#include <algorithm>

namespace zf::app {

OwnedRuns::OwnedRuns(const AppConfig& config, source::RunContext& ctx, source::RunLinks& links,
                     std::function<bool(const std::string&)> may_poll)
    : config_(config), ctx_(ctx), links_(links), may_poll_(std::move(may_poll)) {
  for (const auto& s : config.sources) entry_of_[s->name] = s.get();
  // A run takes the sinks opened ahead for it, if any.
  if (ctx_.sinks_for) {
    open_sinks_ = ctx_.sinks_for;
    ctx_.sinks_for = [this](const std::string& name) {
      {
        std::lock_guard lock(mu_);
        auto it = opened_.find(name);
        if (it != opened_.end()) {
          auto sinks = std::move(it->second);
          opened_.erase(it);
          return sinks;
        }
      }
      return open_sinks_(name);
    };
  }
}

OwnedRuns::~OwnedRuns() {
  {
    std::lock_guard lock(mu_);
    wanted_.clear();
  }
  starter_.stop_jobs();
  if (open_sinks_) ctx_.sinks_for = open_sinks_;
  opened_.clear();
}

void OwnedRuns::assign(const std::vector<std::string>& names) {
  std::vector<std::string> fresh;
  {
    std::lock_guard lock(mu_);
    for (const auto& name : names)
      if (!running_.count(name) && wanted_.insert(name).second) fresh.push_back(name);
  }
  if (fresh.empty()) return;
  starter_.add([this, fresh](PageBuffer&) {
    open_ahead(fresh);
    for (const auto& name : fresh)
      starter_.add([this, name, backoff = std::chrono::milliseconds(1000)](PageBuffer&) mutable {
        return try_start(name, backoff);
      }, std::chrono::steady_clock::now());
    return sched::Next::finished();
  }, std::chrono::steady_clock::now());
}

void OwnedRuns::open_ahead(const std::vector<std::string>& names) {
  if (!open_sinks_) return;
  for (const auto& name : names) {
    {
      std::lock_guard lock(mu_);
      if (!wanted_.count(name) || opened_.count(name)) continue;
      building_.insert(name);  // a revocation waits: the next owner opens them after
    }
    std::vector<pipeline::NamedSink> sinks;
    // A replica whose lease lapsed (a zombie) must not fence the owner.
    if (may_poll_(name)) {
      try {
        sinks = open_sinks_(name);
      } catch (const std::exception& e) {
        ctx_.log.debug("cannot open an assigned source's sinks ahead; its start tries again",
                       {{"source", name}, {"error", e.what()}});
      }
    }
    std::unique_lock lock(mu_);
    building_.erase(name);
    built_.notify_all();
    if (wanted_.count(name) && !sinks.empty()) opened_[name] = std::move(sinks);
    // else: revoked meanwhile, they close here (the lock released first)
    lock.unlock();
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
  if (!may_poll_(name)) {  // the lease lapsed: its revocation follows; a zombie opens nothing
    std::lock_guard lock(mu_);
    building_.erase(name);
    built_.notify_all();
    return sched::Next::in(std::chrono::milliseconds(200));
  }
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
  std::vector<std::vector<pipeline::NamedSink>> unused;  // opened ahead, closed before the account is released
  {
    std::unique_lock lock(mu_);
    for (const auto& name : names) {
      wanted_.erase(name);
      built_.wait(lock, [&] { return !building_.count(name); });
      if (auto ahead = opened_.find(name); ahead != opened_.end()) {
        unused.push_back(std::move(ahead->second));
        opened_.erase(ahead);
      }
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
