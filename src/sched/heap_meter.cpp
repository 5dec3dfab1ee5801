#include "sched/heap_meter.h"

#include <cstdint>

// Weak: resolved when jemalloc is linked in, null otherwise.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace zf::sched {

HeapMeter allocator_heap_meter() {
  if (!mallctl) return {};
  auto read = []() -> std::optional<size_t> {
    // Statistics are a snapshot taken at the last epoch: advance it first.
    uint64_t epoch = 1;
    size_t len = sizeof epoch;
    if (mallctl("epoch", &epoch, &len, &epoch, len) != 0) return std::nullopt;
    size_t resident = 0;
    len = sizeof resident;
    if (mallctl("stats.resident", &resident, &len, nullptr, 0) != 0) return std::nullopt;
    return resident;
  };
  if (!read()) return {};  // built without statistics
  return read;
}

}  // namespace zf::sched
