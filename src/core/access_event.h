#pragma once
// One Zendesk access event, typed: what normalization makes of an API (or
// webhook) event, and what every encoder reads. A string is "" when the
// event did not carry the field (docs/FIELDS.md maps each to ECS).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zf {

// What a REST path or GraphQL call says was accessed.
struct AccessedResource {
  std::string type;         // "ticket", "user", ... ("" when unknown)
  std::string id;           // "" for collections and searches
  std::string subresource;  // "comments" in /tickets/1/comments
  bool search = false;
};

struct GraphqlCall {
  std::string operation_name;
  std::string operation_type;        // lower case: query, mutation
  std::optional<std::string> query;  // the query text, when a string
  std::string variables;             // minified JSON when they parse, else as given
};

struct AccessEvent {
  std::string id;             // the Zendesk ULID
  std::string account;        // the Zendesk account (subdomain) it came from
  int64_t timestamp_ms = 0;   // ms since the epoch (UTC)
  std::string timestamp;      // the same, RFC 3339 with ms, UTC
  // The event's own timestamp did not parse (or was missing): the two above
  // are when the forwarder read it, and the raw value is kept here.
  bool timestamp_is_ingest_time = false;
  std::string timestamp_raw;
  std::string user_id;
  // From the Users API when enrichment is on ("" otherwise or when unknown).
  std::string user_name, user_email, user_role;
  std::string target_user_name, target_user_email;  // the user whose profile was accessed
  std::string source_ip;      // ip_address when it is exactly one valid address, else ""
  std::vector<std::string> ips;  // every valid address in the API's ip_address, in order
  std::string method;
  int status = 0;             // HTTP status, 0 when absent
  int64_t bytes_sent = -1;    // -1 when absent
  std::string url;            // as given: path and query
  std::string referrer;
  std::string user_agent;     // the API's `client`
  std::string origin_service;
  std::string authorization_type;
  std::string category;
  std::string summary;
  std::string action;         // "ticket.read", "search", "graphql.query", "http.get"
  AccessedResource resource;
  std::string search_query;   // when resource.search
  std::optional<GraphqlCall> graphql;
  std::string extra_json;     // unknown fields, as one JSON object ("" when none)
  std::string invalid_json;   // fields of the wrong type, as one JSON object ("" when none)
  std::string original;       // the event's JSON verbatim, when keep_original
};

// The parts of a URL as the API writes it (no scheme or host).
struct UrlParts {
  std::string_view path, query, fragment;
};
inline UrlParts split_url(std::string_view url) {
  UrlParts p{url, {}, {}};
  if (size_t hash = url.find('#'); hash != std::string_view::npos) {
    p.fragment = url.substr(hash + 1);
    p.path = url.substr(0, hash);
  }
  if (size_t q = p.path.find('?'); q != std::string_view::npos) {
    p.query = p.path.substr(q + 1);
    p.path = p.path.substr(0, q);
  }
  return p;
}

// The verb of an action ("read" of "ticket.read").
inline std::string_view action_verb(std::string_view action) {
  size_t dot = action.rfind('.');
  return dot == std::string_view::npos ? action : action.substr(dot + 1);
}

}  // namespace zf
