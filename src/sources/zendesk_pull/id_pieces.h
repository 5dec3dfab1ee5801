#pragma once
// The ids a window's first read delivered, kept beside the position by a
// sink that stores positions (Kafka exactly_once), so that the account's
// next owner, without this disk, knows what its late reads must not ship
// again. A window's ids are cut into pieces of kIdsPerPiece, one key each
// ("ids/<window start>/<piece>"), and a piece is written whole each time it
// grows: the newest value of a key, what a compacted topic keeps, is all of
// it. A piece is at most 16 KiB; writing it whole costs about 1.4 times
// the ids' bytes with pages of 2,500 events, 3.5 times with pages of 200.
// A window's pieces are deleted with the position that retires it.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/record.h"
#include "sources/event_id.h"

namespace zf::source {

inline constexpr uint64_t kIdsPerPiece = 1024;

std::string id_piece_key(int64_t window_start, uint64_t piece);
// The keys that hold a window's first `count` ids.
std::set<std::string> id_piece_keys(int64_t window_start, uint64_t count);
// Deletes them.
std::vector<PositionPiece> erase_id_pieces(int64_t window_start, uint64_t count);
// The window's first `count` ids from the pieces found, or the longest
// prefix of them the pieces hold (a piece missing or short: the sink lost
// it, e.g. to its retention).
std::vector<EventKey> join_id_pieces(const std::map<std::string, std::string>& found, int64_t window_start,
                                     uint64_t count);

// The pieces of the window being first-read: its last, partial piece is
// kept here so each append can write that piece whole.
class IdPieceWriter {
 public:
  bool holds(int64_t window_start) const { return window_ == window_start; }
  // Continues a window whose first ids are `ids` (none for a new window).
  void resume(int64_t window_start, const std::vector<EventKey>& ids);
  // The pieces to write once `added` follow: each piece they touch, whole.
  // The window must be held.
  std::vector<PositionPiece> append(const std::vector<EventKey>& added);
  void forget() { window_.reset(), tail_.clear(), count_ = 0; }

 private:
  std::optional<int64_t> window_;
  uint64_t count_ = 0;           // ids of the window so far
  std::vector<EventKey> tail_;   // its ids from the start of its last piece
};

}  // namespace zf::source
