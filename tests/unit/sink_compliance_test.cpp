// The sink contract (core/sink.h), checked the same way for every entry of
// the sink table (sinks/sink_registry): exactly one acknowledgement per
// send under its own seq, Delivered only once the receiver holds the
// records, flush and close bounded by their timeouts even when the receiver
// stalls, batches not delivered handed back Retriable by close, and a send
// after close answered Retriable.
//
// Sinks are built through the table (configure_all), so a new type is run
// here as soon as it has a fixture below; a type without one fails the
// first test case.
#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <prometheus/registry.h>

#include "config/config_node.h"
#include "kafka/kafka_settings.h"
#include "log/logger.h"
#include "sink_registry.h"
#include "syslog/relp.h"
#include "test_batches.h"
#include "test_dirs.h"
#include "test_net.h"

using namespace zf;
using namespace std::chrono;
using namespace std::chrono_literals;
using zf::testing::make_batch;

namespace {

std::vector<std::string> ids_of(const std::vector<BatchPtr>& batches) {
  std::vector<std::string> ids;
  for (const auto& b : batches)
    for (const auto& r : b->records) ids.push_back(r.event.id);
  return ids;
}

// How many of `ids` appear, quoted, in `text` (quoted so ID1_1 does not match ID1_10).
size_t quoted_ids_in(const std::string& text, const std::vector<std::string>& ids) {
  size_t n = 0;
  for (const auto& id : ids) n += text.find("\"" + id + "\"") != std::string::npos;
  return n;
}

// Acknowledgements as the pipeline sees them, from any thread.
struct Acks {
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, std::vector<Ack>> by_seq;
  steady_clock::time_point last_at;
  AckCallback callback() {
    return [this](Ack a) {
      std::lock_guard lock(mu);
      last_at = steady_clock::now();
      by_seq[a.seq].push_back(std::move(a));
      cv.notify_all();
    };
  }
  bool wait_for(size_t batches, milliseconds timeout) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return by_seq.size() >= batches; });
  }
  size_t delivered() {
    std::lock_guard lock(mu);
    size_t n = 0;
    for (auto& [seq, list] : by_seq)
      for (auto& a : list) n += a.status == DeliveryStatus::Delivered;
    return n;
  }
};

// A receiver on loopback (or a temp dir) for one sink entry.
class Receiver {
 public:
  virtual ~Receiver() = default;
  // The sink's entry in `sinks:`, as a YAML flow map with its type.
  virtual std::string entry() const = 0;
  // How many of `ids` the receiver holds, waiting up to `timeout` for
  // records still on their way (a stream read by a thread, a consumer).
  virtual size_t holds(const std::vector<std::string>& ids, milliseconds timeout) = 0;
  // Unsticks a stalled receiver so that a sink that failed to give up on
  // it can still be destroyed and the test can end.
  virtual void release() {}
};

// ---- jsonl: a file in a temp dir; stalled: a FIFO nobody reads ----

class JsonlFile final : public Receiver {
 public:
  explicit JsonlFile(bool stalled) : dir_(zf::testing::temp_dir(stalled ? "compliance-fifo" : "compliance-jsonl")) {
    path_ = (dir_ / "out.jsonl").string();
    if (stalled) {
      REQUIRE(::mkfifo(path_.c_str(), 0600) == 0);
      fifo_ = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK);  // a reader that never reads
      REQUIRE(fifo_ >= 0);
    }
  }
  ~JsonlFile() override {
    if (fifo_ >= 0) ::close(fifo_);
    std::filesystem::remove_all(dir_);
  }
  std::string entry() const override { return "{type: jsonl, path: " + path_ + "}"; }
  size_t holds(const std::vector<std::string>& ids, milliseconds) override {
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    return quoted_ids_in(text.str(), ids);
  }
  void release() override {
    char buf[65536];
    while (fifo_ >= 0 && ::read(fifo_, buf, sizeof buf) > 0) {
    }
  }

 private:
  std::filesystem::path dir_;
  std::string path_;
  int fifo_ = -1;
};

// ---- syslog: a TCP listener that keeps, answers RELP, or stalls ----

class LoopbackStream final : public Receiver {
 public:
  enum class Mode { Keep, Relp, Stall };
  LoopbackStream(Mode mode, std::string transport) : mode_(mode), transport_(std::move(transport)) {
    listen_fd_ = testing::listen_on_loopback(port_, 4, mode_ == Mode::Stall ? 4096 : 0);
    thread_ = std::thread([this] { run(); });
  }
  ~LoopbackStream() override {
    ::shutdown(listen_fd_, SHUT_RDWR);
    release();
    thread_.join();
    ::close(listen_fd_);
  }
  std::string entry() const override {
    return "{type: syslog, host: 127.0.0.1, port: " + std::to_string(port_) + ", transport: " + transport_ + "}";
  }
  size_t holds(const std::vector<std::string>& ids, milliseconds timeout) override {
    auto deadline = steady_clock::now() + timeout;
    for (;;) {
      size_t n;
      {
        std::lock_guard lock(mu_);
        n = quoted_ids_in(received_, ids);
      }
      if (n == ids.size() || steady_clock::now() >= deadline) return n;
      std::this_thread::sleep_for(10ms);
    }
  }
  void release() override {
    std::lock_guard lock(mu_);
    for (int c : conns_) ::shutdown(c, SHUT_RDWR);
    released_ = true;
  }

 private:
  void run() {
    std::vector<std::thread> readers;
    for (;;) {
      int c = ::accept(listen_fd_, nullptr, nullptr);
      if (c < 0) break;
      {
        std::lock_guard lock(mu_);
        conns_.push_back(c);
        if (released_) ::shutdown(c, SHUT_RDWR);
      }
      if (mode_ != Mode::Stall) readers.emplace_back([this, c] { serve(c); });
    }
    for (auto& t : readers) t.join();
    for (int c : conns_) ::close(c);
  }
  void serve(int c) {
    std::string in;
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(c, buf, sizeof buf, 0)) > 0) {
      if (mode_ == Mode::Keep) {
        std::lock_guard lock(mu_);
        received_.append(buf, static_cast<size_t>(n));
        continue;
      }
      in.append(buf, static_cast<size_t>(n));
      sinks::syslog::RelpFrame f;
      while (size_t used = sinks::syslog::parse_relp_frame(in, f)) {
        in.erase(0, used);
        std::string rsp = "200 OK";
        if (f.command == "open") rsp = "200 OK\nrelp_version=0\ncommands=syslog";
        if (f.command == "syslog") {
          std::lock_guard lock(mu_);  // kept before it is answered: an answered message is held
          received_ += f.data;
          received_ += '\n';
        }
        std::string out = std::to_string(f.txnr) + " rsp " + std::to_string(rsp.size()) + " " + rsp + "\n";
        ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      }
    }
  }

  Mode mode_;
  std::string transport_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::mutex mu_;
  std::vector<int> conns_;
  bool released_ = false;
  std::string received_;
  std::thread thread_;  // last
};

// ---- syslog over UDP: a socket that keeps every datagram ----

class LoopbackDatagrams final : public Receiver {
 public:
  LoopbackDatagrams() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    int bufsize = 8 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~LoopbackDatagrams() override { ::close(fd_); }
  std::string entry() const override {
    return "{type: syslog, host: 127.0.0.1, port: " + std::to_string(port_) + ", transport: udp}";
  }
  size_t holds(const std::vector<std::string>& ids, milliseconds) override {
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT)) > 0) received_.append(buf, static_cast<size_t>(n)) += '\n';
    return quoted_ids_in(received_, ids);
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::string received_;
};

// ---- kafka: librdkafka's in-process mock cluster ----

class MockKafka final : public Receiver {
 public:
  explicit MockKafka(bool stalled) {
    rk_ = sinks::kafka::new_client(RD_KAFKA_PRODUCER,
                                   sinks::kafka::to_conf({{"test.mock.num.brokers", "1"}, {"log_level", "0"}}));
    mc_ = rd_kafka_handle_mock_cluster(rk_);
    rd_kafka_mock_topic_create(mc_, "events", 1, 1);
    // A broker that takes the connection but answers nothing for a minute.
    if (stalled) rd_kafka_mock_broker_set_rtt(mc_, 1, 60'000);
  }
  ~MockKafka() override { rd_kafka_destroy(rk_); }
  std::string entry() const override {
    return std::string("{type: kafka, brokers: \"") + rd_kafka_mock_cluster_bootstraps(mc_) +
           "\", topic: events, message_timeout_ms: 30000}";
  }
  size_t holds(const std::vector<std::string>& ids, milliseconds timeout) override {
    rd_kafka_t* consumer = sinks::kafka::new_client(
        RD_KAFKA_CONSUMER, sinks::kafka::to_conf({{"bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc_)},
                                                  {"group.id", "compliance"},
                                                  {"log_level", "0"}}));
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, "events", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    std::set<std::string> wanted(ids.begin(), ids.end()), seen;
    auto deadline = steady_clock::now() + timeout;
    while (seen.size() < wanted.size() && steady_clock::now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 50);
      if (!m) continue;
      if (!m->err && m->key) {
        std::string key(static_cast<const char*>(m->key), m->key_len);
        if (wanted.count(key)) seen.insert(key);
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_destroy(consumer);  // no group to leave: assigned, not subscribed
    return seen.size();
  }

 private:
  rd_kafka_t* rk_;
  rd_kafka_mock_cluster_t* mc_;
};

// One way of running a sink type: a receiver that takes everything, and
// one that accepts but never reads or answers (nullptr when the transport
// cannot stall, with the reason).
struct Variant {
  std::string name;
  std::function<std::unique_ptr<Receiver>()> live;
  std::function<std::unique_ptr<Receiver>()> stalled;
  std::string why_no_stall = "";
  // Records of 1 kB in the first batch sent to the stalled receiver: more
  // than every buffer between them holds (a pipe 64 kB; TCP socket buffers
  // up to 4 MB here).
  size_t fill_records = 200;
};

// Every sink type of the table, with the receivers it is run against.
// Adding a sink type to the table without adding it here fails the test.
std::map<std::string, std::vector<Variant>> fixtures() {
  using Mode = LoopbackStream::Mode;
  return {
      {"jsonl",
       {{"jsonl (file; stalled: a FIFO nobody reads)", [] { return std::make_unique<JsonlFile>(false); },
         [] { return std::make_unique<JsonlFile>(true); }}}},
      {"kafka",
       {{"kafka (mock cluster; stalled: a broker that never answers)", [] { return std::make_unique<MockKafka>(false); },
         [] { return std::make_unique<MockKafka>(true); }}}},
      {"syslog",
       {{"syslog tcp", [] { return std::make_unique<LoopbackStream>(Mode::Keep, "tcp"); },
         [] { return std::make_unique<LoopbackStream>(Mode::Stall, "tcp"); }, "", 6000},
        {"syslog relp", [] { return std::make_unique<LoopbackStream>(Mode::Relp, "relp"); },
         [] { return std::make_unique<LoopbackStream>(Mode::Stall, "relp"); }},
        {"syslog udp", [] { return std::make_unique<LoopbackDatagrams>(); }, nullptr,
         "a datagram sent is all UDP can promise: no receiver can hold it back"}}},
  };
}

struct Built {
  std::ostringstream logs;
  Logger log{logs, LogLevel::Error};
  prometheus::Registry registry;
  std::unique_ptr<Sink> sink;
  explicit Built(const std::string& entry) {
    auto configured = sinks::configure_all(ConfigNode::load_string("sinks: [" + entry + "]"));
    REQUIRE(configured.size() == 1);
    sink = configured[0].build(SinkContext{configured[0].name, log, registry});
    REQUIRE(sink);
  }
};

// After close, a send is answered Retriable (at once or soon), never lost.
void check_send_after_close(Sink& sink) {
  Acks late;
  sink.send(make_batch(99, 1), late.callback());
  REQUIRE(late.wait_for(1, 1s));
  std::lock_guard lock(late.mu);
  REQUIRE(late.by_seq[99].size() == 1);
  CHECK(late.by_seq[99][0].status == DeliveryStatus::Retriable);
  CHECK_FALSE(late.by_seq[99][0].error.empty());
}

void check_live(const Variant& v) {
  auto rx = v.live();
  Built b(rx->entry());
  Sink& sink = *b.sink;
  std::vector<BatchPtr> batches;
  for (uint64_t seq = 1; seq <= 6; ++seq) batches.push_back(make_batch(seq, seq == 4 ? 0 : 15));
  Acks acks;
  // Sinks are shared by the sources' threads: send from two at once.
  std::thread other([&] {
    for (size_t i = 0; i < batches.size(); i += 2) sink.send(batches[i], acks.callback());
  });
  for (size_t i = 1; i < batches.size(); i += 2) sink.send(batches[i], acks.callback());
  other.join();

  auto t0 = steady_clock::now();
  REQUIRE(sink.flush(5s));
  CHECK(steady_clock::now() - t0 < 5s);
  {
    std::lock_guard lock(acks.mu);
    REQUIRE(acks.by_seq.size() == batches.size());  // no ack under an unknown seq
    for (auto& [seq, list] : acks.by_seq) {
      uint64_t batch = seq;
      CAPTURE(batch);
      REQUIRE(list.size() == 1);
      CHECK(list[0].status == DeliveryStatus::Delivered);
      CHECK(list[0].error.empty());
    }
  }
  // Delivered means the receiver holds every record.
  auto ids = ids_of(batches);
  CHECK(rx->holds(ids, 2s) == ids.size());

  // Nothing in flight: flush answers true at once.
  t0 = steady_clock::now();
  CHECK(sink.flush(100ms));
  CHECK(steady_clock::now() - t0 < 1000ms);  // idle: at once (a loaded machine may be slow to schedule)

  t0 = steady_clock::now();
  sink.close(1s);
  CHECK(steady_clock::now() - t0 < 1500ms);
  check_send_after_close(sink);
  std::lock_guard lock(acks.mu);
  for (auto& [seq, list] : acks.by_seq) CHECK(list.size() == 1);  // close acknowledged nothing twice
}

void check_stalled(const Variant& v) {
  auto rx = v.stalled();
  Built b(rx->entry());
  Sink& sink = *b.sink;
  Acks acks;
  sink.send(make_batch(1, v.fill_records, 1000), acks.callback());
  sink.send(make_batch(2, 10), acks.callback());

  auto t0 = steady_clock::now();
  CHECK_FALSE(sink.flush(100ms));
  auto flush_took = steady_clock::now() - t0;
  CHECK(flush_took < 1s);
  CHECK(acks.delivered() == 0);  // the receiver holds nothing

  constexpr auto close_timeout = 200ms;
  constexpr auto slack = 700ms;  // a loaded 2-core machine; a sink that waits on its receiver takes seconds
  t0 = steady_clock::now();
  auto closing = std::async(std::launch::async, [&] { sink.close(close_timeout); });
  bool returned = closing.wait_for(close_timeout + slack) == std::future_status::ready;
  if (!returned) {
    do rx->release();  // unstick the receiver where the fixture can, so the test ends
    while (closing.wait_for(10ms) != std::future_status::ready);
    auto close_took = duration_cast<milliseconds>(steady_clock::now() - t0);
    std::lock_guard lock(acks.mu);
    auto acked_after = duration_cast<milliseconds>(acks.last_at - t0).count();
    FAIL_CHECK("CONTRACT VIOLATION: close(" << close_timeout.count() << " ms) had not returned after "
                                            << (close_timeout + slack).count() << " ms with a stalled receiver; it returned after "
                                            << close_took.count() << " ms (last batch acknowledged after " << acked_after
                                            << " ms)");
  }
  {
    std::lock_guard lock(acks.mu);
    REQUIRE(acks.by_seq.size() == 2);  // close acknowledged every batch, none twice
    for (auto& [seq, list] : acks.by_seq) {
      uint64_t batch = seq;
      CAPTURE(batch);
      REQUIRE(list.size() == 1);
      CHECK(list[0].status != DeliveryStatus::Permanent);
      // Once release() let a stuck write through, Delivered is right.
      if (!returned) continue;
      CHECK(list[0].status == DeliveryStatus::Retriable);
      CHECK_FALSE(list[0].error.empty());
    }
  }
  check_send_after_close(sink);
}

}  // namespace

TEST_CASE("sink compliance: every type of the sink table has a fixture here") {
  auto known = fixtures();
  auto types = sinks::sink_types();
  REQUIRE_FALSE(types.empty());
  for (const auto& type : types) {
    CAPTURE(type);
    CHECK_MESSAGE(known.count(type) == 1,
                  "sink type \"" << type << "\" is in the sink table but tests/unit/sink_compliance_test.cpp has no "
                                 << "receiver for it: add one to fixtures()");
  }
  for (const auto& [type, variants] : known) {
    CAPTURE(type);
    CHECK_MESSAGE(std::find(types.begin(), types.end(), type) != types.end(), "fixture for a type not in the table");
  }
}

TEST_CASE("sink compliance: one Delivered ack per send, records held, flush and close bounded, send after close") {
  for (const auto& type : sinks::sink_types()) {
    auto known = fixtures();
    if (!known.count(type)) continue;  // failed by the test case above
    for (const auto& v : known[type]) {
      std::string variant = v.name;
      CAPTURE(variant);
      check_live(v);
    }
  }
}

TEST_CASE("sink compliance: a stalled receiver: nothing Delivered, flush and close bounded, batches back Retriable") {
  for (const auto& type : sinks::sink_types()) {
    auto known = fixtures();
    if (!known.count(type)) continue;
    for (const auto& v : known[type]) {
      std::string variant = v.name;
      CAPTURE(variant);
      if (!v.stalled) {
        MESSAGE(variant << ": no stalled receiver: " << v.why_no_stall);
        continue;
      }
      check_stalled(v);
    }
  }
}
