// Test helper: holds a Kafka transaction open, as another forwarder sharing
// a checkpoint topic does while its brokers are slow. Writes one record
// (KEY, "held") to TOPIC in a transaction, prints "open" once it is in the
// log, waits SECONDS, then aborts it (or commits with "commit").
//   hold_transaction BOOTSTRAP TOPIC KEY SECONDS [commit]
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

namespace {
int fail(const char* step, rd_kafka_error_t* e) {
  std::fprintf(stderr, "hold_transaction: %s: %s\n", step, e ? rd_kafka_error_string(e) : "failed");
  if (e) rd_kafka_error_destroy(e);
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: hold_transaction BOOTSTRAP TOPIC KEY SECONDS [commit]\n");
    return 2;
  }
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof err) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "transactional.id", "zf-test-holder", err, sizeof err) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "transaction.timeout.ms", "60000", err, sizeof err) != RD_KAFKA_CONF_OK) {
    std::fprintf(stderr, "hold_transaction: %s\n", err);
    return 1;
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "hold_transaction: %s\n", err);
    return 1;
  }
  if (rd_kafka_error_t* e = rd_kafka_init_transactions(rk, 30'000)) return fail("init_transactions", e);
  if (rd_kafka_error_t* e = rd_kafka_begin_transaction(rk)) return fail("begin_transaction", e);
  const char* value = "held";
  if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[2]), RD_KAFKA_V_KEY(argv[3], std::strlen(argv[3])),
                        RD_KAFKA_V_VALUE(const_cast<char*>(value), std::strlen(value)), RD_KAFKA_V_END))
    return fail("produce", nullptr);
  if (rd_kafka_flush(rk, 30'000)) return fail("flush", nullptr);
  std::printf("open\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(std::stoi(argv[4])));
  bool commit = argc > 5 && std::string(argv[5]) == "commit";
  if (rd_kafka_error_t* e = commit ? rd_kafka_commit_transaction(rk, 30'000) : rd_kafka_abort_transaction(rk, 30'000))
    return fail(commit ? "commit_transaction" : "abort_transaction", e);
  rd_kafka_destroy(rk);
  return 0;
}
