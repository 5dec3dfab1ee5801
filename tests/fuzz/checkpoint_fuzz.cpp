// The pull checkpoint parser reads the checkpoint file and, with Kafka
// exactly_once, whatever the checkpoint topic holds under the source's key.
// It never crashes: it returns a state or throws FatalError naming the
// problem. A state it accepts survives a round trip unchanged.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/errors.h"
#include "sources/zendesk_pull/pull_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  zf::source::LoadedState loaded;
  try {
    loaded = zf::source::deserialize(text, "fuzz");
  } catch (const zf::FatalError&) {
    return 0;
  }
  if (loaded.version != zf::source::kCheckpointVersion) return 0;  // version 1 is migrated, not written
  auto again = zf::source::deserialize(zf::source::serialize(loaded.state), "fuzz");
  if (!(again.state == loaded.state)) std::abort();
  return 0;
}
