#pragma once
// The durable record of how far delivery got: the fetch position after the
// last batch every sink acknowledged, and the recent ids the next window
// needs to drop re-read events. Written atomically (temp file, fsync,
// rename, fsync of the directory); guarded by a lock file so two processes
// never share one checkpoint.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "source/position.h"
#include "source/recent_ids.h"

namespace zf::pipeline {

inline constexpr int kCheckpointVersion = 1;

struct Checkpoint {
  std::string account;
  source::Position position;
  std::vector<source::RecentId> recent_ids;
  int64_t committed_at_s = 0;
  uint64_t events_delivered = 0;  // since this checkpoint file was created
};

std::string serialize(const Checkpoint& cp);
// Throws FatalError naming the file and what to do when `text` is not a
// checkpoint this version understands.
Checkpoint deserialize(const std::string& text, const std::string& path);

class CheckpointStore {
 public:
  // Takes the lock (throws FatalError if another process holds it).
  explicit CheckpointStore(std::string path);
  ~CheckpointStore();
  CheckpointStore(const CheckpointStore&) = delete;
  CheckpointStore& operator=(const CheckpointStore&) = delete;

  // nullopt when no checkpoint exists yet; FatalError when it is corrupt or
  // unreadable (never silently start over: that would re-ship or skip).
  std::optional<Checkpoint> load() const;
  // Throws std::runtime_error with the failing step on I/O errors.
  void save(const Checkpoint& cp);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int lock_fd_ = -1;
};

}  // namespace zf::pipeline
