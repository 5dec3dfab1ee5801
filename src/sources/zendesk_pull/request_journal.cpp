#include "sources/zendesk_pull/request_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "core/errors.h"

namespace zf::source {

namespace {
constexpr size_t kRecord = 16;

// "001733450000123\n" (15 digits) -> unix ms; -1 when it is not one.
int64_t parse_record(const char* r) {
  if (r[kRecord - 1] != '\n') return -1;
  int64_t v = 0;
  for (size_t i = 0; i + 1 < kRecord; ++i) {
    if (r[i] < '0' || r[i] > '9') return -1;
    v = v * 10 + (r[i] - '0');
  }
  return v;
}
}  // namespace

RequestJournal::RequestJournal(std::string path, int slots) : path_(std::move(path)), slots_(std::max(1, slots)) {
  std::error_code ec;
  auto dir = std::filesystem::path(path_).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0)
    throw FatalError("cannot open " + path_ + " (the times of recent API requests, beside the checkpoint): " +
                     std::strerror(errno) + ". Check that checkpoint.path is on a writable volume.");
  std::vector<char> data(kRecord * static_cast<size_t>(slots_));
  ssize_t n = ::pread(fd_, data.data(), data.size(), 0);
  int oldest_slot = 0;
  int64_t oldest = INT64_MAX;
  for (int i = 0; i < slots_; ++i) {
    int64_t t = n >= static_cast<ssize_t>(kRecord * (i + 1)) ? parse_record(&data[kRecord * i]) : -1;
    if (t >= 0) earlier_.push_back(t);
    if (t < oldest) {  // an absent record (-1) is the first to reuse
      oldest = t;
      oldest_slot = i;
    }
  }
  std::sort(earlier_.begin(), earlier_.end());
  next_ = oldest_slot;
}

RequestJournal::~RequestJournal() {
  if (fd_ >= 0) ::close(fd_);
}

void RequestJournal::record(int64_t unix_ms) {
  char r[kRecord + 1];
  std::snprintf(r, sizeof r, "%015lld\n", static_cast<long long>(std::clamp<int64_t>(unix_ms, 0, 999'999'999'999'999)));
  if (::pwrite(fd_, r, kRecord, static_cast<off_t>(kRecord) * next_) != static_cast<ssize_t>(kRecord))
    throw std::runtime_error("cannot write " + path_ + ": " + std::strerror(errno));
  next_ = (next_ + 1) % slots_;
}

}  // namespace zf::source
