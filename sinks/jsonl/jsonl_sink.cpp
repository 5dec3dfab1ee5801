// JSON-lines sink: one record per line (ECS JSON, or CEF with `encoding:
// cef`), to a file or stdout. A
// file's lines are fdatasync'ed before the batch is acknowledged, so an
// acknowledged event survives a crash of the process or the machine.
#include "jsonl/jsonl_sink.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "core/durable_file.h"
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
      : s_(std::move(s)),
        log_(ctx.log),
        name_(ctx.name),
        // close() past its timeout: a write blocked on a pipe or FIFO whose
        // reader stopped reading gives up, so close returns by its timeout.
        worker_([this](const Batch& b) { return deliver(b); }, [this] { aborted_ = true; }) {
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

  void encode_batch(const Batch& batch) {
    buf_.clear();
    for (const auto& r : batch.records) {
      buf_ += encode::encode(s_.encoding, r, scratch_);
      buf_ += '\n';
    }
  }

  // To a pipe, a terminal or stdout: written as the reader takes it; "" or why not.
  std::string write_stream() {
    size_t off = 0;
    while (off < buf_.size()) {
      // A pipe's reader may stop reading: wait for room in slices, so an
      // abort is noticed, and write no more than a pipe takes at once
      // when it reports room (PIPE_BUF), so the write itself never blocks.
      pollfd p{fd_, POLLOUT, 0};
      int ready = ::poll(&p, 1, 100);
      if (aborted_) return std::string("write to ") + s_.path + " abandoned: the reader stopped reading";
      if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
      ssize_t n = ::write(fd_, buf_.data() + off, std::min<size_t>(buf_.size() - off, PIPE_BUF));
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
    // stdout is never cut back, even when it is a file: the shell's
    // redirect may not append, and our own log may share it (2>&1).
    bool regular = s_.path != "-" && ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
    encode_batch(batch);
    if (regular) return append(st.st_size);
    std::string error = write_stream();
    if (error.empty()) return error;
    // A pipe or terminal cannot be cut back: end the partial line so the
    // records sent again start on a line of their own (unless its reader
    // stopped reading: the newline would block too).
    if (!aborted_) (void)!::write(fd_, "\n", 1);
    return error + " (check free space and permissions)";
  }

  // A batch that fails part way (a full disk) may leave complete lines and
  // a partial one. None of it was acknowledged and all of it is written
  // again, so the file goes back to exactly where the batch started: a retry
  // appended to a partial line would hide an acknowledged record inside a
  // line no reader can parse. If the cut itself fails, the sink stops for
  // good (Permanent): writing on would glue records to the partial line.
  std::string append(off_t start) {
    AppendResult r = append_or_cut_back(fd_, start, buf_, s_.fsync);
    if (r) {
      written_ += buf_.size();
      return {};
    }
    std::string why = (std::string_view(r.failed) == "write" ? "write to " + s_.path + " failed: "
                                                               : "fdatasync of " + s_.path + " failed: ") +
                      std::strerror(r.error) + " (check free space and permissions)";
    if (r.cut_back) {
      written_ = static_cast<uint64_t>(start);
      return why;
    }
    broken_ = "jsonl sink \"" + name_ + "\": " + why + "; then cutting " + s_.path + " back to " +
              std::to_string(start) + " bytes (where the failed batch began) failed: " + std::strerror(r.cut_error) +
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
  std::atomic<bool> aborted_{false};
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

namespace {

struct FileId {
  dev_t dev;
  ino_t ino;
  bool operator<(const FileId& o) const { return dev != o.dev ? dev < o.dev : ino < o.ino; }
  bool operator==(const FileId&) const = default;
};

// The file and its rotations by name (path, path.1, path.2, ...: every one
// present, gaps included: a rotation in progress leaves one), each with
// the file it names now.
std::map<std::string, FileId> list_rotations(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p(path), dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::string base = p.filename().string();
  std::map<std::string, FileId> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    bool ours = name == base;
    if (!ours && name.size() > base.size() + 1 && name.compare(0, base.size() + 1, base + ".") == 0)
      ours = std::all_of(name.begin() + static_cast<std::ptrdiff_t>(base.size()) + 1, name.end(),
                         [](unsigned char c) { return std::isdigit(c); });
    struct stat st {};
    if (ours && ::stat((dir / name).c_str(), &st) == 0 && S_ISREG(st.st_mode))
      out[(dir / name).string()] = {st.st_dev, st.st_ino};
  }
  if (ec) throw std::runtime_error("cannot list " + dir.string() + ": " + ec.message());
  return out;
}

struct OpenFiles {
  std::vector<std::pair<std::string, int>> fds;
  OpenFiles() = default;
  OpenFiles(const OpenFiles&) = delete;
  OpenFiles& operator=(const OpenFiles&) = delete;
  ~OpenFiles() { clear(); }
  void clear() {
    for (auto& [name, fd] : fds) ::close(fd);
    fds.clear();
  }
};

// Opens every file of the set as one instant saw it. The sink rotates by
// renames (path.N-1 -> path.N ... path -> path.1, then a new path) while
// verify may be reading: names taken once and opened one by one would
// read one file twice and skip another. So: list, open each, list again;
// when both listings agree and name the files opened, every name held its
// file from its open until the second listing (a rotation moves a file
// only to a higher number, never back), so at the last open the names
// held exactly the files held now, each once. Else some rotation moved in
// between: close and try again. Reading then goes by the descriptors, which
// keep their files whatever is renamed or removed meanwhile.
void open_snapshot(const std::string& path, OpenFiles& files) {
  for (int attempt = 0;; ++attempt) {
    files.clear();
    std::map<std::string, FileId> before = list_rotations(path), opened;
    std::set<FileId> distinct;
    bool moved = false;
    for (const auto& [name, id] : before) {
      int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        if (errno != ENOENT) throw std::runtime_error("cannot read " + name + ": " + std::strerror(errno));
        moved = true;  // removed by a rotation since the listing
        break;
      }
      files.fds.emplace_back(name, fd);
      struct stat st {};
      if (::fstat(fd, &st) != 0) throw std::runtime_error("cannot stat " + name + ": " + std::strerror(errno));
      opened[name] = {st.st_dev, st.st_ino};
      distinct.insert(opened[name]);
    }
    if (!moved && opened == before && distinct.size() == opened.size() && list_rotations(path) == before) {
      if (before.empty()) throw std::runtime_error(path + " does not exist");
      return;
    }
    if (attempt == 200)
      throw std::runtime_error(path + " kept rotating while it was being opened (200 attempts): try again");
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + attempt));
  }
}

// Every complete line of the open file. A last line without its newline is
// a write still in progress (or a torn one the sink cuts off at its next
// start): not a record the sink holds.
void each_line(const std::string& name, int fd, const RecordVisitor& each) {
  std::string buf(1 << 20, '\0');
  size_t have = 0;
  for (;;) {
    if (have == buf.size()) buf.resize(buf.size() * 2);
    ssize_t n = ::read(fd, buf.data() + have, buf.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("cannot read " + name + ": " + std::strerror(errno));
    if (n == 0) return;
    have += static_cast<size_t>(n);
    size_t start = 0;
    for (const char* nl; (nl = static_cast<const char*>(std::memchr(buf.data() + start, '\n', have - start)));) {
      size_t end = static_cast<size_t>(nl - buf.data());
      if (end > start) each(std::string_view(buf.data() + start, end - start));
      start = end + 1;
    }
    std::memmove(buf.data(), buf.data() + start, have - start);
    have -= start;
  }
}

}  // namespace

SinkReader reader(const ConfigNode& section) {
  std::string path = section.require_string("path");
  return [path](const std::string&, const RecordVisitor& each) {
    if (path == "-") throw std::runtime_error("records written to stdout cannot be read back");
    OpenFiles files;
    open_snapshot(path, files);
    for (const auto& [name, fd] : files.fds) each_line(name, fd, each);
  };
}

}  // namespace zf::sinks::jsonl
