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

  // Returns at once: sources are built on threads of their own, so the
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
  void open_ahead(const std::vector<std::string>& names);
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
  // With sinks of each account's own (exactly_once): every newly assigned
  // account's producer is opened before any of them reads its position.
  // Opening one (InitProducerId) aborts the transaction its last owner left
  // open, and such a transaction holds back what every read_committed
  // reader of the checkpoint topic sees: a position read waiting on another
  // account's, whose start queued behind it, would wait for the brokers'
  // transaction timeout (the test broker has none).
  using SinksFor = std::function<std::vector<pipeline::NamedSink>(const std::string&)>;
  SinksFor open_sinks_;                                              // the process's own ctx.sinks_for
  std::map<std::string, std::vector<pipeline::NamedSink>> opened_;  // ahead of their start (guarded by mu_)
  std::atomic<bool> failed_{false};
  // A start mostly waits on the brokers (the position read, the
  // producer's InitProducerId): a few at once, so a failover of many
  // accounts is not one start after another.
  static constexpr size_t kStarters = 4;
  sched::Scheduler starter_{kStarters, "zf-start"};  // last: stopped first
};

}  // namespace zf::app
