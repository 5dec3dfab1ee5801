#pragma once
// Deterministic, realistic access events: REST reads and writes, searches,
// GraphQL calls, and (optionally) awkward values that a shipper must
// survive.
#include <cstdint>
#include <random>
#include <string_view>

#include "emulator/emulator.h"

namespace zf::emulator {

// Who acts and whose profiles are read; empty = random ids.
struct Population {
  std::vector<int64_t> actors, profiles;
};

// `fixed_id`: the event's id when not empty (the many-accounts emulator
// derives ids without making events); otherwise a ULID drawn from `rng`.
Emulator::Event make_event(int64_t ts_ms, std::mt19937_64& rng, bool awkward, const Population& people = {},
                           std::string_view fixed_id = {});

// The account's agents (some with commas, quotes and accents in their
// names) and end users; deterministic.
// `hostile`: the first agents are named to attack whoever shows the names
// (terminal escapes, C1 controls, bidi overrides, zero-width characters,
// markup, 300 characters), for the report's and export's safety tests.
std::vector<Person> make_people(size_t agents, size_t end_users, bool hostile = false);

}  // namespace zf::emulator
