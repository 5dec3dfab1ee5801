#include "sources/zendesk_pull/page.h"

#include "core/encoding.h"

namespace zf::source {

std::variant<PageEnvelope, std::string> parse_page(simdjson::dom::parser& parser, const std::string& body) {
  simdjson::dom::element doc;
  auto err = parser.parse(body).get(doc);
  if (err == simdjson::UTF8_ERROR) {
    // One bad byte must not block the account forever: replace it and go
    // on (the parser copies strings out, so the temporary may go).
    std::string clean = sanitize_utf8(body);
    err = parser.parse(clean.data(), clean.size()).get(doc);  // copied: the elements outlive `clean`
  }
  if (err) return std::string("page is not valid JSON: ") + simdjson::error_message(err);
  simdjson::dom::object root;
  if (doc.get_object().get(root)) return std::string("page is not a JSON object");
  PageEnvelope page;
  if (root["access_logs"].get_array().get(page.events)) return std::string("page has no access_logs array");
  simdjson::dom::element meta;
  if (!root["meta"].get(meta)) {
    bool has_more = false;
    auto hm = meta["has_more"];
    if (!hm.error()) {
      if (hm.get_bool().get(has_more)) return std::string("meta.has_more is not a boolean");
    }
    page.has_more = has_more;
    std::string_view cursor;
    auto ac = meta["after_cursor"];
    if (!ac.error() && !ac.is_null()) {
      if (ac.get_string().get(cursor)) return std::string("meta.after_cursor is not a string");
      page.after_cursor = std::string(cursor);
    }
  }
  std::string_view next;
  if (!root.at_pointer("/links/next").get_string().get(next)) page.next_link = std::string(next);
  if (page.has_more && page.after_cursor.empty() && !page.next_link)
    return std::string("meta.has_more is true but the page has neither meta.after_cursor nor links.next");
  return page;
}

std::string error_detail(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string out;
  if (!parser.parse(body.data(), body.size()).get(doc)) {
    simdjson::dom::array errors;
    if (!doc["errors"].get_array().get(errors)) {
      for (auto e : errors) {
        std::string_view title, detail;
        std::string part;
        if (!e["title"].get_string().get(title)) part += std::string(title);
        if (!e["detail"].get_string().get(detail)) part += (part.empty() ? "" : ": ") + std::string(detail);
        if (!part.empty()) out += (out.empty() ? "" : "; ") + part;
      }
    }
  }
  if (out.empty()) out = std::string(body.substr(0, 200));
  return out;
}

}  // namespace zf::source
