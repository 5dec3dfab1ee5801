// kafka-mock-cluster: librdkafka's in-process Kafka protocol server as a
// process on loopback, so tests, the demo and benchmarks can produce to it
// and independent clients (kcat, python3-kafka) can consume from it.
//
//   kafka-mock-cluster [--brokers 3] [--topic NAME[:PARTITIONS[:REPLICATION]]]...
//                      [--bootstrap-file F] [--control FIFO]
//
// Prints the bootstrap address on stdout. Commands, one per line on the
// control FIFO: `down N|all`, `up N|all`, `errors COUNT ERROR_NAME` (the next
// COUNT Produce requests fail with that error, e.g. NOT_LEADER_FOR_PARTITION),
// `topic NAME PARTITIONS REPLICATION`. Runs until SIGTERM/SIGINT.
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;  // set by the signal handler only
void on_signal(int) { g_stop = 1; }

bool err_by_name(const std::string& name, rd_kafka_resp_err_t& out) {
  const rd_kafka_err_desc* descs;
  size_t n;
  rd_kafka_get_err_descs(&descs, &n);
  for (size_t i = 0; i < n; ++i)
    if (descs[i].name && (name == descs[i].name || "RD_KAFKA_RESP_ERR_" + name == descs[i].name ||
                          name == std::string(descs[i].name).substr(0))) {
      out = descs[i].code;
      return true;
    }
  return false;
}

// Leaders spread round-robin over the brokers, as Kafka assigns them: the
// mock's own choice can put most partitions of a topic on one broker, whose
// single thread then sets the pace (and differs from topic to topic).
void create_topic(rd_kafka_mock_cluster_t* mc, int brokers, const std::string& name, int partitions, int replication) {
  rd_kafka_mock_topic_create(mc, name.c_str(), partitions, replication);
  for (int p = 0; p < partitions; ++p) rd_kafka_mock_partition_set_leader(mc, name.c_str(), p, 1 + p % brokers);
}

std::string run_command(rd_kafka_mock_cluster_t* mc, int brokers, const std::string& line) {
  std::istringstream in(line);
  std::string cmd, arg;
  in >> cmd >> arg;
  auto each_broker = [&](bool up) {
    for (int b = 1; b <= brokers; ++b)
      if (arg == "all" || arg == std::to_string(b)) up ? rd_kafka_mock_broker_set_up(mc, b) : rd_kafka_mock_broker_set_down(mc, b);
    return std::string(up ? "up " : "down ") + arg;
  };
  if (cmd == "down") return each_broker(false);
  if (cmd == "up") return each_broker(true);
  if (cmd == "errors") {
    std::string name;
    in >> name;
    rd_kafka_resp_err_t err;
    if (!err_by_name(name, err)) return "unknown error name " + name;
    size_t count = std::stoul(arg);
    std::vector<rd_kafka_resp_err_t> errs(count, err);
    rd_kafka_mock_push_request_errors_array(mc, 0 /* Produce */, count, errs.data());
    return "pushed " + arg + " x " + name;
  }
  if (cmd == "rtt") {  // rtt all|N MS: each request answered MS later (a broker farther away)
    int ms = 0;
    in >> ms;
    for (int b = 1; b <= brokers; ++b)
      if (arg == "all" || arg == std::to_string(b)) rd_kafka_mock_broker_set_rtt(mc, b, ms);
    return "rtt " + arg + " " + std::to_string(ms) + " ms";
  }
  if (cmd == "topic") {
    int partitions = 1, replication = 1;
    in >> partitions >> replication;
    create_topic(mc, brokers, arg, partitions, replication);
    return "created " + arg;
  }
  return "unknown command: " + line;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 3;
  std::vector<std::string> topics;
  std::string bootstrap_file, control;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--brokers") brokers = std::stoi(value());
    else if (a == "--topic") topics.push_back(value());
    else if (a == "--bootstrap-file") bootstrap_file = value();
    else if (a == "--control") control = value();
    else {
      std::cerr << "usage: kafka-mock-cluster [--brokers N] [--topic NAME[:PARTITIONS[:REPLICATION]]]... "
                   "[--bootstrap-file F] [--control FIFO]\n";
      return 2;
    }
  }
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The mock cluster lives inside a client handle; this one never produces.
  if (rd_kafka_conf_set(conf, "test.mock.num.brokers", std::to_string(brokers).c_str(), err, sizeof err) !=
      RD_KAFKA_CONF_OK) {
    std::cerr << err << "\n";
    return 1;
  }
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::cerr << "cannot create the mock cluster: " << err << "\n";
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_handle_mock_cluster(rk);
  for (const auto& t : topics) {
    std::istringstream in(t);
    std::string name, p = "3", r = std::to_string(std::min(brokers, 3));
    std::getline(in, name, ':');
    std::getline(in, p, ':');
    std::getline(in, r, ':');
    create_topic(mc, brokers, name, std::stoi(p), std::stoi(r));
  }
  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
  std::cout << bootstrap << std::endl;
  if (!bootstrap_file.empty()) {
    std::ofstream(bootstrap_file + ".tmp") << bootstrap << "\n";
    std::rename((bootstrap_file + ".tmp").c_str(), bootstrap_file.c_str());
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  int fd = -1;
  if (!control.empty()) {
    mkfifo(control.c_str(), 0600);
    fd = open(control.c_str(), O_RDWR | O_NONBLOCK);  // RDWR: never sees EOF
  }
  std::string buffer;
  while (!g_stop) {
    if (fd < 0) {
      usleep(100 * 1000);
      continue;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char chunk[512];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) continue;
    buffer.append(chunk, static_cast<size_t>(n));
    for (size_t nl; (nl = buffer.find('\n')) != std::string::npos; buffer.erase(0, nl + 1))
      if (nl > 0) std::cerr << "kafka-mock-cluster: " << run_command(mc, brokers, buffer.substr(0, nl)) << std::endl;
  }
  if (fd >= 0) close(fd);
  rd_kafka_destroy(rk);
  return 0;
}
