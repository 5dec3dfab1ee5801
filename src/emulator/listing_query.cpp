#include "emulator/listing_query.h"

#include <httplib.h>

#include <utility>

#include "core/encoding.h"
#include "core/time_format.h"

namespace zf::emulator {

std::optional<ListingQuery> read_listing_query(const httplib::Request& req, std::string& problem) {
  auto param = [&](const char* a, const char* b) {
    if (req.has_param(a)) return req.get_param_value(a);
    return req.get_param_value(b);
  };
  ListingQuery q;
  std::string size_text = param("page[size]", "filter[size]");
  if (!size_text.empty()) {
    try {
      size_t used = 0;
      q.size = std::stoi(size_text, &used);
      if (used != size_text.size()) q.size = -1;
    } catch (...) {
      q.size = -1;
    }
    if (q.size > 2500) return problem = "max allowed page size is 2500", std::nullopt;
    if (q.size < 1) return problem = "page size must be a positive number", std::nullopt;
  }
  for (auto [name, target] : {std::pair<const char*, int64_t*>{"filter[start]", &q.start_ms}, {"filter[end]", &q.end_ms}}) {
    if (!req.has_param(name)) continue;
    auto v = parse_rfc3339_ms(req.get_param_value(name));
    if (!v) return problem = std::string(name) + " must be yyyy-mm-ddThh:mm:ssZ", std::nullopt;
    *target = *v;
  }
  q.cursor = param("page[after]", "filter[after]");
  return q;
}

std::string page_links(const httplib::Request& req, int size, const std::string* next_cursor) {
  if (!next_cursor) return "\"links\":{\"next\":null},\"meta\":{\"after_cursor\":null,\"has_more\":false}}";
  std::string next = "http://" + req.get_header_value("Host") + "/api/v2/access_logs?";
  for (const auto& [k, v] : req.params)
    if (k != "page[after]" && k != "filter[after]" && k != "page[size]" && k != "filter[size]")
      next += url_encode(k) + "=" + url_encode(v) + "&";
  next += "page%5Bsize%5D=" + std::to_string(size) + "&page%5Bafter%5D=" + *next_cursor;
  return "\"links\":{\"next\":\"" + next + "\"},\"meta\":{\"after_cursor\":\"" + *next_cursor +
         "\",\"has_more\":true}}";
}

}  // namespace zf::emulator
