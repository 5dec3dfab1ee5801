#pragma once
// The shape stage: one Access Logs API event in, one typed AccessEvent out
// (with its ecs_json encoding, every sink's default, made here once)
// (docs/FIELDS.md lists every field). Unknown fields are kept under
// zendesk.extra, values of the wrong type under zendesk.invalid; only an
// event that cannot be identified (not an object, no string id) is refused.
#include <string>
#include <string_view>
#include <variant>

#include <simdjson.h>

#include "core/clock.h"
#include "core/record.h"

namespace zf::normalize {

struct Options {
  std::string account;
  bool keep_original = false;  // event.original: the event's JSON verbatim
  // Make the ecs_json document (Record::json): off when no sink ships ECS,
  // so a CEF or OCSF pipeline does not pay for it.
  bool ecs_json = true;
};

// What a REST path says was accessed.
AccessedResource resource_from_path(std::string_view path);
// The `query` parameter of a search URL, URL-decoded ('+' is a space).
std::string query_param(std::string_view query_string, std::string_view name);
std::string url_decode(std::string_view s);

class Normalizer {
 public:
  // `clock` stamps events whose own timestamp does not parse.
  explicit Normalizer(Options options, const Clock& clock = real_clock());

  // Not thread-safe (it reuses a parser for GraphQL variables): one per thread.
  std::variant<Record, std::string> normalize(simdjson::dom::element event) const;
  // The same into `into`, a default-constructed Record (one in place in a
  // batch: a Record is some forty strings, and moving it twice per event
  // cost more than a tenth of the shape stage). False, with `problem`
  // set, for an event that cannot be identified; `into` is then partly
  // filled and to be dropped.
  bool normalize_into(simdjson::dom::element event, Record& into, std::string& problem) const;
  // From the JSON text of one event (tests, fuzzing, webhooks).
  std::variant<Record, std::string> normalize_json(std::string_view event_json) const;

 private:
  Options options_;
  const Clock& clock_;
  mutable simdjson::dom::parser variables_parser_;
  mutable simdjson::dom::parser event_parser_;
};

}  // namespace zf::normalize
