#include "sources/zendesk_pull/id_pieces.h"

#include <algorithm>
#include <stdexcept>

namespace zf::source {

std::string id_piece_key(int64_t window_start, uint64_t piece) {
  return "ids/" + std::to_string(window_start) + "/" + std::to_string(piece);
}

std::set<std::string> id_piece_keys(int64_t window_start, uint64_t count) {
  std::set<std::string> keys;
  for (uint64_t p = 0; p * kIdsPerPiece < count; ++p) keys.insert(id_piece_key(window_start, p));
  return keys;
}

std::vector<PositionPiece> erase_id_pieces(int64_t window_start, uint64_t count) {
  std::vector<PositionPiece> out;
  for (const auto& key : id_piece_keys(window_start, count)) out.push_back({key, std::nullopt});
  return out;
}

std::vector<EventKey> join_id_pieces(const std::map<std::string, std::string>& found, int64_t window_start,
                                     uint64_t count) {
  std::vector<EventKey> ids;
  ids.reserve(count);
  for (uint64_t p = 0; ids.size() < count; ++p) {
    auto it = found.find(id_piece_key(window_start, p));
    if (it == found.end()) break;
    std::vector<EventKey> piece = decode_keys(it->second);
    size_t take = std::min<uint64_t>({piece.size(), kIdsPerPiece, count - ids.size()});
    ids.insert(ids.end(), piece.begin(), piece.begin() + static_cast<std::ptrdiff_t>(take));
    if (take < kIdsPerPiece) break;  // a short piece ends what is known
  }
  return ids;
}

void IdPieceWriter::resume(int64_t window_start, const std::vector<EventKey>& ids) {
  window_ = window_start;
  count_ = ids.size();
  tail_.assign(ids.begin() + static_cast<std::ptrdiff_t>(count_ / kIdsPerPiece * kIdsPerPiece), ids.end());
}

std::vector<PositionPiece> IdPieceWriter::append(const std::vector<EventKey>& added) {
  if (!window_) throw std::logic_error("IdPieceWriter::append without a window");
  uint64_t first_piece = count_ / kIdsPerPiece;
  tail_.insert(tail_.end(), added.begin(), added.end());
  count_ += added.size();
  std::vector<PositionPiece> out;
  for (uint64_t p = first_piece, at = 0; at < tail_.size(); ++p, at += kIdsPerPiece) {
    auto from = tail_.begin() + static_cast<std::ptrdiff_t>(at);
    auto to = tail_.begin() + static_cast<std::ptrdiff_t>(std::min<uint64_t>(tail_.size(), at + kIdsPerPiece));
    out.push_back({id_piece_key(*window_, p), encode_keys(std::vector<EventKey>(from, to))});
  }
  // Only the last, partial piece grows again.
  tail_.erase(tail_.begin(), tail_.begin() + static_cast<std::ptrdiff_t>((tail_.size() / kIdsPerPiece) * kIdsPerPiece));
  return out;
}

}  // namespace zf::source
