// JSON-lines sink: one compact record per line, to a file or stdout. A
// file's lines are fdatasync'ed before the batch is acknowledged, so an
// acknowledged event survives a crash of the process or the machine.
#include "jsonl/jsonl_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "log/logger.h"

namespace zf::sinks::jsonl {

namespace {

struct Settings {
  std::string path;         // "-" = stdout
  uint64_t rotate_bytes = 0;
  int rotate_keep = 5;
  bool fsync = true;
};

class JsonlSink final : public Sink {
 public:
  JsonlSink(Settings s, const SinkContext& ctx) : s_(std::move(s)), log_(ctx.log), name_(ctx.name) {
    open_file();
    worker_ = std::thread([this] { run(); });
  }
  ~JsonlSink() override { close(std::chrono::seconds(5)); }

  void send(BatchPtr batch, AckCallback on_ack) override {
    {
      std::lock_guard lock(mu_);
      queue_.push_back({std::move(batch), std::move(on_ack)});
    }
    cv_.notify_all();
  }

  bool flush(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mu_);
    return idle_cv_.wait_for(lock, timeout, [&] { return queue_.empty() && !busy_; });
  }

  void close(std::chrono::milliseconds timeout) override {
    flush(timeout);
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    for (auto& item : queue_) item.ack(Ack{item.batch->seq, DeliveryStatus::Retriable, "sink closed before writing"});
    queue_.clear();
    if (fd_ > STDERR_FILENO) ::close(fd_);
    fd_ = -1;
  }

 private:
  struct Item {
    BatchPtr batch;
    AckCallback ack;
  };

  void open_file() {
    if (s_.path == "-") {
      fd_ = STDOUT_FILENO;
      return;
    }
    fd_ = ::open(s_.path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd_ < 0)
      throw std::runtime_error("jsonl sink \"" + name_ + "\": cannot open " + s_.path + ": " + std::strerror(errno));
    off_t end = ::lseek(fd_, 0, SEEK_END);
    written_ = end > 0 ? static_cast<uint64_t>(end) : 0;
    repair_torn_tail(end);
  }

  // A crash in the middle of a write can leave a partial last line. Those
  // bytes were never acknowledged (the batch is fetched again), so cut them
  // off rather than glue the next record onto them.
  void repair_torn_tail(off_t end) {
    if (end <= 0) return;
    char last = 0;
    if (::pread(fd_, &last, 1, end - 1) != 1 || last == '\n') return;
    off_t cut = end;
    char buf[4096];
    while (cut > 0) {
      off_t from = std::max<off_t>(0, cut - static_cast<off_t>(sizeof buf));
      ssize_t n = ::pread(fd_, buf, static_cast<size_t>(cut - from), from);
      if (n <= 0) return;
      const char* nl = static_cast<const char*>(memrchr(buf, '\n', static_cast<size_t>(n)));
      if (nl) {
        cut = from + (nl - buf) + 1;
        break;
      }
      cut = from;
    }
    if (::ftruncate(fd_, cut) == 0) {
      log_.warn("removed a partial last line left by an interrupted write (it was never acknowledged and will be "
                "written again)",
                {{"sink", name_}, {"path", s_.path}, {"bytes", end - cut}});
      written_ = static_cast<uint64_t>(cut);
    }
  }

  // Renames path -> path.1 -> path.2 ... (keeping rotate_keep files) once
  // the current file has reached rotate_bytes; done between batches so a
  // batch never straddles two files.
  void maybe_rotate() {
    if (s_.path == "-" || s_.rotate_bytes == 0 || written_ < s_.rotate_bytes) return;
    ::close(fd_);
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::remove(s_.path + "." + std::to_string(s_.rotate_keep), ec);
    for (int i = s_.rotate_keep - 1; i >= 1; --i)
      fs::rename(s_.path + "." + std::to_string(i), s_.path + "." + std::to_string(i + 1), ec);
    fs::rename(s_.path, s_.path + ".1", ec);
    open_file();
  }

  std::string write_batch(const Batch& batch) {
    buf_.clear();
    for (const auto& r : batch.records) {
      buf_ += r.json;
      buf_ += '\n';
    }
    size_t off = 0;
    while (off < buf_.size()) {
      ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return std::string("write to ") + s_.path + " failed: " + std::strerror(errno);
      }
      off += static_cast<size_t>(n);
    }
    written_ += buf_.size();
    // fdatasync on a pipe or terminal fails with EINVAL: nothing to sync.
    if (s_.fsync && ::fdatasync(fd_) != 0 && errno != EINVAL && errno != EROFS)
      return std::string("fdatasync of ") + s_.path + " failed: " + std::strerror(errno);
    return {};
  }

  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
      if (queue_.empty()) return;
      Item item = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      std::string error;
      try {
        maybe_rotate();
        error = write_batch(*item.batch);
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (!error.empty()) {
        // A short write may have left a partial line: start the retry on a
        // fresh line so the file stays one record per line.
        if (fd_ >= 0) (void)!::write(fd_, "\n", 1);
        item.ack(Ack{item.batch->seq, DeliveryStatus::Retriable, error + " (check free space and permissions)"});
      } else {
        item.ack(Ack{item.batch->seq, DeliveryStatus::Delivered, ""});
      }
      lock.lock();
      busy_ = false;
      idle_cv_.notify_all();
    }
  }

  Settings s_;
  Logger& log_;
  std::string name_;
  int fd_ = -1;
  uint64_t written_ = 0;
  std::string buf_;
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Item> queue_;
  bool busy_ = false;
  bool closed_ = false;
  std::thread worker_;
};

}  // namespace

SinkBuilder configure(const ConfigNode& section) {
  Settings s;
  s.path = section.require_string("path");
  s.rotate_bytes = static_cast<uint64_t>(section.get_int("rotate_bytes", 0, int64_t{1} << 50, 0));
  s.rotate_keep = static_cast<int>(section.get_int("rotate_keep", 1, 1000, 5));
  s.fsync = section.get_bool("fsync", true);
  if (s.path == "-" && s.rotate_bytes) section.fail("rotate_bytes", "rotation needs a file path, not stdout (\"-\")");
  return [s](const SinkContext& ctx) { return std::make_unique<JsonlSink>(s, ctx); };
}

}  // namespace zf::sinks::jsonl
