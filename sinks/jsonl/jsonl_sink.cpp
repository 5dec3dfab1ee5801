// JSON-lines sink: one record per line (ECS JSON, or CEF with `encoding:
// cef`), to a file or stdout. A
// file's lines are fdatasync'ed before the batch is acknowledged, so an
// acknowledged event survives a crash of the process or the machine.
#include "jsonl/jsonl_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "encode/encoder.h"
#include "log/logger.h"
#include "util/serial_worker.h"

namespace zf::sinks::jsonl {

namespace {

struct Settings {
  std::string path;         // "-" = stdout
  uint64_t rotate_bytes = 0;
  int rotate_keep = 5;
  bool fsync = true;
  encode::Encoding encoding = encode::Encoding::EcsJson;
};

class JsonlSink final : public Sink {
 public:
  JsonlSink(Settings s, const SinkContext& ctx)
      : s_(std::move(s)), log_(ctx.log), name_(ctx.name), worker_([this](const Batch& b) { return deliver(b); }) {
    open_file();
  }
  ~JsonlSink() override { close(std::chrono::seconds(5)); }

  void send(BatchPtr batch, AckCallback on_ack) override { worker_.send(std::move(batch), std::move(on_ack)); }
  bool flush(std::chrono::milliseconds timeout) override { return worker_.flush(timeout); }
  void close(std::chrono::milliseconds timeout) override {
    worker_.close(timeout);
    if (fd_ > STDERR_FILENO) ::close(fd_);
    fd_ = -1;
  }

 private:
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
  // batch never straddles two files. If the new file cannot be opened, fd_
  // stays -1 and the next batch only retries the open: renaming again would
  // push one more file out of rotate_keep.
  void maybe_rotate() {
    if (s_.path == "-" || s_.rotate_bytes == 0 || written_ < s_.rotate_bytes) return;
    ::close(fd_);
    fd_ = -1;
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
      buf_ += encode::encode(s_.encoding, r, scratch_);
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

  std::string deliver(const Batch& batch) {
    if (!broken_.empty()) throw PermanentError(broken_);
    if (fd_ < 0) open_file();
    maybe_rotate();
    struct stat st {};
    bool regular = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
    off_t start = st.st_size;
    std::string error = write_batch(batch);
    if (error.empty()) return error;
    error += " (check free space and permissions)";
    if (!regular) {
      // A pipe or terminal cannot be cut back: end the partial line so the
      // records sent again start on a line of their own.
      (void)!::write(fd_, "\n", 1);
      return error;
    }
    cut_back(start, error);
    return error;
  }

  // A batch that failed part way (a full disk) may have left complete lines
  // and a partial one. None of it was acknowledged and all of it is written
  // again, so the file goes back to exactly where the batch started: a retry
  // appended to a partial line would hide an acknowledged record inside a
  // line no reader can parse. If the cut itself fails, the sink stops for
  // good (Permanent): writing on would glue records to the partial line.
  void cut_back(off_t start, const std::string& why) {
    if (::ftruncate(fd_, start) == 0 && (!s_.fsync || ::fdatasync(fd_) == 0 || errno == EINVAL)) {
      written_ = static_cast<uint64_t>(start);
      return;
    }
    broken_ = "jsonl sink \"" + name_ + "\": " + why + "; then cutting " + s_.path + " back to " +
              std::to_string(start) + " bytes (where the failed batch began) failed: " + std::strerror(errno) +
              ". Stopped so that no record is appended to a partial line; on restart the partial last line is "
              "removed and the batch written again";
    log_.error("jsonl sink cannot cut a failed batch back out of its file; stopping",
               {{"sink", name_}, {"path", s_.path}, {"offset", static_cast<int64_t>(start)}, {"error", broken_}});
    throw PermanentError(broken_);
  }

  Settings s_;
  Logger& log_;
  std::string name_;
  int fd_ = -1;
  uint64_t written_ = 0;
  std::string broken_;  // set when a failed batch could not be cut back: every later batch is Permanent
  std::string buf_;
  std::string scratch_;  // one encoded record, when the encoding is not the record itself
  SerialWorker worker_;  // last: its thread uses everything above
};

}  // namespace

SinkBuilder configure(const ConfigNode& section) {
  Settings s;
  s.path = section.require_string("path");
  s.encoding = encode::configure(section);
  s.rotate_bytes = static_cast<uint64_t>(section.get_int("rotate_bytes", 0, int64_t{1} << 50, 0));
  s.rotate_keep = static_cast<int>(section.get_int("rotate_keep", 1, 1000, 5));
  s.fsync = section.get_bool("fsync", true);
  if (s.path == "-" && s.rotate_bytes) section.fail("rotate_bytes", "rotation needs a file path, not stdout (\"-\")");
  return [s](const SinkContext& ctx) { return std::make_unique<JsonlSink>(s, ctx); };
}

SinkReader reader(const ConfigNode& section) {
  std::string path = section.require_string("path");
  return [path](const std::string&, const RecordVisitor& each) {
    if (path == "-") throw std::runtime_error("records written to stdout cannot be read back");
    namespace fs = std::filesystem;
    if (!fs::exists(path)) throw std::runtime_error(path + " does not exist");
    std::vector<std::string> files{path};
    for (int i = 1; fs::exists(path + "." + std::to_string(i)); ++i) files.push_back(path + "." + std::to_string(i));
    std::string line;
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      if (!in) throw std::runtime_error("cannot read " + f);
      while (std::getline(in, line))
        if (!line.empty()) each(line);
    }
  };
}

}  // namespace zf::sinks::jsonl
