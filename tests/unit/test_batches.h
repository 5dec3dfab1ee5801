#pragma once
// Small batches for sink and delivery tests: ids unique per (seq, index).
// Records carry `pad` bytes of filler when asked, so a few batches can fill
// the socket and pipe buffers between a sink and a stalled receiver.
#include <memory>
#include <string>

#include "core/record.h"

namespace zf::testing {

inline BatchPtr make_batch(uint64_t seq, size_t records, size_t pad = 0) {
  auto b = std::make_shared<Batch>();
  b->seq = seq;
  b->account = "acme";
  for (size_t i = 0; i < records; ++i) {
    Record r;
    r.event.id = "ID" + std::to_string(seq) + "_" + std::to_string(i);
    r.event.account = b->account;
    r.json = "{\"event\":{\"id\":\"" + r.event.id + "\"}" +
             (pad ? ",\"pad\":\"" + std::string(pad, 'x') + "\"" : "") + "}";
    b->records.push_back(std::move(r));
  }
  return b;
}

}  // namespace zf::testing
