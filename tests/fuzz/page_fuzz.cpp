// The page envelope parser and the error-body reader never crash on
// arbitrary bytes, and a page they accept is internally consistent.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "sources/zendesk_pull/page.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  simdjson::dom::parser parser;
  auto parsed = zf::source::parse_page(parser, body);
  if (auto* page = std::get_if<zf::source::PageEnvelope>(&parsed)) {
    if (page->has_more && page->after_cursor.empty() && !page->next_link) std::abort();
    for (auto e : page->events) (void)e.type();
  }
  (void)zf::source::error_detail(body);
  return 0;
}
