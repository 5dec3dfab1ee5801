#pragma once
// The envelope of one Access Logs API page. The events stay as simdjson
// elements (valid while the parser lives) for the normalizer to read.
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <simdjson.h>

namespace zf::source {

struct PageEnvelope {
  simdjson::dom::array events;
  std::optional<std::string> next_link;  // links.next when a string
  std::string after_cursor;              // meta.after_cursor ("" when null/absent)
  bool has_more = false;                 // meta.has_more
};

// Parses `body` with `parser`. Returns the envelope, or a message saying
// what is wrong with the body (not JSON, access_logs missing, wrong types).
// A body with SIMDJSON_PADDING bytes of spare capacity (net::HttpClient's
// have) is read in place; any other is first copied into the parser, which
// then keeps a buffer the size of the largest such body.
std::variant<PageEnvelope, std::string> parse_page(simdjson::dom::parser& parser, const std::string& body);

// The `detail`s of a Zendesk error body {"errors":[{"title","detail"}]},
// joined; the raw body (shortened) when it is not one.
std::string error_detail(std::string_view body);

}  // namespace zf::source
