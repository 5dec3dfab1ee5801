#include "sources/zendesk_pull/pull_run.h"

#include <algorithm>

#include "core/errors.h"

namespace zf::source {

namespace {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

SourceSettings with_ids_beside_position(SourceSettings s, bool on) {
  s.ids_beside_position = on;
  return s;
}

}  // namespace

PullRun::PullRun(const PullSourceConfig& c, RunContext& ctx, std::shared_ptr<RecentIds> pushed, bool coordinated)
    : Run(c.name),
      ctx(ctx),
      coordinated(coordinated),
      loop_stop(coordinated ? revoked : ctx.stop),
      config(c),
      log(ctx.log, {{"source", c.name}}),
      metrics(ctx.process, c.name, c.account),
      pull_metrics(ctx.process, c.name, c.account),
      store(c.checkpoint_path, !coordinated),
      http(c.http),
      journal(c.checkpoint_path + ".requests", c.rate_limit_requests),
      // A small margin on every budget wait: the server stamps arrivals a
      // little after we stamp sends.
      limiter(c.rate_limit_requests, c.rate_limit_period,
              std::max(std::chrono::milliseconds(20), c.rate_limit_period / 500)),
      source(with_ids_beside_position(c.source, !ctx.position_keepers.empty()), http, limiter, store, log,
             pull_metrics, loop_stop, ctx.clock),
      skip_pushed(pushed ? std::make_unique<SkipPushed>(source, pushed, pull_metrics) : nullptr),
      // Through the same Source the loop reads: SkipPushed's commit adds
      // the ids pull shipped to push's delivered set.
      committer([this](uint64_t token) { return shipped_from().commit(token); }, c.checkpoint_path, log, metrics,
                ctx.clock, &ctx.commits),
      own_sinks(ctx.sinks_for ? ctx.sinks_for(c.name) : std::vector<pipeline::NamedSink>{}),
      delivery(pipeline::refs(ctx.sinks_for ? own_sinks : ctx.sinks), ctx.max_inflight_batches,
               ctx.sink_retry_initial, ctx.sink_retry_max, log, metrics, [this](const pipeline::Commit& commit) { committer.submit(commit); }, &ctx.commits, &ctx.budget),
      enricher(c.enrich_users ? std::make_unique<enrich::Enricher>(*c.enrich_users, log, pull_metrics, loop_stop) : nullptr),
      normalizer({c.account, c.keep_original, ctx.needs_ecs && !enricher}),
      loop(shipped_from(), normalizer, delivery, ctx.numbers, log, metrics, loop_stop,
           {ctx.once, c.account, ctx.shutdown_timeout, ctx.progress_interval, c.name, &ctx.budget,
            // A full page of records (event and document about 3 KiB each)
            // until pages say otherwise.
            static_cast<size_t>(c.source.page_size) * 3072},
           ctx.clock) {
  if (enricher) loop.enrich_with(enricher.get(), ctx.needs_ecs);
  committer.keep_ledger(c.checkpoint_path + ".ledger");
  // A restart within the period starts with what the last process left
  // of the budget, not a full one: the API counted its requests too.
  limiter.keep_journal(journal, [this](const std::string& why) {
    log.warn("the times of recent API requests can no longer be kept; a restart within the next minute may "
             "spend the account's budget twice (a few 429s)",
             {{"path", journal.path()}, {"error", why}});
  });
  health.started_ms = ctx.clock.now_ms();
  pull_metrics.rate_limit_budget.Set(c.rate_limit_requests);
  pull_metrics.rate_limit_period.Set(c.rate_limit_period.count() / 1000.0);
  source.on_problem([this, &clock = ctx.clock](const std::string& why) {
    health.set_fetch_problem(why);
    if (why.empty()) health.last_fetch_ok_ms = clock.now_ms();  // "" = a page was served
  });
  // Exactly once into Kafka: the position committed with the records is
  // the truth; the file is only its cache (and, the first time, where
  // it starts from).
  for (const auto& [sink, read_position] : ctx.position_keepers) {
    std::optional<KeptPosition> kept;
    try {
      kept = read_position(c.name, [this](const std::string& position) { return store.pieces_needed(position); });
    } catch (const std::exception& e) {
      throw FatalError("cannot read the source's position from sink \"" + sink + "\": " + e.what());
    }
    size_t pieces = kept ? kept->pieces.size() : 0;
    KeptPosition::Cost cost = kept ? kept->cost : KeptPosition::Cost{};
    if (kept) store.adopt(kept->position, "sink " + sink + "'s checkpoint topic", std::move(kept->pieces));
    log.info(kept ? "position from the kafka checkpoint topic" : "no position in the kafka checkpoint topic yet; "
                                                                   "starting from the checkpoint file or start",
             {{"sink", sink},
              {"pieces", pieces},
              {"read_rounds", cost.rounds},
              {"read_messages", cost.messages},
              {"read_seconds", cost.seconds},
              {"waited_on_open_transactions_seconds", cost.waited_seconds}});
  }
  source.open(c.account, c.start.resolve(ctx.clock.now_s()));
}

void PullRun::start(sched::SteadyTime first, std::function<bool()> may_poll) {
  auto& fetchers = ctx.fetchers;
  // The wake-up outlives the run (the memory budget or a late ack may
  // still call it): it holds the id, not the run.
  loop.on_wake([&fetchers, id = job] { fetchers.wake(id->load()); });
  started = std::chrono::steady_clock::now();
  fetchers.add(
      [this, &stop = ctx.stop, may_poll = std::move(may_poll), done = done](PageBuffer& buffer) {
        if (may_poll && !loop_stop.requested() && !may_poll()) return sched::Next::in(std::chrono::milliseconds(100));
        sched::Next next = loop.step(buffer);
        if (next.kind == sched::Next::Kind::Finished) {
          health.running = false;
          if (!loop.result().ok && !moved()) stop.request();
          done->set_value();  // last: the run may be destroyed from here on
        }
        return next;
      },
      first, job.get());
}

void PullRun::revoke() {
  revoked.request();
  ctx.fetchers.wake(job->load());
}

void PullRun::finish_loop(std::chrono::milliseconds left) {
  auto deadline = std::chrono::steady_clock::now() + left;
  result = loop.finish(left);
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  health.running = false;
  // Its own sinks close with it (their acks still reach the committer).
  if (!own_sinks.empty()) {
    delivery.stop_retries();
    pipeline::close_all(own_sinks, std::max(std::chrono::milliseconds(0),
                                            std::chrono::duration_cast<std::chrono::milliseconds>(
                                                deadline - std::chrono::steady_clock::now())));
  }
}

void PullRun::tick(int64_t now_ms) {
  health.heartbeat_ms = now_ms;
  health.inflight_batches = static_cast<int64_t>(delivery.inflight());
  health.last_commit_ms = committer.last_commit_ms();
  metrics.tick(delivery.newest_delivered_event_ms(), committer.last_commit_ms());
}

bool PullRun::finish() {
  committer.finish();  // its last write: later acks are ignored
  store.release();
  if (result.ok && !committer.last_write_ok()) {
    result.ok = false;
    result.error = "the last checkpoint write failed (see the errors above): what was delivered since the last good "
                   "write will be shipped again on the next start. Check that " + config.checkpoint_path +
                   " is on a writable volume with free space.";
  }
  auto latencies = committer.latency_samples();
  std::vector<double> write_ms, write_bytes;
  for (const auto& c : committer.write_costs()) {
    write_ms.push_back(c.ms);
    write_bytes.push_back(static_cast<double>(c.bytes));
  }
  log.info(result.ok ? "stopped" : "stopped on error",
           {{"pages", result.pages},
            {"events_fetched", result.events_fetched},
            {"events_shipped", result.events_shipped},
            {"duplicates_dropped", result.duplicates},
            {"late_events", pull_metrics.late_events.Value()},
            {"late_reads_done", pull_metrics.late_read_windows("reread").Value()},
            {"late_reads_given_up", pull_metrics.late_read_windows("skipped").Value()},
            {"invalid_events", result.invalid},
            {"all_acknowledged", result.drained},
            {"seconds", seconds},
            {"events_per_second", seconds > 0 ? result.events_shipped / seconds : 0},
            {"page_to_commit_ms_p50", percentile(latencies, 0.50)},
            {"page_to_commit_ms_p99", percentile(latencies, 0.99)},
            {"checkpoint_writes", write_ms.size()},
            {"checkpoint_write_ms_p99", percentile(write_ms, 0.99)},
            {"checkpoint_write_bytes_p99", percentile(write_bytes, 0.99)},
            {"checkpoint_write_bytes_max", percentile(write_bytes, 1.0)},
            {"events_delivered_total", source.events_delivered()},
            {"push_dedup_pages_pending", skip_pushed ? skip_pushed->pending_pages() : 0},
            {"account", config.account},
            {"checkpoint", config.checkpoint_path}});
  if (enricher) {
    const auto& st = enricher->directory().stats();
    log.info("enrichment: names from the Users API",
             {{"records_named", pull_metrics.enrich_records("named").Value()},
              {"records_unnamed", pull_metrics.enrich_records("unnamed").Value()},
              {"cache_hit_ratio", st.hits + st.misses ? static_cast<double>(st.hits) / (st.hits + st.misses) : 0.0},
              {"users_api_requests", st.requests}, {"users_api_failures", st.failures},
              {"people_cached", enricher->directory().size()}});
  }
  if (!result.ok && moved()) {
    log.warn("another replica took this account over (its transactions fenced this one's): stopped here; the new "
             "owner continues from the last committed position",
             {{"error", result.error}});
    return true;
  }
  if (!result.ok) log.error(result.error);
  return result.ok;
}

bool PullRun::moved() const { return coordinated && delivery.superseded(); }

}  // namespace zf::source
