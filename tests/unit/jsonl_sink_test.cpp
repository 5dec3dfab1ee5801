// The JSON-lines sink on a real file system.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "config/config_node.h"
#include "jsonl/jsonl_sink.h"
#include "log/logger.h"
#include "metrics/metrics.h"
#include "test_batches.h"
#include "test_dirs.h"

using namespace zf;
using zf::testing::make_batch;
using namespace std::chrono;
namespace fs = std::filesystem;
using zf::testing::temp_dir;

TEST_CASE("jsonl sink: one line per record, acknowledged after the write, rotated by size") {
  auto dir = temp_dir("jsonl");
  std::ostringstream logs;
  Logger log(logs);
  ProcessMetrics process_metrics("test");
  auto path = (dir / "out.jsonl").string();
  auto builder = sinks::jsonl::configure(
      ConfigNode::load_string("path: " + path + "\nrotate_bytes: 200\nrotate_keep: 3\n"));
  auto sink = builder(SinkContext{"file", log, process_metrics.registry()});
  std::atomic<int> delivered{0};
  for (uint64_t s = 1; s <= 4; ++s)
    sink->send(make_batch(s, 3), [&](Ack a) {
      if (a.status == DeliveryStatus::Delivered) ++delivered;
    });
  REQUIRE(sink->flush(seconds(5)));
  CHECK(delivered == 4);
  sink->close(seconds(1));
  size_t lines = 0;
  for (const auto& f : fs::directory_iterator(dir)) {
    std::ifstream in(f.path());
    std::string line;
    while (std::getline(in, line)) {
      CHECK(line.rfind("{\"event\"", 0) == 0);
      ++lines;
    }
  }
  CHECK(lines == 12);
  CHECK(fs::exists(path + ".1"));
  fs::remove_all(dir);
}

TEST_CASE("jsonl sink: a file that cannot be written is acknowledged Retriable with the reason") {
  std::ostringstream logs;
  Logger log(logs);
  ProcessMetrics process_metrics("test");
  auto builder = sinks::jsonl::configure(ConfigNode::load_string("path: /dev/full\nfsync: false\n"));
  auto sink = builder(SinkContext{"full", log, process_metrics.registry()});
  std::promise<Ack> got;
  sink->send(make_batch(1, 2), [&](Ack a) { got.set_value(a); });
  auto ack = got.get_future().get();
  CHECK(ack.status == DeliveryStatus::Retriable);
  CHECK(ack.error.find("No space left") != std::string::npos);
  sink->close(seconds(1));
}

TEST_CASE("jsonl sink (#13): encoding: cef writes one CEF event per line") {
  auto dir = temp_dir("jsonl-cef");
  std::ostringstream logs;
  Logger log(logs);
  ProcessMetrics process_metrics("test");
  auto path = (dir / "out.cef").string();
  auto sink = sinks::jsonl::configure(ConfigNode::load_string("path: " + path + "\nencoding: cef\n"))(
      SinkContext{"file", log, process_metrics.registry()});
  std::promise<Ack> got;
  sink->send(make_batch(7, 3), [&](Ack a) { got.set_value(a); });
  CHECK(got.get_future().get().status == DeliveryStatus::Delivered);
  sink->close(seconds(1));
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    CAPTURE(line);
    CHECK(line.rfind("CEF:0|Zendesk|Access Logs|2|access|", 0) == 0);
    CHECK(line.find("externalId=ID7_" + std::to_string(n)) != std::string::npos);
    ++n;
  }
  CHECK(n == 3);
  CHECK_THROWS_WITH_AS(sinks::jsonl::configure(ConfigNode::load_string("path: x\nencoding: ocsf\n")),
                       doctest::Contains("encoding: expected one of ecs_json, cef"), ConfigError);
  fs::remove_all(dir);
}

namespace {
// Lets the file grow to `bytes` at most (writes beyond fail with EFBIG, as
// on a full disk, after a short write), until destroyed.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &old_);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = old_;
    lim.rlim_cur = bytes;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  void (*old_handler_)(int) = nullptr;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
}  // namespace

TEST_CASE("jsonl sink (#27): a batch that fails part way is cut back out of the file before it is sent again") {
  auto dir = temp_dir("jsonl-cut");
  std::ostringstream logs;
  Logger log(logs);
  ProcessMetrics process_metrics("test");
  auto path = (dir / "out.jsonl").string();
  auto sink = sinks::jsonl::configure(ConfigNode::load_string("path: " + path + "\n"))(
      SinkContext{"file", log, process_metrics.registry()});
  auto send = [&](const BatchPtr& b) {
    std::promise<Ack> got;
    sink->send(b, [&](Ack a) { got.set_value(a); });
    return got.get_future().get();
  };
  REQUIRE(send(make_batch(1, 3)).status == DeliveryStatus::Delivered);
  std::string before = read_all(path);
  auto second = make_batch(2, 50);
  {
    // Room for one line of the next batch and part of another: the write
    // stops in the middle of a record.
    FileSizeLimit full(before.size() + 40);
    auto ack = send(second);
    CHECK(ack.status == DeliveryStatus::Retriable);
    CHECK(ack.error.find("File too large") != std::string::npos);
    CHECK(read_all(path) == before);
  }
  REQUIRE(send(second).status == DeliveryStatus::Delivered);
  sink->close(seconds(1));
  std::istringstream lines(read_all(path));
  std::string line;
  size_t n = 0;
  while (std::getline(lines, line)) {
    CAPTURE(line);
    std::string id = n < 3 ? "ID1_" + std::to_string(n) : "ID2_" + std::to_string(n - 3);
    CHECK(line == "{\"event\":{\"id\":\"" + id + "\"}}");
    ++n;
  }
  CHECK(n == 53);
  fs::remove_all(dir);
}

TEST_CASE("jsonl sink (#27): a rotation into a full disk leaves the rotated file whole and the new one empty") {
  auto dir = temp_dir("jsonl-rotate-full");
  std::ostringstream logs;
  Logger log(logs);
  ProcessMetrics process_metrics("test");
  auto path = (dir / "out.jsonl").string();
  auto sink = sinks::jsonl::configure(ConfigNode::load_string("path: " + path + "\nrotate_bytes: 100\n"))(
      SinkContext{"file", log, process_metrics.registry()});
  auto send = [&](const BatchPtr& b) {
    std::promise<Ack> got;
    sink->send(b, [&](Ack a) { got.set_value(a); });
    return got.get_future().get();
  };
  REQUIRE(send(make_batch(1, 5)).status == DeliveryStatus::Delivered);
  std::string first = read_all(path);
  REQUIRE(first.size() >= 100);
  auto second = make_batch(2, 5);
  {
    FileSizeLimit full(40);  // the new file takes one line and a half
    CHECK(send(second).status == DeliveryStatus::Retriable);
    CHECK(read_all(path + ".1") == first);
    CHECK(read_all(path).empty());
  }
  REQUIRE(send(second).status == DeliveryStatus::Delivered);
  sink->close(seconds(1));
  CHECK(read_all(path + ".1") == first);
  CHECK_FALSE(fs::exists(path + ".2"));
  std::string expected;
  for (int i = 0; i < 5; ++i) expected += "{\"event\":{\"id\":\"ID2_" + std::to_string(i) + "\"}}\n";
  CHECK(read_all(path) == expected);
  fs::remove_all(dir);
}

namespace {
// Sets or clears the file's append-only attribute (chattr +a): ftruncate
// then fails with EPERM while appends still work. False when the file
// system or the process's capabilities do not allow it.
bool set_append_only(const std::string& path, bool on) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  flags = on ? (flags | FS_APPEND_FL) : (flags & ~FS_APPEND_FL);
  ok = ok && ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  ::close(fd);
  return ok;
}
}  // namespace

TEST_CASE("jsonl sink (#27): when a failed batch cannot be cut back, the sink stops as Permanent") {
  auto dir = temp_dir("jsonl-nocut");
  std::ostringstream logs;
  Logger log(logs);
  ProcessMetrics process_metrics("test");
  auto path = (dir / "out.jsonl").string();
  auto sink = sinks::jsonl::configure(ConfigNode::load_string("path: " + path + "\n"))(
      SinkContext{"file", log, process_metrics.registry()});
  auto send = [&](const BatchPtr& b) {
    std::promise<Ack> got;
    sink->send(b, [&](Ack a) { got.set_value(a); });
    return got.get_future().get();
  };
  REQUIRE(send(make_batch(1, 3)).status == DeliveryStatus::Delivered);
  auto size = fs::file_size(path);
  if (!set_append_only(path, true)) {
    MESSAGE("skipped: cannot make a file append-only here (needs CAP_LINUX_IMMUTABLE and ext4/xfs/tmpfs)");
    sink->close(seconds(1));
    fs::remove_all(dir);
    return;
  }
  {
    FileSizeLimit full(size + 40);
    auto ack = send(make_batch(2, 50));
    CHECK(ack.status == DeliveryStatus::Permanent);
    CHECK(ack.error.find("back to " + std::to_string(size) + " bytes") != std::string::npos);
    CHECK(ack.error.find("Operation not permitted") != std::string::npos);
  }
  // Stopped for good: nothing more is appended to the partial line.
  auto grown = fs::file_size(path);
  CHECK(send(make_batch(3, 1)).status == DeliveryStatus::Permanent);
  CHECK(fs::file_size(path) == grown);
  sink->close(seconds(1));
  set_append_only(path, false);
  CHECK(logs.str().find("cannot cut a failed batch back") != std::string::npos);
  fs::remove_all(dir);
}
