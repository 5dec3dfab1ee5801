#pragma once
// The Access Logs listing's query, read the way Zendesk reads it (both
// documented spellings of each parameter), for the single- and the
// many-accounts emulator alike.
#include <cstdint>
#include <climits>
#include <optional>
#include <string>

namespace httplib {
struct Request;
}

namespace zf::emulator {

struct ListingQuery {
  int size = 1000;
  int64_t start_ms = INT64_MIN, end_ms = INT64_MAX;
  std::string cursor;  // "" = from the start
};

// nullopt, with the 400 answer's detail in `problem`, for a query Zendesk refuses.
std::optional<ListingQuery> read_listing_query(const httplib::Request& req, std::string& problem);

// What closes a page's body after its events: links.next (this query with
// page[after] = next_cursor) and meta, as Zendesk writes them; no next page
// when `next_cursor` is null.
std::string page_links(const httplib::Request& req, int size, const std::string* next_cursor);

}  // namespace zf::emulator
