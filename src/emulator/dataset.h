#pragma once
// Deterministic, realistic access events: REST reads and writes, searches,
// GraphQL calls, and (optionally) awkward values that a shipper must
// survive.
#include <cstdint>
#include <random>

#include "emulator/emulator.h"

namespace zf::emulator {

Emulator::Event make_event(int64_t ts_ms, std::mt19937_64& rng, bool awkward);

}  // namespace zf::emulator
