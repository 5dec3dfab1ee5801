#pragma once
// Deterministic, realistic access events: REST reads and writes, searches,
// GraphQL calls, and (optionally) awkward values that a shipper must
// survive.
#include <cstdint>
#include <random>

#include "emulator/emulator.h"

namespace zf::emulator {

// Who acts and whose profiles are read; empty = random ids.
struct Population {
  std::vector<int64_t> actors, profiles;
};

Emulator::Event make_event(int64_t ts_ms, std::mt19937_64& rng, bool awkward, const Population& people = {});

// The account's agents (some with commas, quotes and accents in their
// names) and end users; deterministic.
std::vector<Person> make_people(size_t agents, size_t end_users);

}  // namespace zf::emulator
