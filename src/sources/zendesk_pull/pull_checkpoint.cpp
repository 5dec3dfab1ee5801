#include "sources/zendesk_pull/pull_checkpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/durable_file.h"
#include "sources/zendesk_pull/id_pieces.h"

namespace zf::source {

namespace fs = std::filesystem;

namespace {

nlohmann::json to_json(const ReadPosition& p) {
  return {{"window_start", p.window_start}, {"window_end", p.window_end}, {"cursor", p.cursor}};
}

ReadPosition read_position(const nlohmann::json& p) {
  return {p.at("window_start").get<int64_t>(), p.at("window_end").get<int64_t>(), p.at("cursor").get<std::string>()};
}

bool consistent(const ReadPosition& p) {
  return p.window_start > 0 && (p.window_end == 0 || p.window_end > p.window_start);
}

}  // namespace

std::string serialize(const PullState& s) {
  nlohmann::json awaiting = nlohmann::json::array();
  for (const auto& w : s.awaiting) awaiting.push_back({w.start, w.end});
  nlohmann::json id_counts = nlohmann::json::object();
  for (const auto& [start, n] : s.id_counts) id_counts[std::to_string(start)] = n;
  nlohmann::json first = to_json(s.first);
  first["late_read"] = s.first_late_read;
  nlohmann::json j = {{"version", kCheckpointVersion},
                      {"account", s.account},
                      {"first_read", first},
                      {"awaiting_late_read", awaiting},
                      {"late_read", s.late.open() ? to_json(s.late) : nlohmann::json(nullptr)},
                      {"id_counts", id_counts},
                      {"committed_at", s.committed_at_s},
                      {"events_delivered", s.events_delivered}};
  return j.dump() + "\n";
}

LoadedState deserialize(const std::string& text, const std::string& path) {
  auto corrupt = [&](const std::string& why) {
    return FatalError("checkpoint " + path + " is unreadable: " + why +
                      ". Refusing to start over silently (that could re-ship or skip events). Inspect the file; to "
                      "start again from zendesk.start, move it aside.");
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw corrupt(std::string("not valid JSON (") + e.what() + ")");
  }
  try {
    if (!j.is_object()) throw corrupt("not a JSON object");
    if (!j.contains("version") || !j["version"].is_number_integer()) throw corrupt("no version field");
    int version = j["version"].get<int>();
    if (version != 1 && version != kCheckpointVersion)
      throw corrupt("version " + std::to_string(version) + " is not supported by this build (it reads versions 1 and " +
                    std::to_string(kCheckpointVersion) + ")");
    LoadedState out;
    out.version = version;
    PullState& s = out.state;
    s.account = j.at("account").get<std::string>();
    s.committed_at_s = j.value("committed_at", int64_t{0});
    s.events_delivered = j.value("events_delivered", uint64_t{0});
    if (version == 1) {
      out.has_id_counts = false;
      // Version 1 re-read an overlap at the start of every window and kept
      // the ids of that overlap here; the window it resumes in is read
      // once more, deduplicated against them (see resume in the source).
      s.first = read_position(j.at("position"));
      for (const auto& r : j.at("recent_ids")) out.v1_recent_ids.push_back(r.at(0).get<std::string>());
    } else {
      const auto& first = j.at("first_read");
      s.first = read_position(first);
      s.first_late_read = first.value("late_read", false);
      for (const auto& w : j.at("awaiting_late_read")) {
        Window win{w.at(0).get<int64_t>(), w.at(1).get<int64_t>()};
        if (win.start <= 0 || win.end <= win.start || (!s.awaiting.empty() && win.start < s.awaiting.back().end))
          throw corrupt("awaiting_late_read holds an empty or out-of-order window");
        s.awaiting.push_back(win);
      }
      if (!j.at("late_read").is_null()) {
        s.late = read_position(j.at("late_read"));
        if (!consistent(s.late) || !s.late.open() || s.awaiting.empty() ||
            s.late.window_start != s.awaiting.front().start)
          throw corrupt("late_read does not cover the first window awaiting it");
      }
      // Absent in files written before ids were written ahead.
      out.has_id_counts = j.contains("id_counts");
      if (out.has_id_counts)
        for (const auto& [start, n] : j.at("id_counts").items()) {
          int64_t window = 0;
          auto [end, ec] = std::from_chars(start.data(), start.data() + start.size(), window);
          if (ec != std::errc() || end != start.data() + start.size() || window <= 0)
            throw corrupt("id_counts has a key that is not a window start: \"" + start + "\"");
          s.id_counts[window] = n.get<uint64_t>();
        }
    }
    if (!consistent(s.first)) throw corrupt("position window is inconsistent");
    return out;
  } catch (const nlohmann::json::exception& e) {
    throw corrupt(std::string("a field is missing or has the wrong type (") + e.what() + ")");
  }
}

namespace {
// A checkpoint behind a symlink (a mounted secret-style layout) is written
// at its target, so the link stays; a dangling link is an error, never "no
// checkpoint yet" (that would silently start a full backfill).
std::string resolve_checkpoint_path(const std::string& path) {
  std::error_code ec;
  if (!fs::is_symlink(fs::symlink_status(path, ec))) return path;
  auto target = fs::canonical(path, ec);
  if (ec)
    throw FatalError("checkpoint " + path + " is a symbolic link to a file that does not exist (" + ec.message() +
                     "). Refusing to start over silently; fix the link or move it aside.");
  return target.string();
}
}  // namespace

PullCheckpoint::PullCheckpoint(std::string path, bool exclusive)
    : path_(resolve_checkpoint_path(path)), ids_dir_(path_ + ".ids") {
  fs::path dir = fs::path(path_).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw FatalError("cannot create checkpoint directory " + dir.string() + ": " + ec.message());
  }
  if (!exclusive) return;
  std::string lock_path = path_ + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock_fd_ < 0)
    throw FatalError("cannot open checkpoint lock " + lock_path + ": " + std::strerror(errno) +
                     " (is checkpoint.path on a writable volume?)");
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw FatalError("checkpoint " + path_ + " is in use by another zendesk-forwarder process (lock " + lock_path +
                     " is held). Run one forwarder per checkpoint.");
  }
}

PullCheckpoint::~PullCheckpoint() { release(); }

void PullCheckpoint::release() {
  std::lock_guard lock(ids_mu_);
  for (auto& [start, fd] : open_ids_) ::close(fd);
  open_ids_.clear();
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
}

void PullCheckpoint::adopt(const std::string& serialized, const std::string& from,
                           std::map<std::string, std::string> pieces) {
  adopted_ = deserialize(serialized, from);
  adopted_->adopted_from = from;
  adopted_pieces_ = std::move(pieces);
}

std::set<std::string> PullCheckpoint::pieces_needed(const std::string& serialized) const {
  std::set<std::string> keys;
  try {
    for (const auto& [start, count] : deserialize(serialized, path_).state.id_counts)
      if (count > count_ids(start)) keys.merge(id_piece_keys(start, count));
  } catch (const FatalError&) {
    // adopt() says what is wrong with it.
  }
  return keys;
}

size_t PullCheckpoint::restore_ids(const std::map<int64_t, uint64_t>& counts) {
  size_t restored = 0;
  for (const auto& [start, count] : counts) {
    if (count <= count_ids(start)) continue;
    std::vector<EventKey> ids = join_id_pieces(adopted_pieces_, start, count);
    if (ids.size() <= count_ids(start)) continue;  // no more than this disk has
    remove_ids(start);
    append_ids(start, ids);
    restored += ids.size();
  }
  adopted_pieces_.clear();
  if (restored) sync_ids();
  return restored;
}

std::optional<LoadedState> PullCheckpoint::load() const {
  if (adopted_) return adopted_;
  std::error_code ec;
  if (!fs::exists(path_, ec)) return std::nullopt;
  std::ifstream in(path_, std::ios::binary);
  if (!in) throw FatalError("checkpoint " + path_ + " exists but cannot be read: " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return deserialize(ss.str(), path_);
}

size_t PullCheckpoint::save(const PullState& state) {
  std::string text = serialize(state);
  replace_file(path_, text);
  return text.size();
}

std::string PullCheckpoint::ids_file(int64_t window_start) const {
  return ids_dir_ + "/" + std::to_string(window_start) + ".ids";
}

size_t PullCheckpoint::append_ids(int64_t window_start, const std::vector<EventKey>& keys) {
  if (keys.empty()) return 0;
  std::string file = ids_file(window_start);
  auto fail = [&](const char* step) {
    return std::runtime_error("id file " + std::string(step) + " failed for " + file + ": " + std::strerror(errno));
  };
  std::lock_guard lock(ids_mu_);
  auto it = open_ids_.find(window_start);
  if (it == open_ids_.end()) {
    std::error_code ec;
    fs::create_directories(ids_dir_, ec);
    if (ec) throw std::runtime_error("cannot create " + ids_dir_ + ": " + ec.message());
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) throw fail("open");
    it = open_ids_.emplace(window_start, fd).first;
  }
  std::string buf = encode_keys(keys);
  write_all(it->second, buf, file);
  unsynced_.insert(it->second);
  return buf.size();
}

void PullCheckpoint::sync_ids() {
  std::lock_guard lock(ids_mu_);
  for (int fd : unsynced_)
    if (::fdatasync(fd) != 0) throw std::runtime_error(std::string("id file fdatasync failed: ") + std::strerror(errno));
  unsynced_.clear();
}

std::vector<EventKey> PullCheckpoint::read_ids(int64_t window_start) const {
  std::ifstream in(ids_file(window_start), std::ios::binary);
  if (!in) return {};
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // A torn tail is ignored: its batch was never synced, so no state relies on it.
  return decode_keys(data);
}

bool PullCheckpoint::has_ids(int64_t window_start) const {
  std::error_code ec;
  return fs::exists(ids_file(window_start), ec);
}

size_t PullCheckpoint::count_ids(int64_t window_start) const {
  std::error_code ec;
  auto size = fs::file_size(ids_file(window_start), ec);
  return ec ? 0 : static_cast<size_t>(size / kEventKeyBytes);
}

void PullCheckpoint::truncate_ids(int64_t window_start, size_t count) {
  std::string file = ids_file(window_start);
  auto fail = [&](const char* step) {
    return std::runtime_error("id file " + std::string(step) + " failed for " + file + ": " + std::strerror(errno));
  };
  int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) throw fail("open");
  bool ok = ::ftruncate(fd, static_cast<off_t>(count * kEventKeyBytes)) == 0 && ::fdatasync(fd) == 0;
  int saved = errno;
  ::close(fd);
  errno = saved;
  if (!ok) throw fail("truncate");
}

void PullCheckpoint::remove_ids(int64_t window_start) {
  std::lock_guard lock(ids_mu_);
  if (auto it = open_ids_.find(window_start); it != open_ids_.end()) {
    unsynced_.erase(it->second);
    ::close(it->second);
    open_ids_.erase(it);
  }
  std::error_code ec;
  fs::remove(ids_file(window_start), ec);
}

void PullCheckpoint::remove_ids_except(const std::set<int64_t>& keep) {
  std::error_code ec;
  if (!fs::is_directory(ids_dir_, ec)) return;
  std::vector<int64_t> stale;
  for (const auto& entry : fs::directory_iterator(ids_dir_, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() < 5 || name.substr(name.size() - 4) != ".ids") continue;
    try {
      int64_t start = std::stoll(name.substr(0, name.size() - 4));
      if (!keep.count(start)) stale.push_back(start);
    } catch (...) {
    }
  }
  for (int64_t s : stale) remove_ids(s);
}

}  // namespace zf::source
