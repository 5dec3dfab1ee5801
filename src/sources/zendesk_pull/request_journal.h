#pragma once
// When this account's last requests were sent, kept beside the checkpoint so
// that a restarted process spends only what the dead one left of the budget:
// the API counts a killed process's requests too. A ring of fixed 16-byte
// records ("%015lld\n", unix ms), one slot per request of the budget, each
// written with one pwrite before its request goes out; no fsync: a killed
// process's writes survive in the page cache, and after a machine restart
// the period is long over. A torn or foreign record reads as absent.
#include <cstdint>
#include <string>
#include <vector>

namespace zf::source {

class RequestJournal {
 public:
  // Throws FatalError when `path` cannot be opened or created.
  RequestJournal(std::string path, int slots);
  ~RequestJournal();
  RequestJournal(const RequestJournal&) = delete;
  RequestJournal& operator=(const RequestJournal&) = delete;

  // The send times found when the journal was opened (unix ms, oldest first).
  const std::vector<int64_t>& earlier() const { return earlier_; }
  // Records a request sent at `unix_ms`, over the oldest record. Throws
  // std::runtime_error when the write fails.
  void record(int64_t unix_ms);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  int slots_;
  int next_ = 0;
  std::vector<int64_t> earlier_;
};

}  // namespace zf::source
