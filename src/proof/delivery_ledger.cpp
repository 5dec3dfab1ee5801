#include "proof/delivery_ledger.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "sources/zendesk_pull/position.h"
#include "core/durable_file.h"

namespace zf::source {

namespace {

// Little-endian start (int64), count (uint64), digest (uint64).
void put(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string encode(const Ledger& l) {
  std::string out;
  out.reserve(l.size() * DeliveryLedger::kEntryBytes);
  for (const auto& [start, b] : l) {
    put(out, static_cast<uint64_t>(start));
    put(out, b.count);
    put(out, b.digest);
  }
  return out;
}

}  // namespace

void LedgerBucket::add(std::string_view id) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a 64: stable across builds and machines
  for (unsigned char c : id) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  ++count;
  digest += h;
}

DeliveryLedger::DeliveryLedger(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  uint64_t bytes = std::filesystem::exists(path_, ec) ? std::filesystem::file_size(path_, ec) : 0;
  entries_ = compacted_entries_ = bytes / kEntryBytes;
}

Ledger DeliveryLedger::read(const std::string& path) {
  Ledger l;
  std::ifstream in(path, std::ios::binary);
  char buf[kEntryBytes];
  while (in.read(buf, kEntryBytes))
    l[static_cast<int64_t>(get(buf))].merge({get(buf + 8), get(buf + 16)});
  return l;
}

void DeliveryLedger::append(const Ledger& delta) {
  if (delta.empty()) return;
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + path_ + ": " + std::strerror(errno));
  try {
    write_all(fd, encode(delta), path_);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  entries_ += delta.size();
  if (entries_ > 2 * std::max<uint64_t>(compacted_entries_, 4096)) compact();
}

void DeliveryLedger::compact() {
  Ledger l = read(path_);
  if (!l.empty()) {
    // 90 days back from the newest minute: the API keeps no more.
    int64_t floor = l.rbegin()->first - kRetentionSeconds;
    l.erase(l.begin(), l.lower_bound(floor));
  }
  replace_file(path_, encode(l));
  entries_ = compacted_entries_ = l.size();
}

}  // namespace zf::source
