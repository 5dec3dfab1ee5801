// The delivery ledger's size on disk for 90 days of a busy account: 125,000
// events a minute (the API's ceiling: 2,500-event pages at 50 a minute),
// committed one page at a time as the committer does at that rate.
// Prints the largest and the final file size; target < 16 MiB.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "proof/delivery_ledger.h"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  int days = argc > 1 ? std::atoi(argv[1]) : 90;
  const int64_t per_minute = 125'000, page = 2'500;
  fs::path dir = fs::temp_directory_path() / ("zf-bench-ledger-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string path = (dir / "checkpoint.json.ledger").string();
  zf::source::DeliveryLedger ledger(path);
  int64_t start_ms = 1'790'000'000'000, end_ms = start_ms + int64_t{days} * 86'400'000;
  int64_t step_ms = 60'000 * page / per_minute;  // event time one page covers (1.2 s)
  uint64_t largest = 0, pages = 0, events = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t t = start_ms; t < end_ms; t += step_ms, ++pages) {
    // A page's events fall in one or two minutes: the entries a commit
    // appends, which is all the file's size depends on.
    zf::source::Ledger delta;
    int64_t first = zf::source::ledger_bucket_of(t), last = zf::source::ledger_bucket_of(t + step_ms - 1);
    uint64_t in_first = last == first ? page : static_cast<uint64_t>((last * 1000 - t) * page / step_ms);
    delta[first].merge({in_first, events});
    if (last != first) delta[last].merge({page - in_first, events + 1});
    events += page;
    ledger.append(delta);
    if (pages % 1000 == 0) largest = std::max<uint64_t>(largest, fs::file_size(path));
  }
  largest = std::max<uint64_t>(largest, fs::file_size(path));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t final_size = fs::file_size(path);
  std::printf("%d days at %lld events/min: %llu pages, %llu events committed in %.1f s\n", days,
              static_cast<long long>(per_minute), static_cast<unsigned long long>(pages),
              static_cast<unsigned long long>(events), secs);
  std::printf("ledger on disk: largest %.2f MiB, final %.2f MiB (%zu minutes kept); target < 16 MiB: %s\n",
              largest / 1048576.0, final_size / 1048576.0, zf::source::DeliveryLedger::read(path).size(),
              largest < (16u << 20) ? "met" : "NOT met");
  fs::remove_all(dir);
  return largest < (16u << 20) ? 0 : 1;
}
