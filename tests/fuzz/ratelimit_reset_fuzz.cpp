// ratelimit-reset / Retry-After parsing never crashes and never yields a
// negative or over-cap wait, whatever the server sends.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sources/zendesk_pull/ratelimit_reset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto now = zf::source::SystemTime(std::chrono::seconds(1795000000));
  (void)zf::source::parse_reset_header(text, now);
  auto wait = zf::source::reset_wait(text, text, now);
  if (wait.count() < 0 || wait > std::chrono::minutes(15)) std::abort();
  return 0;
}
