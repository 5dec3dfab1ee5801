#include "sources/recent_ids.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "core/errors.h"
#include "core/durable_file.h"

namespace zf::source {

namespace fs = std::filesystem;


RecentIds::RecentIds(size_t bound) : bound_(bound) {}

RecentIds::RecentIds(size_t bound, std::string path) : bound_(bound), path_(std::move(path)) {
  fs::path dir = fs::path(path_).parent_path();
  std::error_code ec;
  if (!dir.empty()) fs::create_directories(dir, ec);
  if (ec) throw FatalError("cannot create the directory of " + path_ + ": " + ec.message());
  std::string lock_path = path_ + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock_fd_ < 0) throw FatalError("cannot open " + lock_path + ": " + std::strerror(errno) + " (is it on a writable volume?)");
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    throw FatalError(path_ + " is in use by another zendesk-forwarder process (lock " + lock_path +
                     " is held). Run one forwarder per checkpoint.");
  }
  std::ifstream in(path_, std::ios::binary);
  if (in) {
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& k : decode_keys(data)) insert(k);
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) {
    ::close(lock_fd_);
    throw FatalError("cannot open " + path_ + " for appending: " + std::strerror(errno));
  }
  // A torn tail from a crash mid-append would shift every later key.
  compact();
}

RecentIds::~RecentIds() {
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void RecentIds::insert(const EventKey& k) {
  if (ids_.insert(k).second) order_.push_back(k);
  while (order_.size() > bound_) {
    ids_.erase(order_.front());
    order_.pop_front();
  }
}

// Durable first: an id enters memory (where contains() answers retries
// and the pull source) only once it is on disk. A write or sync that fails
// cuts the file back to where it was, so a partial key cannot shift every
// key after it, and the caller can answer the push 503 for a retry.
void RecentIds::add(const std::vector<EventKey>& keys) {
  std::lock_guard lock(mu_);
  if (!path_.empty() && !keys.empty()) {
    if (torn_ || fd_ < 0) {
      compact();  // throws while the volume is still full
      torn_ = false;
    }
    off_t start = ::lseek(fd_, 0, SEEK_END);
    if (start < 0) {
      torn_ = true;
      throw std::runtime_error("cannot seek " + path_ + ": " + std::strerror(errno));
    }
    if (AppendResult r = append_or_cut_back(fd_, start, encode_keys(keys)); !r) {
      if (!r.cut_back) torn_ = true;
      throw std::runtime_error("cannot " + std::string(r.failed) + " " + path_ + ": " + std::strerror(r.error));
    }
    on_disk_ += keys.size();
  }
  for (const auto& k : keys) insert(k);
  if (!path_.empty() && on_disk_ > 2 * bound_) {
    // Only smaller: when it fails the appended file is still whole, and
    // the next add tries again.
    try {
      compact();
    } catch (const std::exception&) {
    }
  }
}

// Rewrites the file with just the ids remembered, atomically.
void RecentIds::compact() {
  replace_file(path_, encode_keys({order_.begin(), order_.end()}));
  if (fd_ >= 0) ::close(fd_);
  // When this fails, fd_ < 0 makes the next add() compact again.
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (fd_ < 0) throw std::runtime_error("cannot reopen " + path_ + ": " + std::strerror(errno));
  on_disk_ = order_.size();
}

bool RecentIds::contains(const EventKey& k) const {
  std::lock_guard lock(mu_);
  return ids_.count(k) != 0;
}

size_t RecentIds::size() const {
  std::lock_guard lock(mu_);
  return ids_.size();
}

}  // namespace zf::source
