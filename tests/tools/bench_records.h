#pragma once
// Realistic normalized records for sink benchmarks: the emulator's event
// generator shaped by the real normalizer, in pipeline-sized batches.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <vector>

#include "core/sink.h"

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

struct DriveResult {
  double seconds = 0;
  size_t failed_batches = 0;
};

// Sends every batch through `sink` with at most `max_inflight` unacknowledged
// (as pipeline.max_inflight_batches does) and times until the last ack.
inline DriveResult drive(Sink& sink, const std::vector<BatchPtr>& batches, size_t max_inflight) {
  std::mutex mu;
  std::condition_variable cv;
  size_t acked = 0, inflight = 0;
  DriveResult result;
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& b : batches) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return inflight < max_inflight; });
      ++inflight;
    }
    sink.send(b, [&](Ack a) {
      std::lock_guard lock(mu);
      --inflight;
      ++acked;
      if (a.status != DeliveryStatus::Delivered) ++result.failed_batches;
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return acked == batches.size(); });
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace zf::bench
