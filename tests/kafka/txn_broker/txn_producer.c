/* txn_producer: a transactional producer driven by steps on the command
 * line, for txn_broker_test.sh. Built against the system librdkafka.
 *
 *   txn_producer BOOTSTRAP TOPIC PARTITIONS TRANSACTIONAL_ID STEP...
 *
 * Steps, run in order:
 *   init               init_transactions()
 *   commit:LABEL:N     begin, produce N records, commit
 *   abort:LABEL:N      begin, produce N records, flush (so they are in the
 *                      log, not purged from the queue by the abort), abort
 *   open:LABEL:N       begin, produce N records, flush, no end
 *   ready:FILE         create FILE (tells the test this point is reached)
 *   wait:FILE          wait (at most 60 s) until FILE exists
 *   commit-fenced      commit_transaction() must fail with a fatal
 *                      _FENCED error (a newer instance took the id)
 *   produce-fenced:LABEL:N  produce N more records in the open transaction:
 *                      all must fail, the producer fatally _FENCED
 * Record i of a step has value LABEL-i, key k<i>, partition i % PARTITIONS.
 * Prints one line per step; exits 0 only if every step did as expected. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int g_failed_deliveries = 0;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk, (void)opaque;
  if (m->err) {
    fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
    g_failed_deliveries++;
  }
}

/* Prints and frees ERROR; returns 0 when there was none. */
static int check(const char *what, rd_kafka_error_t *error) {
  if (!error) return 0;
  fprintf(stderr, "%s: %s (%s)%s\n", what, rd_kafka_error_string(error),
          rd_kafka_err2name(rd_kafka_error_code(error)), rd_kafka_error_is_fatal(error) ? " [fatal]" : "");
  rd_kafka_error_destroy(error);
  return 1;
}

static int produce(rd_kafka_t *rk, const char *topic, int partitions, const char *label, int n) {
  for (int i = 0; i < n; i++) {
    char key[32], value[160];
    snprintf(key, sizeof key, "k%d", i);
    snprintf(value, sizeof value, "%s-%d", label, i);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(i % partitions), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE(value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err) {
      fprintf(stderr, "produce %s: %s\n", value, rd_kafka_err2str(err));
      return 1;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s BOOTSTRAP TOPIC PARTITIONS TRANSACTIONAL_ID STEP...\n", argv[0]);
    return 2;
  }
  const char *topic = argv[2], *txn_id = argv[4];
  int partitions = atoi(argv[3]);
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof errstr) ||
      rd_kafka_conf_set(conf, "transactional.id", txn_id, errstr, sizeof errstr) ||
      rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof errstr)) {
    fprintf(stderr, "%s\n", errstr);
    return 2;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    fprintf(stderr, "rd_kafka_new: %s\n", errstr);
    return 2;
  }

  int failed = 0;
  for (int s = 5; s < argc && !failed; s++) {
    char step[256], label[128] = "";
    int n = 0;
    const char *arg = strchr(argv[s], ':');
    snprintf(step, sizeof step, "%.*s", arg ? (int)(arg - argv[s]) : (int)strlen(argv[s]), argv[s]);
    if (arg) sscanf(arg + 1, "%127[^:]:%d", label, &n);

    if (!strcmp(step, "init")) {
      failed = check("init_transactions", rd_kafka_init_transactions(rk, 30000));
    } else if (!strcmp(step, "commit") || !strcmp(step, "abort") || !strcmp(step, "open")) {
      failed = check("begin_transaction", rd_kafka_begin_transaction(rk)) || produce(rk, topic, partitions, label, n);
      if (!failed && strcmp(step, "commit") && rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "flush timed out\n");
        failed = 1;
      }
      if (!failed && !strcmp(step, "commit"))
        failed = check("commit_transaction", rd_kafka_commit_transaction(rk, 30000));
      else if (!failed && !strcmp(step, "abort"))
        failed = check("abort_transaction", rd_kafka_abort_transaction(rk, 30000));
      failed = failed || g_failed_deliveries > 0;
    } else if (!strcmp(step, "ready")) {
      FILE *f = fopen(arg + 1, "w");
      failed = !f || fclose(f) != 0;
    } else if (!strcmp(step, "wait")) {
      struct stat st;
      int waited_ms = 0;
      while (stat(arg + 1, &st) != 0 && waited_ms < 60000) usleep(50 * 1000), waited_ms += 50;
      failed = waited_ms >= 60000;
    } else if (!strcmp(step, "produce-fenced")) {
      char errbuf[512];
      rd_kafka_resp_err_t fatal;
      g_failed_deliveries = 0;
      failed = produce(rk, topic, partitions, label, n);
      rd_kafka_flush(rk, 30000);
      fatal = rd_kafka_fatal_error(rk, errbuf, sizeof errbuf);
      printf("produce-fenced: %d of %d deliveries failed, fatal error %s: %s\n", g_failed_deliveries, n,
             rd_kafka_err2name(fatal), fatal ? errbuf : "none");
      failed = failed || g_failed_deliveries != n || fatal != RD_KAFKA_RESP_ERR__FENCED;
    } else if (!strcmp(step, "commit-fenced")) {
      rd_kafka_error_t *error = rd_kafka_commit_transaction(rk, 30000);
      if (!error) {
        fprintf(stderr, "commit_transaction succeeded, expected a fatal _FENCED error\n");
        failed = 1;
      } else {
        int fenced = rd_kafka_error_is_fatal(error) && rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__FENCED;
        printf("commit-fenced: got %s%s: %s\n", rd_kafka_err2name(rd_kafka_error_code(error)),
               rd_kafka_error_is_fatal(error) ? " (fatal)" : " (not fatal)", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        failed = !fenced;
      }
    } else {
      fprintf(stderr, "unknown step %s\n", argv[s]);
      failed = 2;
    }
    printf("%s: %s\n", argv[s], failed ? "FAILED" : "ok");
    fflush(stdout);
  }
  rd_kafka_destroy(rk);
  return failed ? 1 : 0;
}
