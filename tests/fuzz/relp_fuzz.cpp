// The RELP frame parser (the receiver's answers) never crashes or reads
// past its input on arbitrary bytes, and walks a stream frame by frame.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "syslog/relp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  zf::sinks::syslog::RelpFrame frame;
  try {
    while (!rest.empty()) {
      size_t used = zf::sinks::syslog::parse_relp_frame(rest, frame);
      if (used == 0) break;
      if (used > rest.size() || frame.data.size() >= used || frame.command.empty()) std::abort();
      (void)zf::sinks::syslog::relp_status(frame.data);
      rest.remove_prefix(used);
    }
  } catch (const std::runtime_error&) {
  }
  return 0;
}
