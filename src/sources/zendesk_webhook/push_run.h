#pragma once
// A zendesk_webhook source run: Zendesk pushes; a request is answered 200
// once its page is committed (every sink acknowledged it).
#include <memory>
#include <thread>

#include "normalize/normalizer.h"
#include "pipeline/committer.h"
#include "sources/recent_ids.h"
#include "sources/run.h"
#include "sources/zendesk_webhook/webhook_config.h"
#include "sources/zendesk_webhook/webhook_source.h"

namespace zf::source {

struct PushRun final : Run {
  // `delivered`: the ids it delivered lately (its checkpoint), shared with
  // the pull source that dedups with it.
  PushRun(const WebhookSourceConfig& c, RunContext& ctx, std::shared_ptr<RecentIds> delivered)
      : Run(c.name),
        ctx(ctx),
        log(ctx.log, {{"source", c.name}}),
        metrics(ctx.process, c.name, c.account),
        source(c.settings, std::move(delivered), log, metrics, ctx.stop),
        committer([this](uint64_t token) { return source.commit(token); }, "webhook " + c.name, log, metrics,
                  ctx.clock, &ctx.commits),
        delivery(pipeline::refs(ctx.sinks), ctx.max_inflight_batches, ctx.sink_retry_initial, ctx.sink_retry_max, log,
                 metrics, [this](const pipeline::Commit& commit) { committer.submit(commit); }, &ctx.commits),
        normalizer({c.account, false, ctx.needs_ecs}),
        loop(source, normalizer, delivery, ctx.numbers, log, metrics, ctx.stop,
             {ctx.once, c.account, ctx.shutdown_timeout, ctx.progress_interval, c.name}, ctx.clock) {
    health.started_ms = ctx.clock.now_ms();
    committer.keep_ledger(c.checkpoint_path + ".ledger");
    port = source.start();
  }

  ~PushRun() override {
    if (thread.joinable()) thread.join();
  }

  // A push source waits for Zendesk on a thread of its own: there are few
  // of them, and their listener answers as soon as a page is committed. A
  // source that fails stops the others: the process exits with its error
  // and is restarted as a whole.
  void start(sched::SteadyTime, std::function<bool()>) override {
    thread = std::thread([this, &stop = ctx.stop] {
      auto t0 = std::chrono::steady_clock::now();
      try {
        result = loop.run();
      } catch (const std::exception& e) {
        result.ok = false;
        result.error = std::string("unexpected error: ") + e.what();
        result.stopping_since = std::chrono::steady_clock::now();
      }
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      health.running = false;
      if (!result.ok) stop.request();
    });
  }
  // Push sources are not coordinated: they stop with the process.
  void revoke() override {}
  void wait_revoked() override {}
  sched::SteadyTime join(sched::SteadyTime) override {
    if (thread.joinable()) thread.join();
    return result.stopping_since;
  }
  // Its loop drained before it returned.
  void finish_loop(std::chrono::milliseconds) override {}
  void stop_retries() override { delivery.stop_retries(); }
  void tick(int64_t now_ms) override {
    health.heartbeat_ms = now_ms;
    health.last_fetch_ok_ms = now_ms;  // listening is all a push source does between pushes
    health.set_fetch_problem(source.durability_problem());  // ids not written: pushes get 503
    health.inflight_batches = static_cast<int64_t>(delivery.inflight());
    health.last_commit_ms = committer.last_commit_ms();
    metrics.tick(delivery.newest_delivered_event_ms(), committer.last_commit_ms());
  }
  bool finish() override {
    committer.finish();
    if (result.ok && source.failed_commits() > 0) {
      result.ok = false;
      result.error = "the delivered ids of " + std::to_string(source.failed_commits()) +
                     " commit(s) could not be written (see the errors above): their pushes were answered 503 and "
                     "are shipped again when Zendesk retries them. Check that the push checkpoint is on a writable "
                     "volume with free space.";
    }
    log.info(result.ok ? "stopped" : "stopped on error",
             {{"events_received", result.events_fetched}, {"events_shipped", result.events_shipped},
              {"all_acknowledged", result.drained}, {"seconds", seconds}});
    if (!result.ok) log.error(result.error);
    return result.ok;
  }

  RunContext& ctx;
  Logger log;
  Metrics metrics;
  WebhookSource source;
  pipeline::Committer committer;
  pipeline::Delivery delivery;
  normalize::Normalizer normalizer;
  pipeline::Pipeline loop;
  uint16_t port = 0;
  std::thread thread;
};

}  // namespace zf::source
