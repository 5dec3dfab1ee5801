#pragma once
// Realistic normalized records for sink benchmarks: the emulator's event
// generator shaped by the real normalizer, in pipeline-sized batches.
#include <random>
#include <vector>

#include "core/record.h"
#include "emulator/dataset.h"
#include "normalize/normalizer.h"

namespace zf::bench {

inline std::vector<BatchPtr> make_batches(size_t n, size_t batch_size = 2500) {
  std::mt19937_64 rng(7);
  normalize::Normalizer normalizer({"acme", false});
  std::vector<BatchPtr> batches;
  int64_t ts = 1795000000000;
  for (size_t i = 0; i < n;) {
    auto b = std::make_shared<Batch>();
    b->seq = batches.size() + 1;
    b->account = "acme";
    for (size_t k = 0; k < batch_size && i < n; ++k, ++i) {
      auto event = emulator::make_event(ts + static_cast<int64_t>(i), rng, false);
      b->records.push_back(std::get<Record>(normalizer.normalize_json(event.json)));
    }
    batches.push_back(b);
  }
  return batches;
}

}  // namespace zf::bench
