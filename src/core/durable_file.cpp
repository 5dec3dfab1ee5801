#include "core/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace zf {

void write_all(int fd, std::string_view data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

ReplacingFile::ReplacingFile(std::string path, std::string suffix, mode_t mode)
    : path_(std::move(path)), temp_(path_ + suffix) {
  if (::unlink(temp_.c_str()) != 0 && errno != ENOENT)
    throw std::runtime_error("unlink of the stale temp file failed for " + temp_ + ": " + std::strerror(errno));
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd_ < 0) throw std::runtime_error("open failed for " + temp_ + ": " + std::strerror(errno));
}

ReplacingFile::~ReplacingFile() {
  if (fd_ < 0) return;
  ::close(fd_);
  ::unlink(temp_.c_str());
}

void ReplacingFile::commit() {
  auto fail = [&](const char* step) {
    int saved = errno;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    ::unlink(temp_.c_str());
    return std::runtime_error(std::string(step) + " failed for " + temp_ + ": " + std::strerror(saved));
  };
  if (::fsync(fd_) != 0) throw fail("fsync");
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw fail("close");
  if (::rename(temp_.c_str(), path_.c_str()) != 0) throw fail("rename");
  std::string dir = std::filesystem::path(path_).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void replace_file(const std::string& path, std::string_view data) {
  ReplacingFile file(path);
  file.write(data);
  file.commit();
}

namespace {

bool synced(int fd) { return ::fdatasync(fd) == 0 || errno == EINVAL || errno == EROFS; }

}  // namespace

AppendResult append_or_cut_back(int fd, off_t start, std::string_view data, bool sync) {
  AppendResult r;
  for (size_t done = 0; done < data.size() && !r.failed;) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) r = {"write", n == 0 ? ENOSPC : errno};
    else done += static_cast<size_t>(n);
  }
  if (!r.failed && sync && !synced(fd)) r = {"sync", errno};
  if (!r.failed) return r;
  if (start < 0 || ::ftruncate(fd, start) != 0 || (sync && !synced(fd))) {
    r.cut_back = false;
    r.cut_error = start < 0 ? EINVAL : errno;
  }
  return r;
}

}  // namespace zf
