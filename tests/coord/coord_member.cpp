// coord_member: one replica's Coordinator without the forwarder around it,
// for coordination_test.py. Its owner "runs" the accounts it is given: it
// prints what it may poll, as it would check before each request.
//
//   coord_member BROKERS GROUP TOPIC PARTITIONS SESSION_MS NAME ACCOUNT,ACCOUNT,...
//
// Lines on stdout (unix ms first):
//   <ms> <NAME> assigned|revoked <a,b,...>   (the callbacks)
//   <ms> <NAME> claim <a,b,...|->            (the accounts may_poll allows, on every change; checked every 20 ms)
//   <ms> <NAME> lease <unix ms>              (when the lease runs out, on every renewal by >= 250 ms)
//   <ms> <NAME> ahead <a,b,...|->            (on every change: the accounts may_poll would allow one
//                                             session timeout from now without a renewal; must stay "-")
// ZF_REVOKE_MS: how long on_revoked takes (default 50; the handoff timeout is 2 s).
// SIGTERM: stop() (revokes all, leaves the group), then exit; with
// ZF_METRICS_OUT set, the coordinator's series are written there first
// (taken while still a member) and again after stop().
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>
#include <fstream>

#include <prometheus/text_serializer.h>

#include "config/config_node.h"
#include "coord/coordinator.h"
#include "log/logger.h"
#include "metrics/metrics.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

long long unix_ms(std::chrono::system_clock::time_point t = std::chrono::system_clock::now()) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::mutex out_mu;
void emit(const std::string& name, const std::string& event, const std::vector<std::string>& items) {
  std::string list;
  for (const auto& s : items) list += (list.empty() ? "" : ",") + s;
  std::lock_guard lk(out_mu);
  std::printf("%lld %s %s %s\n", unix_ms(), name.c_str(), event.c_str(), list.empty() ? "-" : list.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: coord_member BROKERS GROUP TOPIC PARTITIONS SESSION_MS NAME ACCOUNT,ACCOUNT,...\n");
    return 2;
  }
  const std::string name = argv[6];
  std::vector<std::string> accounts;
  std::stringstream in(argv[7]);
  for (std::string a; std::getline(in, a, ',');) accounts.push_back(a);
  std::ostringstream yaml;
  yaml << "coordination: {enabled: true, brokers: '" << argv[1] << "', group: '" << argv[2] << "', control_topic: '"
       << argv[3] << "', partitions: " << argv[4] << ", session_timeout: " << argv[5] << "ms, handoff_timeout: 2s}\n";
  auto config = zf::coord::parse_coordination(zf::ConfigNode::load_string(yaml.str()).child("coordination"));

  zf::Logger log(std::cerr, zf::LogLevel::Info);
  zf::ProcessMetrics process("test");
  zf::coord::CoordMetrics metrics(process.registry(), config.group, accounts);
  zf::coord::CoordinatorCallbacks callbacks{
      [&](std::vector<std::string> s) { emit(name, "assigned", s); },
      [&](std::vector<std::string> s) {
        // The owner stops fetching and commits: a short while, or
        // ZF_REVOKE_MS (longer than the handoff timeout: an overrun).
        const char* ms = std::getenv("ZF_REVOKE_MS");
        std::this_thread::sleep_for(std::chrono::milliseconds(ms ? std::atoi(ms) : 50));
        emit(name, "revoked", s);
      }};
  zf::coord::Coordinator coordinator(config, accounts, callbacks, metrics, log);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  coordinator.start();

  std::vector<std::string> claimed{"<none yet>"}, ahead_claimed{"<none yet>"};
  long long lease_printed = 0;
  while (!g_stop) {
    auto now = zf::coord::Coordinator::Clock::now();
    std::vector<std::string> may;
    for (const auto& a : accounts)
      if (coordinator.may_poll(a, now)) may.push_back(a);
    if (may != claimed) {
      emit(name, "claim", may);
      claimed = may;
    }
    // What a replica stopped right now could still claim when its session
    // may have expired: nothing, whatever it owns.
    std::vector<std::string> ahead;
    for (const auto& a : accounts)
      if (coordinator.may_poll(a, now + config.session_timeout)) ahead.push_back(a);
    if (ahead != ahead_claimed) {
      emit(name, "ahead", ahead);
      ahead_claimed = ahead;
    }
    auto until = coordinator.lease_until();
    if (until > now) {
      long long until_ms = unix_ms(std::chrono::system_clock::now() +
                                   std::chrono::duration_cast<std::chrono::system_clock::duration>(until - now));
      if (until_ms - lease_printed >= 250) {
        std::lock_guard lk(out_mu);
        std::printf("%lld %s lease %lld\n", unix_ms(), name.c_str(), until_ms);
        std::fflush(stdout);
        lease_printed = until_ms;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto dump = [&](const std::string& suffix) {
    const char* out = std::getenv("ZF_METRICS_OUT");
    if (!out) return;
    prometheus::TextSerializer serializer;
    std::ofstream(std::string(out) + suffix) << serializer.Serialize(process.registry().Collect());
  };
  dump(".running");
  coordinator.stop();
  dump(".stopped");
  emit(name, "claim", {});
  emit(name, "stopped", {});
  return 0;
}
