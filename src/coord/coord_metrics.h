#pragma once
// The coordinator's series (docs/KAFKA.md, "Coordination"), on the process
// registry, labelled with the consumer group:
//   zendesk_forwarder_coordination_accounts_owned       accounts this replica runs
//   zendesk_forwarder_coordination_accounts_configured  accounts in its config
//   zendesk_forwarder_coordination_account_owned{source}  1 here if this replica owns it, else 0;
//       an account nobody owns is one whose max over the replicas is 0
//       (alert ZendeskForwarderAccountUnowned); no replica can see that alone.
//   zendesk_forwarder_coordination_member               1 while a member with an assignment (readiness)
//   zendesk_forwarder_coordination_rebalances_total{event=assign|revoke|lost}
//   zendesk_forwarder_coordination_handoff_seconds      on_revoked: revocation to stopped and committed
//   zendesk_forwarder_coordination_handoff_overruns_total  handoffs that outlasted handoff_timeout
//   zendesk_forwarder_coordination_lease_lapses_total   times the lease ran out while owning accounts
#include <map>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace zf::coord {

class CoordMetrics {
 public:
  CoordMetrics(prometheus::Registry& registry, const std::string& group, const std::vector<std::string>& accounts);

  prometheus::Gauge& accounts_owned;
  prometheus::Gauge& accounts_configured;
  prometheus::Gauge& member;
  prometheus::Counter& rebalances_assign;
  prometheus::Counter& rebalances_revoke;
  prometheus::Counter& rebalances_lost;
  prometheus::Histogram& handoff_seconds;
  prometheus::Counter& handoff_overruns;
  prometheus::Counter& lease_lapses;

  // Sets account_owned for every configured account and accounts_owned.
  void set_owned(const std::vector<std::string>& owned);

 private:
  std::map<std::string, prometheus::Gauge*> account_owned_;
};

}  // namespace zf::coord
