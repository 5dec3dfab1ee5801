#pragma once
// The heap the process holds in RAM, from the allocator itself: what the
// memory bound (MemoryBudget) weighs a new page against.
#include "sched/memory_budget.h"

namespace zf::sched {

// jemalloc's stats.resident (pages backing live allocations, its metadata,
// and freed pages not yet returned to the system) when the executable
// links jemalloc; an empty meter otherwise (sanitizer and fuzz builds),
// and the bound then counts the pages in flight alone.
HeapMeter allocator_heap_meter();

}  // namespace zf::sched
