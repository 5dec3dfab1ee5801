#pragma once
// The ids a push source delivered lately, shared with the pull source of the
// same account: pull skips what push already delivered, and counts what
// only it found (the pushes Zendesk never made or gave up on). Bounded: the
// oldest ids are forgotten first. Persisted, so a restart neither re-ships
// through pull what push delivered nor accepts a retried push twice: each
// add() is on disk (fdatasync) before it returns, that is before the push
// is answered 200. Thread-safe.
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "sources/event_id.h"

namespace zf::source {

class RecentIds {
 public:
  // In memory only.
  explicit RecentIds(size_t bound);
  // Kept in `path` (created if missing; its directory too), locked against
  // a second process; starts with the newest `bound` ids found there.
  // Throws FatalError when the file cannot be opened, read or locked.
  RecentIds(size_t bound, std::string path);
  ~RecentIds();
  RecentIds(const RecentIds&) = delete;
  RecentIds& operator=(const RecentIds&) = delete;

  // Throws std::runtime_error when the file cannot be written; then none
  // of `keys` is remembered (contains() stays false for them).
  void add(const std::vector<EventKey>& keys);
  bool contains(const EventKey& k) const;
  size_t size() const;

 private:
  void insert(const EventKey& k);
  void compact();

  const size_t bound_;
  const std::string path_;
  int fd_ = -1, lock_fd_ = -1;
  size_t on_disk_ = 0;  // keys in the file, forgotten ones included
  bool torn_ = false;   // a failed append could not be cut back: rewrite before appending
  mutable std::mutex mu_;
  std::unordered_set<EventKey, EventKeyHash> ids_;
  std::deque<EventKey> order_;
};

}  // namespace zf::source
