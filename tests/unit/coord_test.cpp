// Coordination (#30): the account -> partition map, the `coordination:`
// section, the membership lease.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "config/config_node.h"
#include "coord/account_map.h"
#include "coord/coordination_config.h"
#include "coord/lease.h"

using namespace zf;
using namespace zf::coord;
using namespace std::chrono_literals;

TEST_CASE("coord: FNV-1a 64 is the published function (the map must not change between versions)") {
  // Reference values of FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
  CHECK(fnv1a64("") == 0xcbf29ce484222325ull);
  CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cull);
  CHECK(fnv1a64("foobar") == 0x85944171f73967e8ull);
}

TEST_CASE("coord: no more accounts than partitions: each account on a partition of its own, by hash") {
  std::vector<std::string> accounts;
  for (int i = 0; i < 30; ++i) accounts.push_back("acct-" + std::to_string(i));
  AccountMap m(accounts, 30);
  std::set<int> used;
  for (const auto& a : accounts) {
    int p = m.partition_of(a);
    CHECK(p >= 0);
    CHECK(p < 30);
    used.insert(p);
    CHECK(m.accounts_of(p) == std::vector<std::string>{a});
  }
  CHECK(used.size() == 30);  // a bijection: balancing partitions balances accounts
  // An account that collides with none stays on its preferred partition.
  AccountMap single({"acme"}, 64);
  CHECK(single.partition_of("acme") == static_cast<int>(fnv1a64("acme") % 64));
  CHECK(single.partition_of("unknown") == -1);
  CHECK(single.accounts_of(64).empty());
}

TEST_CASE("coord: the map depends only on the set of names and P, never on their order") {
  std::vector<std::string> a{"zeta", "acme", "beta", "gamma", "delta", "omega", "kappa"};
  std::vector<std::string> b(a.rbegin(), a.rend());
  b.push_back("acme");  // a duplicate counts once
  AccountMap ma(a, 8), mb(b, 8);
  for (const auto& x : a) CHECK(ma.partition_of(x) == mb.partition_of(x));
  CHECK(ma.accounts().size() == 7);
}

TEST_CASE("coord: an added account moves only accounts in its probe chain") {
  std::vector<std::string> accounts;
  for (int i = 0; i < 40; ++i) accounts.push_back("t" + std::to_string(i));
  AccountMap before(accounts, 64);
  accounts.push_back("newcomer");
  AccountMap after(accounts, 64);
  int moved = 0;
  for (int i = 0; i < 40; ++i) moved += before.partition_of("t" + std::to_string(i)) != after.partition_of("t" + std::to_string(i));
  CHECK(moved <= 3);
}

TEST_CASE("coord: more accounts than partitions: h mod P, every partition used about evenly") {
  std::vector<std::string> accounts;
  for (int i = 0; i < 1000; ++i) accounts.push_back("sub" + std::to_string(i));
  AccountMap m(accounts, 8);
  std::map<int, int> per;
  for (const auto& a : accounts) {
    CHECK(m.partition_of(a) == static_cast<int>(fnv1a64(a) % 8));
    ++per[m.partition_of(a)];
  }
  CHECK(per.size() == 8);
  for (auto [p, n] : per) CHECK(n > 80);  // 125 expected
  CHECK_THROWS(AccountMap({"a"}, 0));
}

namespace {
std::string coord_error(const std::string& yaml) {
  try {
    parse_coordination(ConfigNode::load_string(yaml).child("coordination"));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("coord: the coordination section, defaults and validation naming the key") {
  auto absent = parse_coordination(ConfigNode::load_string("sinks: []\n").child("coordination"));
  CHECK_FALSE(absent.enabled);

  auto c = parse_coordination(ConfigNode::load_string("coordination: {enabled: true, brokers: 'k:9092'}\n").child("coordination"));
  CHECK(c.enabled);
  CHECK(c.brokers == "k:9092");
  CHECK(c.group == "zendesk-forwarder");
  CHECK(c.control_topic == "zendesk-forwarder.coordination");
  CHECK(c.partitions == 64);
  CHECK(c.session_timeout == 10s);
  CHECK(c.lease_margin == 3s);  // 30 % of the session
  CHECK(c.lease() == 7s);
  CHECK(c.heartbeat_interval == 1s);
  CHECK(c.handoff_timeout == 5s);

  auto t = parse_coordination(ConfigNode::load_string(
      "coordination: {enabled: true, brokers: b, group: g, control_topic: ctl, partitions: 12, session_timeout: 6s, "
      "lease_margin: 2s, handoff_timeout: 3s, properties: {security.protocol: plaintext}}\n").child("coordination"));
  CHECK(t.partitions == 12);
  CHECK(t.lease() == 4s);
  CHECK(t.heartbeat_interval == std::chrono::milliseconds(666));
  CHECK(t.properties.at("security.protocol") == "plaintext");

  struct Case {
    std::string yaml, key, expect;
  };
  std::vector<Case> cases{
      {"{enabled: true}", "coordination.brokers", ""},
      {"{enabled: true, brokers: b, partitions: 0}", "coordination.partitions", ""},
      {"{enabled: true, brokers: b, group: ''}", "coordination.group", "must not be empty"},
      {"{enabled: true, brokers: b, control_topic: 'a b'}", "coordination.control_topic", "not a Kafka topic name"},
      {"{enabled: true, brokers: b, session_timeout: 1s}", "coordination.session_timeout", ""},
      {"{enabled: true, brokers: b, session_timeout: 6s, lease_margin: 4s}", "coordination.lease_margin", "half of session_timeout"},
      {"{enabled: true, brokers: b, handoff_timeout: 20m}", "coordination.handoff_timeout", ""},
      {"{enabled: true, brokers: b, properties: {group.id: x}}", "coordination.properties.group.id", "set by the coordinator"},
      {"{enabled: true, brokers: b, properties: {no.such.property: x}}", "coordination.properties.no.such.property", "librdkafka rejects"},
      {"{enabled: yes-please}", "coordination.enabled", ""},
  };
  for (const auto& k : cases) {
    CAPTURE(k.yaml);
    auto e = coord_error("coordination: " + k.yaml + "\n");
    CHECK(e.find(k.key) != std::string::npos);
    CHECK(e.find(k.expect) != std::string::npos);
  }
}

TEST_CASE("coord: the lease runs from the last steady tick and a stall never renews it") {
  using C = Lease::Clock;
  Lease lease(7s, 1s);
  C::time_point t0 = C::now();
  CHECK_FALSE(lease.valid(t0));
  CHECK_FALSE(lease.tick(t0, true));  // the first tick has nothing to compare with
  CHECK(lease.tick(t0 + 100ms, true));
  CHECK(lease.valid(t0 + 7s));
  CHECK_FALSE(lease.valid(t0 + 7100ms));
  // Not a member (librdkafka says the assignment is lost): no renewal.
  CHECK_FALSE(lease.tick(t0 + 200ms, false));
  CHECK(lease.until() == t0 + 7100ms);
  // The process stopped for 8 s (SIGSTOP): on resuming, the stale state
  // must not renew it, and it has lapsed already.
  C::time_point resumed = t0 + 8200ms;
  CHECK_FALSE(lease.tick(resumed, true));
  CHECK_FALSE(lease.valid(resumed));
  // A stall shorter than the lease: still valid, not renewed by that tick,
  // renewed by the next steady one.
  Lease l2(7s, 1s);
  l2.tick(t0, true);
  l2.tick(t0 + 100ms, true);
  CHECK_FALSE(l2.tick(t0 + 3s, true));
  CHECK(l2.valid(t0 + 3s));
  CHECK(l2.until() == t0 + 7100ms);
  CHECK(l2.tick(t0 + 3100ms, true));
  CHECK(l2.until() == t0 + 10100ms);
  // An assignment handled late after a stall does not confirm either.
  l2.confirm(t0 + 9s);
  CHECK(l2.until() == t0 + 10100ms);
  l2.confirm(t0 + 3200ms);
  CHECK(l2.until() == t0 + 10200ms);
  l2.drop();
  CHECK_FALSE(l2.valid(t0 + 3300ms));
}
