// group_member: one consumer-group member with librdkafka's cooperative-sticky
// assignor, printing every rebalance event, so consumer_group_test.py can
// test what the coordination relies on in the test broker (join, incremental
// scale-up, a killed or stopped member's partitions reassigned).
//
//   group_member BROKERS GROUP TOPIC SESSION_MS NAME
//
// Lines on stdout, one per event, the time first (unix ms):
//   <ms> <NAME> assign|revoke|lost <p,p,...>     (a rebalance callback)
//   <ms> <NAME> owned <p,p,...>                  (the assignment after it)
//   <ms> <NAME> error <text>                     (an error event)
// Runs until SIGTERM (then closes: leaves the group).
#include <librdkafka/rdkafka.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct State {
  const char* name;
  std::set<int> owned;
};

std::string list(const rd_kafka_topic_partition_list_t* parts) {
  std::string s;
  for (int i = 0; i < parts->cnt; ++i) s += (i ? "," : "") + std::to_string(parts->elems[i].partition);
  return s.empty() ? "-" : s;
}

void print_owned(State& st) {
  std::string s;
  for (int p : st.owned) s += (s.empty() ? "" : ",") + std::to_string(p);
  std::printf("%lld %s owned %s\n", now_ms(), st.name, s.empty() ? "-" : s.c_str());
  std::fflush(stdout);
}

void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto& st = *static_cast<State*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    std::printf("%lld %s assign %s\n", now_ms(), st.name, list(parts).c_str());
    if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, parts)) {
      std::printf("%lld %s error incremental_assign: %s\n", now_ms(), st.name, rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
    for (int i = 0; i < parts->cnt; ++i) st.owned.insert(parts->elems[i].partition);
  } else {
    std::printf("%lld %s %s %s\n", now_ms(), st.name, rd_kafka_assignment_lost(rk) ? "lost" : "revoke",
                list(parts).c_str());
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts)) {
      std::printf("%lld %s error incremental_unassign: %s\n", now_ms(), st.name, rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
    for (int i = 0; i < parts->cnt; ++i) st.owned.erase(parts->elems[i].partition);
  }
  print_owned(st);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: group_member BROKERS GROUP TOPIC SESSION_MS NAME\n");
    return 2;
  }
  State st{argv[5], {}};
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  int session = std::atoi(argv[4]);
  const std::string heartbeat = std::to_string(std::max(100, session / 4));
  const char* props[][2] = {{"bootstrap.servers", argv[1]},
                            {"group.id", argv[2]},
                            {"partition.assignment.strategy", "cooperative-sticky"},
                            {"session.timeout.ms", argv[4]},
                            {"heartbeat.interval.ms", heartbeat.c_str()},
                            {"enable.auto.commit", "false"},
                            {"log_level", "3"}};
  for (auto& p : props)
    if (rd_kafka_conf_set(conf, p[0], p[1], err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "%s: %s\n", p[0], err);
      return 2;
    }
  rd_kafka_conf_set_rebalance_cb(conf, rebalance);
  rd_kafka_conf_set_opaque(conf, &st);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "rd_kafka_new: %s\n", err);
    return 1;
  }
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, argv[3], RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics)) {
    std::fprintf(stderr, "subscribe: %s\n", rd_kafka_err2str(e));
    return 1;
  }
  rd_kafka_topic_partition_list_destroy(topics);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  std::printf("%lld %s started\n", now_ms(), st.name);
  std::fflush(stdout);
  while (!g_stop) {
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100)) {
      if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::printf("%lld %s error %s\n", now_ms(), st.name, rd_kafka_message_errstr(m));
        std::fflush(stdout);
      }
      rd_kafka_message_destroy(m);
    }
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  std::printf("%lld %s closed\n", now_ms(), st.name);
  return 0;
}
