#pragma once
// The pull source's durable state: where its first and late reads are, the
// windows awaiting a late read, and, beside it, the ids each of those
// windows' first read delivered (what a late read must not ship again).
//
// The state file is small and written atomically (temp file, fsync,
// rename, fsync of the directory), guarded by a lock file so two processes
// never share it. Ids go to one append-only file per window
// (<path>.ids/<window_start>.ids, 16 bytes an id), appended and synced when
// their page is fetched, so before any state that relies on them; a
// window's file is deleted once its late read is committed. So a commit
// writes only the state, a few hundred bytes, never the ids or the whole
// dedup set; the state says how many of each file's ids it covers
// (id_counts).
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sources/event_id.h"
#include "sources/zendesk_pull/position.h"

namespace zf::source {

// 1: one overlapping window and a capped recent-id set inside the file.
// 2: first and late reads, id files beside the state.
inline constexpr int kCheckpointVersion = 2;

struct PullState {
  std::string account;
  ReadPosition first;            // the open first-read window, or (end 0) where the next one starts
  bool first_late_read = false;  // the open first-read window is read again later (its ids are kept)
  std::vector<Window> awaiting;  // first read committed, late read pending; ascending
  ReadPosition late;             // the open late read, over a prefix of `awaiting`
  // Per window with an id file: how many of its ids this state covers. Ids
  // are written (and synced) when their page is fetched, ahead of its
  // commit, so a crash can leave more; opening truncates the file back.
  // That keeps the files exact when the state lives elsewhere (a Kafka
  // transaction commits the page and this state together).
  std::map<int64_t, uint64_t> id_counts;
  int64_t committed_at_s = 0;
  uint64_t events_delivered = 0;  // since this checkpoint file was created
  bool operator==(const PullState&) const = default;
};

struct LoadedState {
  PullState state;
  int version = kCheckpointVersion;
  // A version-1 file's recent ids: the events its next window would re-read.
  std::vector<std::string> v1_recent_ids;
  // False for files written before id_counts: then a window without a
  // count may still have ids that count (the file is all there is).
  bool has_id_counts = true;
  // Where it comes from when not the file: a position kept elsewhere (a
  // Kafka checkpoint topic), not written to the file until the source has
  // checked it is this source's.
  std::string adopted_from;
};

std::string serialize(const PullState& state);
// Throws FatalError naming the file and what to do when `text` is not a
// checkpoint this version understands.
LoadedState deserialize(const std::string& text, const std::string& path);

class PullCheckpoint {
 public:
  // Takes the lock (throws FatalError if another process holds it), unless
  // `exclusive` is false: under coordination the consumer group and the
  // lease keep one owner per account, and a lock held by a stopped former
  // owner would keep its account from failing over until it resumed.
  explicit PullCheckpoint(std::string path, bool exclusive = true);
  ~PullCheckpoint();
  PullCheckpoint(const PullCheckpoint&) = delete;
  PullCheckpoint& operator=(const PullCheckpoint&) = delete;

  // The adopted position if there is one, else the file: nullopt when no
  // checkpoint exists yet; FatalError when it is corrupt or unreadable
  // (never silently start over: that would re-ship or skip).
  std::optional<LoadedState> load() const;
  // Throws std::runtime_error with the failing step on I/O errors. Returns
  // the bytes written.
  size_t save(const PullState& state);
  // Takes a position kept elsewhere (a Kafka checkpoint topic) in place of
  // the file; throws FatalError naming `from` when it is not one. Nothing
  // is written here: load() returns it, and the source saves it once it
  // checked the position is its own (another account's position must not
  // replace the file, or every later start would refuse the file).
  // `pieces`: what is kept beside it there (id_pieces.h), read with it.
  void adopt(const std::string& serialized, const std::string& from, std::map<std::string, std::string> pieces = {});
  // The pieces a position kept elsewhere needs from beside it: the ids of
  // windows this disk holds fewer of than it counts (the account's new
  // owner, a fresh volume). Empty when `serialized` is no position.
  std::set<std::string> pieces_needed(const std::string& serialized) const;
  // Writes the ids of those windows from the adopted pieces to their id
  // files. Returns the ids restored.
  size_t restore_ids(const std::map<int64_t, uint64_t>& counts);

  // Appends to a window's id file; durable after sync_ids(). Returns bytes.
  size_t append_ids(int64_t window_start, const std::vector<EventKey>& keys);
  void sync_ids();
  // Every id recorded for the window; empty when it has no file.
  std::vector<EventKey> read_ids(int64_t window_start) const;
  bool has_ids(int64_t window_start) const;
  size_t count_ids(int64_t window_start) const;
  // Cuts a window's id file back to its first `count` ids, durably.
  void truncate_ids(int64_t window_start, size_t count);
  void remove_ids(int64_t window_start);
  // Deletes id files of windows not in `keep` (left by a crash between a
  // state write and the deletion it allowed).
  void remove_ids_except(const std::set<int64_t>& keep);

  const std::string& path() const { return path_; }
  // Gives the file up (closes its lock and id files) once nothing will be
  // written any more: with coordination the account's next owner may take
  // it while this source still waits for its last acknowledgements.
  void release();

 private:
  std::string ids_file(int64_t window_start) const;

  std::string path_;
  std::string ids_dir_;
  std::optional<LoadedState> adopted_;
  std::map<std::string, std::string> adopted_pieces_;
  int lock_fd_ = -1;
  // The fetch thread appends ids while the commit thread removes files of
  // windows done with.
  std::mutex ids_mu_;
  std::map<int64_t, int> open_ids_;  // window start -> append fd (guarded by ids_mu_)
  std::set<int> unsynced_;           // guarded by ids_mu_
};

}  // namespace zf::source
