#include "coord/coord_metrics.h"

#include <set>

#include <prometheus/family.h>

namespace zf::coord {

namespace {

prometheus::Gauge& gauge(prometheus::Registry& r, const std::string& name, const std::string& help,
                         const prometheus::Labels& labels) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add(labels);
}

prometheus::Counter& counter(prometheus::Registry& r, const std::string& name, const std::string& help,
                             const prometheus::Labels& labels) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add(labels);
}

}  // namespace

CoordMetrics::CoordMetrics(prometheus::Registry& r, const std::string& group, const std::vector<std::string>& accounts)
    : accounts_owned(gauge(r, "zendesk_forwarder_coordination_accounts_owned",
                           "Accounts this replica owns and runs", {{"group", group}})),
      accounts_configured(gauge(r, "zendesk_forwarder_coordination_accounts_configured",
                                "Accounts in this replica's config (shared by the group)", {{"group", group}})),
      member(gauge(r, "zendesk_forwarder_coordination_member",
                   "1 while this replica is a group member with an assignment", {{"group", group}})),
      rebalances_assign(counter(r, "zendesk_forwarder_coordination_rebalances_total",
                                "Rebalance events by kind (assign, revoke, lost)", {{"group", group}, {"event", "assign"}})),
      rebalances_revoke(counter(r, "zendesk_forwarder_coordination_rebalances_total",
                                "Rebalance events by kind (assign, revoke, lost)", {{"group", group}, {"event", "revoke"}})),
      rebalances_lost(counter(r, "zendesk_forwarder_coordination_rebalances_total",
                              "Rebalance events by kind (assign, revoke, lost)", {{"group", group}, {"event", "lost"}})),
      handoff_seconds(prometheus::BuildHistogram()
                          .Name("zendesk_forwarder_coordination_handoff_seconds")
                          .Help("Seconds from a revocation to its accounts stopped and committed")
                          .Register(r)
                          .Add({{"group", group}},
                               prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})),
      handoff_overruns(counter(r, "zendesk_forwarder_coordination_handoff_overruns_total",
                               "Handoffs that outlasted coordination.handoff_timeout", {{"group", group}})),
      lease_lapses(counter(r, "zendesk_forwarder_coordination_lease_lapses_total",
                           "Times the membership lease ran out while owning accounts (stalled process, lost session)",
                           {{"group", group}})) {
  auto& family = prometheus::BuildGauge()
                     .Name("zendesk_forwarder_coordination_account_owned")
                     .Help("1 if this replica owns the account; an account is unowned when every replica says 0")
                     .Register(r);
  for (const auto& a : accounts) account_owned_[a] = &family.Add({{"group", group}, {"source", a}});
  accounts_configured.Set(static_cast<double>(account_owned_.size()));
}

void CoordMetrics::set_owned(const std::vector<std::string>& owned) {
  std::set<std::string> mine(owned.begin(), owned.end());
  for (auto& [a, g] : account_owned_) g->Set(mine.count(a) ? 1 : 0);
  accounts_owned.Set(static_cast<double>(mine.size()));
}

}  // namespace zf::coord
