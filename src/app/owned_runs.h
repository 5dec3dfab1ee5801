#pragma once
// The sources a replica owns under coordination (#30): built when their
// account is assigned, stopped, drained and committed when it is revoked.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "app/app_config.h"
#include "sched/scheduler.h"
#include "sources/source_types.h"

namespace zf::app {

class OwnedRuns {
 public:
  // `may_poll(source)`: asked before each of a source's steps (the lease).
  OwnedRuns(const AppConfig& config, source::RunContext& ctx, source::RunLinks& links,
            std::function<bool(const std::string&)> may_poll);
  ~OwnedRuns();

  // Returns at once: sources are built on a thread of their own, so the
  // coordinator's heartbeat and lease never wait for a source's start
  // (its position read from Kafka, its transactions opened). A source that
  // cannot start yet (its checkpoint still locked by a stopped former
  // owner, brokers down) is tried again, 1 s then up to 30 s later; its
  // account stays unowned meanwhile (the AccountUnowned alert).
  void assign(const std::vector<std::string>& names);
  // Returns once each is stopped, drained within handoff_timeout and
  // committed, and no start of it is under way: only then may another
  // replica take the account (and open its transactional id).
  void revoke(const std::vector<std::string>& names);
  void tick(int64_t now_ms);
  // A revoked source failed its last commit (see the log).
  bool failed() const { return failed_; }

 private:
  sched::Next try_start(const std::string& name, std::chrono::milliseconds& backoff);

  const AppConfig& config_;
  source::RunContext& ctx_;
  source::RunLinks& links_;
  std::function<bool(const std::string&)> may_poll_;
  std::map<std::string, const source::SourceEntry*> entry_of_;

  std::mutex mu_;
  std::condition_variable built_;
  std::map<std::string, std::unique_ptr<source::Run>> running_;
  std::set<std::string> wanted_;    // assigned, not started yet
  std::set<std::string> building_;  // being built right now
  // Revoked with batches still unacknowledged: the sinks may still call
  // back into them, so they live until the sinks closed.
  std::vector<std::unique_ptr<source::Run>> retired_;
  std::atomic<bool> failed_{false};
  sched::Scheduler starter_{1, "zf-start"};  // last: stopped first
};

}  // namespace zf::app
