#include "pipeline/checkpoint.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/errors.h"

namespace zf::pipeline {

namespace fs = std::filesystem;

std::string serialize(const Checkpoint& cp) {
  nlohmann::json ids = nlohmann::json::array();
  for (const auto& r : cp.recent_ids) ids.push_back({r.id, r.timestamp_s});
  nlohmann::json j = {{"version", kCheckpointVersion},
                      {"account", cp.account},
                      {"position",
                       {{"window_start", cp.position.window_start},
                        {"window_end", cp.position.window_end},
                        {"cursor", cp.position.cursor}}},
                      {"recent_ids", ids},
                      {"committed_at", cp.committed_at_s},
                      {"events_delivered", cp.events_delivered}};
  return j.dump() + "\n";
}

Checkpoint deserialize(const std::string& text, const std::string& path) {
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
    if (version != kCheckpointVersion)
      throw corrupt("version " + std::to_string(version) + " is not supported by this build (it reads version " +
                    std::to_string(kCheckpointVersion) + ")");
    Checkpoint cp;
    cp.account = j.at("account").get<std::string>();
    const auto& p = j.at("position");
    cp.position.window_start = p.at("window_start").get<int64_t>();
    cp.position.window_end = p.at("window_end").get<int64_t>();
    cp.position.cursor = p.at("cursor").get<std::string>();
    if (cp.position.window_start <= 0 || (cp.position.window_end != 0 && cp.position.window_end <= cp.position.window_start))
      throw corrupt("position window is inconsistent");
    for (const auto& r : j.at("recent_ids")) cp.recent_ids.push_back({r.at(0).get<std::string>(), r.at(1).get<int64_t>(), 0});
    cp.committed_at_s = j.value("committed_at", int64_t{0});
    cp.events_delivered = j.value("events_delivered", uint64_t{0});
    return cp;
  } catch (const nlohmann::json::exception& e) {
    throw corrupt(std::string("a field is missing or has the wrong type (") + e.what() + ")");
  }
}

CheckpointStore::CheckpointStore(std::string path) : path_(std::move(path)) {
  fs::path dir = fs::path(path_).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw FatalError("cannot create checkpoint directory " + dir.string() + ": " + ec.message());
  }
  std::string lock_path = path_ + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
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

CheckpointStore::~CheckpointStore() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::optional<Checkpoint> CheckpointStore::load() const {
  std::error_code ec;
  if (!fs::exists(path_, ec)) return std::nullopt;
  std::ifstream in(path_, std::ios::binary);
  if (!in) throw FatalError("checkpoint " + path_ + " exists but cannot be read: " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return deserialize(ss.str(), path_);
}

void CheckpointStore::save(const Checkpoint& cp) {
  std::string text = serialize(cp);
  std::string tmp = path_ + ".tmp";
  auto fail = [&](const std::string& step) {
    return std::runtime_error("checkpoint " + step + " failed for " + tmp + ": " + std::strerror(errno));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw fail("open");
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      throw fail("write");
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    throw fail("fsync");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) throw fail("rename");
  std::string dir = fs::path(path_).parent_path().string();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace zf::pipeline
