#include "coord/coordinator.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <future>
#include <stdexcept>
#include <string_view>

namespace zf::coord {

using namespace std::chrono_literals;

// librdkafka's callbacks, forwarded to the coordinator in their opaque.
struct RebalanceHook {
  static void rebalance(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque) {
    static_cast<Coordinator*>(opaque)->rebalance(static_cast<int>(err), parts);
  }
  static void log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    // Brokers older than 0.11 (and the test broker) cannot honour
    // allow.auto.create.topics=false; nothing to act on.
    if (std::string_view(fac) == "AUTOCREATE") return;
    auto* c = static_cast<Coordinator*>(rd_kafka_opaque(rk));
    if (c) c->log_.log(level <= 3 ? LogLevel::Error : LogLevel::Warn, "coordination: librdkafka", {{"facility", fac}, {"message", buf}});
  }
  static void error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    // No broker reachable: heartbeats cannot succeed, so membership cannot
    // be confirmed; the lease runs down from here (a fresh assignment
    // confirms it again).
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) static_cast<Coordinator*>(opaque)->brokers_down_ = true;
    static_cast<Coordinator*>(opaque)->log_.warn("coordination: kafka error",
                                                 {{"error", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))},
                                                  {"reason", reason}});
  }
};

namespace {

// The loop's poll timeout, and so the lease's tick: a tick later than
// `stall` means the process (and its heartbeats) did not run meanwhile.
constexpr auto kTick = 100ms;

void set(rd_kafka_conf_t* conf, const std::string& k, const std::string& v) {
  char err[512];
  if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
    throw std::runtime_error("coordination: librdkafka rejects " + k + "=" + v + ": " + err);
}

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()); }

}  // namespace

Coordinator::Coordinator(CoordinationConfig config, std::vector<std::string> sources, CoordinatorCallbacks callbacks,
                         CoordMetrics& metrics, Logger& log)
    : config_(std::move(config)),
      sources_(std::move(sources)),
      callbacks_(std::move(callbacks)),
      metrics_(metrics),
      log_(log),
      // A tick more than a third of the margin late is a stall (the
      // heartbeat interval is a third of the margin too, see the config).
      lease_(config_.lease(), std::max<std::chrono::milliseconds>(config_.lease_margin / 3, 3 * kTick)) {}

Coordinator::~Coordinator() { stop(); }

rd_kafka_t* Coordinator::client(bool group_member) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  try {
    for (const auto& [k, v] : config_.properties) set(conf, k, v);
    set(conf, "bootstrap.servers", config_.brokers);
    set(conf, "client.id", "zendesk-forwarder-coordination");
    set(conf, "log_level", "4");
    if (group_member) {
      set(conf, "group.id", config_.group);
      set(conf, "partition.assignment.strategy", "cooperative-sticky");
      set(conf, "session.timeout.ms", ms(config_.session_timeout));
      set(conf, "heartbeat.interval.ms", ms(config_.heartbeat_interval));
      // on_revoked runs inside a poll, bounded by handoff_timeout.
      set(conf, "max.poll.interval.ms", ms(std::max<std::chrono::milliseconds>(300s, 2 * config_.handoff_timeout + 60s)));
      set(conf, "enable.auto.commit", "false");
      set(conf, "enable.auto.offset.store", "false");
      set(conf, "auto.offset.reset", "latest");
      set(conf, "allow.auto.create.topics", "false");  // a topic made by a Metadata call has the broker's default count
    }
  } catch (...) {
    rd_kafka_conf_destroy(conf);
    throw;
  }
  if (group_member) rd_kafka_conf_set_rebalance_cb(conf, RebalanceHook::rebalance);
  rd_kafka_conf_set_error_cb(conf, RebalanceHook::error);
  rd_kafka_conf_set_log_cb(conf, RebalanceHook::log);
  rd_kafka_conf_set_opaque(conf, this);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(group_member ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("coordination: cannot create a Kafka client: ") + err);
  }
  return rk;
}

void Coordinator::start(std::chrono::milliseconds wait) {
  // The control topic's partition count, as every replica sees it (it may
  // differ from `partitions` when the topic existed before). Created if
  // missing: compacted, as anything written there later should keep only
  // the latest per key. Looked up with a plain client: librdkafka 2.0.2
  // asserts when a cooperative-sticky consumer that never joined is destroyed.
  std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> admin(client(false), rd_kafka_destroy);
  std::string problem;
  int partitions = topic_partitions(admin.get(), problem);
  if (partitions == 0) create_topic(admin.get());
  auto deadline = Clock::now() + wait;
  while (partitions == 0) {
    if (Clock::now() > deadline)
      throw std::runtime_error("coordination: control topic " + config_.control_topic + " not found on " +
                               config_.brokers + " (" + problem +
                               "): create it, or check coordination.brokers and the ACLs");
    std::this_thread::sleep_for(500ms);
    partitions = topic_partitions(admin.get(), problem);
  }
  admin.reset();
  if (partitions != config_.partitions)
    log_.warn("coordination: the control topic's partition count differs from coordination.partitions; using the topic's",
              {{"topic", config_.control_topic}, {"topic_partitions", partitions}, {"configured", config_.partitions}});
  map_ = std::make_unique<AccountMap>(sources_, partitions);

  rk_ = client(true);
  rd_kafka_poll_set_consumer(rk_);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, config_.control_topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e) {
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
    throw std::runtime_error(std::string("coordination: cannot subscribe: ") + rd_kafka_err2str(e));
  }
  log_.info("coordination: joining", {{"group", config_.group},
                                      {"topic", config_.control_topic},
                                      {"partitions", partitions},
                                      {"sources", sources_.size()},
                                      {"session_timeout_ms", config_.session_timeout.count()},
                                      {"lease_ms", config_.lease().count()}});
  publish_owned();
  thread_ = std::thread([this] { run(); });
}

int Coordinator::topic_partitions(rd_kafka_t* rk, std::string& problem) {
  int partitions = 0;
  problem = "not in the metadata";
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, config_.control_topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 5000)) {
    problem = rd_kafka_err2str(e);
  } else {
    for (int i = 0; i < md->topic_cnt; ++i)
      if (config_.control_topic == md->topics[i].topic) {
        if (md->topics[i].err) problem = rd_kafka_err2str(md->topics[i].err);
        else partitions = md->topics[i].partition_cnt;
      }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(t);
  return partitions;
}

void Coordinator::create_topic(rd_kafka_t* rk) {
  char err[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(config_.control_topic.c_str(), config_.partitions, config_.replication_factor, err, sizeof err);
  if (!nt) {
    log_.error("coordination: cannot describe the control topic to create", {{"error", err}});
    return;
  }
  rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(opt, 10000, err, sizeof err);
  rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
  std::string outcome = "no answer";
  if (rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000)) {
    if (rd_kafka_event_error(ev)) {
      outcome = rd_kafka_event_error_string(ev);
    } else if (const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev)) {
      size_t n = 0;
      const rd_kafka_topic_result_t** tr = rd_kafka_CreateTopics_result_topics(res, &n);
      if (n == 1) {
        auto e = rd_kafka_topic_result_error(tr[0]);
        outcome = e == RD_KAFKA_RESP_ERR_NO_ERROR ? "created"
                  : e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? "exists" : rd_kafka_err2str(e);
      }
    }
    rd_kafka_event_destroy(ev);
  }
  log_.info("coordination: creating the control topic",
            {{"topic", config_.control_topic}, {"partitions", config_.partitions}, {"outcome", outcome}});
  rd_kafka_AdminOptions_destroy(opt);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
}

void Coordinator::stop() {
  if (stop_.exchange(true)) return;
  if (thread_.joinable()) thread_.join();
}

void Coordinator::run() {
  while (!stop_.load()) {
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, static_cast<int>(kTick.count()))) {
      if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        log_.warn("coordination: consumer error", {{"error", rd_kafka_message_errstr(m)}});
      rd_kafka_message_destroy(m);  // the control topic carries no data we read
    }
    tick(Clock::now());
  }
  // Leaving: revoke what we own (the owner stops and commits), then close,
  // which sends LeaveGroup so the others need not wait for the session.
  std::vector<std::string> all;
  {
    std::lock_guard lk(mu_);
    all.assign(owned_sources_.begin(), owned_sources_.end());
  }
  if (!all.empty()) handoff(all);
  rd_kafka_consumer_close(rk_);  // its revoke callback finds nothing left to hand off
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
  if (late_handoff_.joinable()) late_handoff_.join();
  std::lock_guard lk(mu_);
  owned_partitions_.clear();
  owned_sources_.clear();
  lease_.drop();
  metrics_.member.Set(0);
}

void Coordinator::tick(Clock::time_point now) {
  if (tick_lease(now)) lease_lapsed();
}

bool Coordinator::tick_lease(Clock::time_point now) {
  bool member_ok = rk_ && !brokers_down_.load() && !rd_kafka_assignment_lost(rk_);
  if (member_ok) {
    char* id = rd_kafka_memberid(rk_);
    member_ok = id && *id;
    if (id) rd_kafka_mem_free(rk_, id);
  }
  bool lapsed;
  {
    std::lock_guard lk(mu_);
    lease_.tick(now, member_ok);
    lapsed = !owned_partitions_.empty() && !lease_.valid(now);
    metrics_.member.Set(!owned_partitions_.empty() && lease_.valid(now) ? 1 : 0);
  }
  return lapsed;
}

void Coordinator::lease_lapsed() {
  std::vector<std::string> all;
  {
    std::lock_guard lk(mu_);
    all.assign(owned_sources_.begin(), owned_sources_.end());
  }
  metrics_.lease_lapses.Increment();
  log_.warn("coordination: membership lease lapsed (the process stalled, every broker is unreachable or the session is "
            "lost): stopping every "
            "owned source and rejoining the group",
            {{"sources", all}});
  handoff(all);
  {
    std::lock_guard lk(mu_);
    owned_partitions_.clear();
  }
  publish_owned();
  // Rejoin with a new member id: the broker has (or soon will have) given
  // our partitions away, and librdkafka may not know it yet. unsubscribe
  // revokes what librdkafka still has assigned (nothing left to hand off).
  rd_kafka_unsubscribe(rk_);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, config_.control_topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_, topics))
    log_.error("coordination: cannot resubscribe after the lease lapsed", {{"error", rd_kafka_err2str(e)}});
  rd_kafka_topic_partition_list_destroy(topics);
}

std::vector<std::string> Coordinator::sources_of(const rd_kafka_topic_partition_list_t* parts) const {
  std::vector<std::string> out;
  for (int i = 0; i < parts->cnt; ++i) {
    if (config_.control_topic != parts->elems[i].topic) continue;
    for (const auto& s : map_->accounts_of(parts->elems[i].partition)) out.push_back(s);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void Coordinator::publish_owned() {
  std::vector<std::string> owned;
  {
    std::lock_guard lk(mu_);
    owned_sources_.clear();
    for (int p : owned_partitions_)
      for (const auto& s : map_->accounts_of(p)) owned_sources_.insert(s);
    owned.assign(owned_sources_.begin(), owned_sources_.end());
  }
  metrics_.set_owned(owned);
}

void Coordinator::rebalance(int err, rd_kafka_topic_partition_list_t* parts) {
  if (late_handoff_.joinable()) late_handoff_.join();  // one callback at a time
  auto sources = sources_of(parts);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk_, parts)) {
      log_.error("coordination: incremental assign failed", {{"error", rd_kafka_error_string(e)}});
      rd_kafka_error_destroy(e);
      return;
    }
    {
      std::lock_guard lk(mu_);
      for (int i = 0; i < parts->cnt; ++i) owned_partitions_.insert(parts->elems[i].partition);
      // The assignment just came from the broker: we are a member now.
      brokers_down_ = false;
      lease_.confirm(Clock::now());
    }
    publish_owned();
    metrics_.rebalances_assign.Increment();
    if (!sources.empty()) {
      log_.info("coordination: assigned", {{"sources", sources}});
      if (callbacks_.on_assigned) callbacks_.on_assigned(sources);
    }
    return;
  }
  bool lost = rd_kafka_assignment_lost(rk_);
  (lost ? metrics_.rebalances_lost : metrics_.rebalances_revoke).Increment();
  // Only what we still own (after a lapsed lease, nothing).
  std::vector<std::string> handing;
  {
    std::lock_guard lk(mu_);
    for (int i = 0; i < parts->cnt; ++i) owned_partitions_.erase(parts->elems[i].partition);
    for (const auto& s : sources)
      if (owned_sources_.count(s)) handing.push_back(s);
  }
  publish_owned();  // may_poll refuses them from here on
  if (!handing.empty()) {
    log_.info(lost ? "coordination: assignment lost" : "coordination: revoked", {{"sources", handing}});
    handoff(handing);
  }
  if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk_, parts)) {
    log_.error("coordination: incremental unassign failed", {{"error", rd_kafka_error_string(e)}});
    rd_kafka_error_destroy(e);
  }
}

void Coordinator::handoff(std::vector<std::string> sources) {
  if (late_handoff_.joinable()) late_handoff_.join();  // one on_revoked at a time
  {
    // may_poll refuses them before the owner is even told.
    std::lock_guard lk(mu_);
    for (const auto& s : sources) owned_sources_.erase(s);
  }
  if (!callbacks_.on_revoked) return;
  auto t0 = Clock::now();
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  std::thread worker([this, sources, done] {
    try {
      callbacks_.on_revoked(sources);
    } catch (const std::exception& e) {
      log_.error("coordination: on_revoked failed", {{"sources", sources}, {"error", e.what()}});
    }
    done->set_value();
  });
  // Keep the lease ticking while we wait: this thread is not stalled.
  while (finished.wait_for(kTick) != std::future_status::ready && Clock::now() - t0 < config_.handoff_timeout)
    tick_lease(Clock::now());  // a lapse is acted on after this handoff
  double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  metrics_.handoff_seconds.Observe(seconds);
  if (finished.wait_for(0s) == std::future_status::ready) {
    worker.join();
    return;
  }
  metrics_.handoff_overruns.Increment();
  log_.error("coordination: handoff outlasted coordination.handoff_timeout; releasing the sources anyway (their "
             "late commits are fenced by the new owner's transactional id)",
             {{"sources", sources}, {"handoff_timeout_ms", config_.handoff_timeout.count()}});
  late_handoff_ = std::move(worker);
}

bool Coordinator::may_poll(const std::string& source, Clock::time_point now) const {
  std::lock_guard lk(mu_);
  return lease_.valid(now) && owned_sources_.count(source) > 0;
}

bool Coordinator::may_poll(Clock::time_point now) const {
  std::lock_guard lk(mu_);
  return lease_.valid(now);
}

bool Coordinator::ready(Clock::time_point now) const {
  std::lock_guard lk(mu_);
  return lease_.valid(now) && !owned_partitions_.empty();
}

Coordinator::Clock::time_point Coordinator::lease_until() const {
  std::lock_guard lk(mu_);
  return lease_.until();
}

std::vector<std::string> Coordinator::owned() const {
  std::lock_guard lk(mu_);
  return {owned_sources_.begin(), owned_sources_.end()};
}

}  // namespace zf::coord
