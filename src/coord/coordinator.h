#pragma once
// Coordinator: this replica's membership in the group of replicas that share
// the accounts (sources) through Kafka (docs/KAFKA.md, "Coordination").
//
// It joins consumer group `group` on `control_topic` (P partitions, created
// if missing) with librdkafka's cooperative-sticky assignor, maps each
// account to a partition (account_map.h), and tells its owner which accounts
// it gained and lost. A join or leave moves only the partitions that must
// move; the others keep running through a rebalance.
//
//   Coordinator c(config, sources, {on_assigned, on_revoked}, metrics, log);
//   c.start();                    // joins; callbacks run on its own thread
//   ... before each request of account a: if (!c.may_poll(a, now)) stop a
//   c.stop();                     // on_revoked(all), leaves the group (SIGTERM)
//
// on_assigned(sources): start running them (their positions are read from
//   Kafka, read_committed: the previous owner committed before releasing).
//   Return promptly (start them, do not wait for them): the lease is not
//   ticked while it runs, and a callback longer than the lease lapses it.
// on_revoked(sources): stop fetching them, finish or abandon their in-flight
//   batches, commit their positions, then return. The coordinator waits up
//   to handoff_timeout, then releases the partitions anyway (counted in
//   handoff_overruns_total; the late owner's commits must then be fenced:
//   a transactional id per account). No callback starts before the previous
//   one returned. on_assigned runs on the coordinator's thread; on_revoked on
//   a helper thread the coordinator waits for (it keeps the lease ticking).
//   The accounts are already refused by may_poll() when on_revoked starts.
//
// The lease (lease.h): may_poll() is true only while the lease is valid, and
// the lease runs session_timeout - lease_margin from the last confirmation
// of membership; it is not renewed while librdkafka reports the assignment
// lost or every broker down (until the next assignment). When it lapses
// while owning accounts (a stalled process: SIGSTOP, a frozen VM; every
// broker unreachable; or the assignment lost) the
// coordinator revokes everything itself, then leaves and rejoins the group.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "coord/account_map.h"
#include "coord/coord_metrics.h"
#include "coord/coordination_config.h"
#include "coord/lease.h"
#include "log/logger.h"

struct rd_kafka_s;
struct rd_kafka_topic_partition_list_s;

namespace zf::coord {

struct CoordinatorCallbacks {
  std::function<void(std::vector<std::string> sources)> on_assigned;
  std::function<void(std::vector<std::string> sources)> on_revoked;
};

class Coordinator {
 public:
  using Clock = Lease::Clock;

  Coordinator(CoordinationConfig config, std::vector<std::string> sources, CoordinatorCallbacks callbacks,
              CoordMetrics& metrics, Logger& log);
  ~Coordinator();  // stop()
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Connects, creates the control topic if missing (a broker without the
  // CreateTopics API, like the test broker, must have it already), reads its
  // partition count and joins the group. Throws std::runtime_error saying
  // what failed when the topic cannot be found within `wait`.
  void start(std::chrono::milliseconds wait = std::chrono::seconds(30));
  // Revokes every owned account (on_revoked), leaves the group, joins the
  // thread. Idempotent.
  void stop();

  // May this replica poll `source` now? True only for an owned account while
  // the membership lease is valid. Any thread; cheap (a mutex, a set lookup).
  bool may_poll(const std::string& source, Clock::time_point now) const;
  // The lease alone (owns anything or not).
  bool may_poll(Clock::time_point now) const;
  // A member with an assignment and a valid lease: what /readyz reports.
  bool ready(Clock::time_point now) const;
  std::vector<std::string> owned() const;
  // When the lease runs out unless renewed (for tests and the logs).
  Clock::time_point lease_until() const;
  const AccountMap& map() const { return *map_; }

 private:
  friend struct RebalanceHook;
  void rebalance(int err, rd_kafka_topic_partition_list_s* parts);
  void run();
  void tick(Clock::time_point now);
  bool tick_lease(Clock::time_point now);  // true: the lease lapsed while owning accounts
  void handoff(std::vector<std::string> sources);  // on_revoked, bounded by handoff_timeout
  void lease_lapsed();
  std::vector<std::string> sources_of(const rd_kafka_topic_partition_list_s* parts) const;
  void publish_owned();
  rd_kafka_s* client(bool group_member);
  int topic_partitions(rd_kafka_s* rk, std::string& problem);  // 0 when the topic is not (yet) there
  void create_topic(rd_kafka_s* rk);

  CoordinationConfig config_;
  std::vector<std::string> sources_;
  CoordinatorCallbacks callbacks_;
  CoordMetrics& metrics_;
  Logger& log_;
  std::unique_ptr<AccountMap> map_;
  rd_kafka_s* rk_ = nullptr;
  std::thread thread_;
  std::thread late_handoff_;  // an on_revoked that outlasted its bound; joined before the next callback
  std::atomic<bool> stop_{false};
  std::atomic<bool> brokers_down_{false};  // librdkafka reported every broker down since the last assignment

  mutable std::mutex mu_;  // guards owned_partitions_, owned_sources_, lease_
  std::set<int> owned_partitions_;
  std::set<std::string> owned_sources_;
  Lease lease_;
};

}  // namespace zf::coord
