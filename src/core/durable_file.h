#pragma once
// Writing files so a crash or a full disk leaves the old content or the
// new, never a mix: the state files beside a checkpoint (the checkpoint
// itself, the delivery ledger, push's delivered ids), the sinks' appended
// lines and dead letters, and the commands' outputs (export, report).
#include <sys/types.h>

#include <string>
#include <string_view>

namespace zf {

// All of `data` to `fd`; throws std::runtime_error naming `path`.
void write_all(int fd, std::string_view data, const std::string& path);

// A file written under a temp name beside `path` (path + suffix) and renamed
// over `path` only once it is whole and synced. A file planted at the temp
// name (such as a symlink to a victim) is removed, never followed: the temp
// is created anew, exclusively, and the open refuses a link that appears in
// between. Dropped before commit(), the temp is removed. Every step throws
// std::runtime_error naming the step and the file.
class ReplacingFile {
 public:
  explicit ReplacingFile(std::string path, std::string suffix = ".tmp", mode_t mode = 0600);
  ~ReplacingFile();
  ReplacingFile(const ReplacingFile&) = delete;
  ReplacingFile& operator=(const ReplacingFile&) = delete;

  void write(std::string_view data) { write_all(fd_, data, temp_); }
  // Syncs the temp, renames it over the path and syncs the directory.
  void commit();
  const std::string& temp_path() const { return temp_; }

 private:
  std::string path_;
  std::string temp_;
  int fd_ = -1;
};

// replace_file(path, data): ReplacingFile with all of `data` at once.
void replace_file(const std::string& path, std::string_view data);

// Appends `data` at the end of `fd` (whose size before is `start`) and,
// when `sync`, syncs it. When the write or the sync fails, the file is cut
// back to `start` (and that cut synced), so a failed append never leaves a
// partial record for the next one to be glued to. A file that cannot be
// synced at all (a pipe, a terminal: EINVAL; a read-only mount: EROFS)
// counts as synced.
struct AppendResult {
  const char* failed = nullptr;  // nullptr when appended (and synced); else "write" or "sync"
  int error = 0;                 // the errno of that step
  bool cut_back = true;          // false: the cut failed too and the file may end in a partial record
  int cut_error = 0;             // the errno of the cut
  explicit operator bool() const { return failed == nullptr; }
};
AppendResult append_or_cut_back(int fd, off_t start, std::string_view data, bool sync = true);

}  // namespace zf
