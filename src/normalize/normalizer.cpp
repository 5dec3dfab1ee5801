#include "normalize/normalizer.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "core/time_format.h"
#include "encode/ecs.h"
#include "encode/json_writer.h"

namespace zf::normalize {

namespace {

using encode::JsonWriter;
using simdjson::dom::element;
using simdjson::dom::element_type;

// REST collections whose singular is not just "drop the s".
constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kIrregular = {{
    {"sla_policies", "sla_policy"},
    {"search", "search"},
    {"people", "person"},
    {"activities", "activity"},
    {"identities", "identity"},
    {"ticket_metrics", "ticket_metric"},
}};

std::string singular(std::string_view plural) {
  for (auto [p, s] : kIrregular)
    if (p == plural) return std::string(s);
  if (plural.size() > 1 && plural.back() == 's') plural.remove_suffix(1);
  return std::string(plural);
}

bool is_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  bool digit = false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    digit |= std::isdigit(static_cast<unsigned char>(c)) != 0;
  }
  return digit;  // ids carry digits; words such as "count" or "show_many" do not
}

std::string_view strip_json(std::string_view s) {
  if (s.size() > 5 && s.substr(s.size() - 5) == ".json") s.remove_suffix(5);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// The IPv4/IPv6 addresses in a comma- or space-separated list, in order.
std::vector<std::string> valid_ips(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t end = text.find_first_of(", \t");
    std::string part(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (part.empty()) continue;
    unsigned char buf[sizeof(in6_addr)];
    if (inet_pton(AF_INET, part.c_str(), buf) == 1 || inet_pton(AF_INET6, part.c_str(), buf) == 1)
      out.push_back(std::move(part));
  }
  return out;
}

std::string verb_for(std::string_view method, bool has_id) {
  if (method == "GET" || method == "HEAD") return has_id ? "read" : "list";
  if (method == "POST") return "create";
  if (method == "PUT" || method == "PATCH") return "update";
  if (method == "DELETE") return "delete";
  return method.empty() ? "access" : lower(method);  // never "ticket."
}

// GraphQL names what it read in `variables`: {"id": "1"} with the type in
// the operation name ("ticket"), or a typed key ("ticketId", "user_id").
void resource_from_graphql(std::string_view operation, element variables, AccessedResource& r) {
  simdjson::dom::object vars;
  if (variables.get_object().get(vars)) return;
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 8> kTypedKeys = {{
      {"ticketId", "ticket"},
      {"ticket_id", "ticket"},
      {"userId", "user"},
      {"user_id", "user"},
      {"organizationId", "organization"},
      {"organization_id", "organization"},
      {"groupId", "group"},
      {"group_id", "group"},
  }};
  auto id_text = [](element v) -> std::string {
    std::string_view s;
    int64_t n;
    uint64_t u;
    if (!v.get_string().get(s)) return std::string(s);
    if (!v.get_int64().get(n)) return std::to_string(n);
    if (!v.get_uint64().get(u)) return std::to_string(u);
    return "";
  };
  for (auto [key, type] : kTypedKeys) {
    element v;
    if (!vars[key].get(v)) {
      r.type = std::string(type);
      r.id = id_text(v);
      return;
    }
  }
  element v;
  if (!vars["id"].get(v)) {
    r.id = id_text(v);
    std::string op = lower(operation);
    for (std::string_view t : {"ticket", "user", "organization", "group", "brand", "view", "macro", "article"})
      if (op.find(t) != std::string::npos) {
        r.type = std::string(t);
        break;
      }
  }
}

}  // namespace

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hexval = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 &&
               hexval(s[i + 2]) >= 0) {
      out += static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string query_param(std::string_view qs, std::string_view name) {
  while (!qs.empty()) {
    size_t amp = qs.find('&');
    std::string_view pair = qs.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    qs.remove_prefix(amp + 1);
  }
  return "";
}

AccessedResource resource_from_path(std::string_view path) {
  AccessedResource r;
  // Segments after the API prefix: /api/v2/<collection>/<id>/<sub>...
  // Other paths (agent UI pages) name no resource we can trust.
  bool api = false;
  for (std::string_view prefix : {"/api/v2/", "/api/lotus/", "/api/v1/"})
    if (path.substr(0, prefix.size()) == prefix) {
      path.remove_prefix(prefix.size());
      api = true;
      break;
    }
  if (!api) return r;
  std::array<std::string_view, 4> seg{};
  size_t n = 0;
  while (!path.empty() && n < seg.size()) {
    while (!path.empty() && path.front() == '/') path.remove_prefix(1);
    size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (!part.empty()) seg[n++] = strip_json(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  if (n == 0) return r;
  if (seg[0] == "search" || seg[0] == "search.json") {
    r.search = true;
    return r;
  }
  if (seg[0] == "help_center" && n >= 2) {  // /api/v2/help_center/articles/1
    std::rotate(seg.begin(), seg.begin() + 1, seg.begin() + n);
    --n;
  }
  r.type = singular(seg[0]);
  if (n >= 2 && (seg[1] == "search" || seg[1] == "autocomplete")) {
    r.search = true;
    return r;
  }
  if (n >= 2 && is_id(seg[1])) {
    r.id = std::string(seg[1]);
    if (n >= 3) r.subresource = std::string(seg[2]);
  }
  return r;
}

Normalizer::Normalizer(Options options, const Clock& clock) : options_(std::move(options)), clock_(clock) {}

std::variant<Record, std::string> Normalizer::normalize_json(std::string_view event_json) const {
  element e;
  if (auto err = event_parser_.parse(event_json.data(), event_json.size()).get(e))
    return std::string("event is not valid JSON: ") + simdjson::error_message(err);
  return normalize(e);
}

std::variant<Record, std::string> Normalizer::normalize(element event) const {
  std::variant<Record, std::string> out;
  std::string problem;
  if (!normalize_into(event, std::get<Record>(out), problem)) out = std::move(problem);
  return out;
}

bool Normalizer::normalize_into(element event, Record& r, std::string& problem) const {
  simdjson::dom::object obj;
  if (event.get_object().get(obj)) {
    problem = "event is not a JSON object";
    return false;
  }
  AccessEvent& e = r.event;
  std::string_view id;
  if (obj["id"].get_string().get(id) || id.empty()) {
    problem = "event has no string id";
    return false;
  }
  e.id = std::string(id);
  e.account = options_.account;

  // Read the known fields; keep what is unknown or mistyped aside.
  std::string extra, invalid;
  JsonWriter extra_w(extra), invalid_w(invalid);
  extra_w.begin_object();
  invalid_w.begin_object();
  bool has_extra = false, has_invalid = false;
  std::string_view timestamp_raw;
  element graphql;
  bool has_graphql = false;
  auto mistyped = [&](std::string_view key, element value) {
    invalid_w.key(key).raw(simdjson::minify(value));
    has_invalid = true;
  };
  auto want_string = [&](std::string_view key, element value, std::string& into) {
    std::string_view s;
    if (value.get_string().get(s)) mistyped(key, value);
    else into = std::string(s);
  };
  for (auto field : obj) {
    std::string_view k = field.key;
    element v = field.value;
    if (k == "id") continue;
    if (v.is_null()) continue;
    if (k == "timestamp") {
      if (v.get_string().get(timestamp_raw)) mistyped(k, v);
    } else if (k == "ip_address") {
      std::string_view text;
      if (v.get_string().get(text)) {
        mistyped(k, v);
      } else if (!text.empty()) {
        e.ips = valid_ips(text);
        // Only one plain address is the source. Anything else (a list,
        // padding, "unknown", "00.00.000.85") is kept as given and names no
        // source: an ip field would refuse it, and the leftmost entry of a
        // forwarded chain is the one a client can forge.
        if (e.ips.size() == 1 && e.ips[0] == text) e.source_ip = e.ips[0];
        else mistyped(k, v);
      }
    } else if (k == "method") want_string(k, v, e.method);
    else if (k == "url") want_string(k, v, e.url);
    else if (k == "origin_service") want_string(k, v, e.origin_service);
    else if (k == "authorization_type") want_string(k, v, e.authorization_type);
    else if (k == "client") want_string(k, v, e.user_agent);
    else if (k == "referer") want_string(k, v, e.referrer);
    else if (k == "category") want_string(k, v, e.category);
    else if (k == "summary") want_string(k, v, e.summary);
    else if (k == "user_id") {
      // A number in the API, a string in webhooks; anything else is kept aside.
      int64_t n;
      uint64_t u;
      std::string_view s;
      if (!v.get_int64().get(n)) e.user_id = std::to_string(n);
      else if (!v.get_uint64().get(u)) e.user_id = std::to_string(u);
      else if (!v.get_string().get(s) && !s.empty() &&
               std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
        e.user_id = std::string(s);
      else mistyped(k, v);
    } else if (k == "status") {
      int64_t n;
      std::string_view s;
      if (!v.get_int64().get(n) && n >= 0 && n < 1000) e.status = static_cast<int>(n);
      else if (!v.get_string().get(s) && s.size() == 3 &&
               std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
        e.status = std::stoi(std::string(s));
      else mistyped(k, v);
    } else if (k == "bytes_sent") {
      if (v.get_int64().get(e.bytes_sent)) {
        e.bytes_sent = -1;
        mistyped(k, v);
      }
    } else if (k == "graphql") {
      if (v.is_object()) {
        graphql = v;
        has_graphql = true;
      } else {
        mistyped(k, v);
      }
    } else {
      extra_w.key(k).raw(simdjson::minify(v));
      has_extra = true;
    }
  }
  extra_w.end_object();
  invalid_w.end_object();
  if (has_extra) e.extra_json = std::move(extra);
  if (has_invalid) e.invalid_json = std::move(invalid);
  if (options_.keep_original) e.original = simdjson::minify(event);

  if (auto ts_ms = parse_rfc3339_ms(timestamp_raw)) {
    e.timestamp_ms = *ts_ms;
  } else {
    // Data streams refuse a document without @timestamp: use when it was
    // read, flagged, and keep what the event said.
    e.timestamp_ms = clock_.now_ms();
    e.timestamp_is_ingest_time = true;
    e.timestamp_raw = std::string(timestamp_raw);
  }
  e.timestamp = format_utc_millis(e.timestamp_ms);

  // What was accessed, and the action.
  auto [path, query, fragment] = split_url(e.url);
  if (has_graphql) {
    GraphqlCall& g = e.graphql.emplace();
    std::string_view op_name, op_type, query_text, variables_raw;
    if (!graphql["operation_name"].get_string().get(op_name)) g.operation_name = std::string(op_name);
    if (!graphql["operation_type"].get_string().get(op_type)) g.operation_type = lower(op_type);
    if (!graphql["query"].get_string().get(query_text)) g.query = std::string(query_text);
    element vars, variables_doc;
    bool variables_ok = false;
    if (!graphql["variables"].get(vars)) {
      if (!vars.get_string().get(variables_raw)) {
        variables_ok = !variables_parser_.parse(variables_raw.data(), variables_raw.size()).get(variables_doc);
      } else if (vars.is_object()) {
        variables_doc = vars;
        variables_ok = true;
      }
    }
    if (variables_ok) {
      g.variables = simdjson::minify(variables_doc);
      resource_from_graphql(g.operation_name, variables_doc, e.resource);
    } else {
      g.variables = std::string(variables_raw);
    }
    // The same action as the REST call that does the same: a GraphQL
    // ticket read is `ticket.read`, so one rule catches both.
    std::string_view type = g.operation_type.empty() ? std::string_view("query") : g.operation_type;
    if (e.resource.type.empty())
      e.action = "graphql." + std::string(type);
    else if (type == "mutation")
      e.action = e.resource.type + ".update";
    else
      e.action = e.resource.type + (e.resource.id.empty() ? ".list" : ".read");
  } else {
    e.resource = resource_from_path(path);
    if (e.resource.search) {
      // The `query` parameter; other searches (users/search?external_id=)
      // say what they look for in the whole query string.
      e.search_query = query_param(query, "query");
      if (e.search_query.empty()) e.search_query = url_decode(query);
      e.action = e.resource.type.empty() ? "search" : e.resource.type + ".search";
    } else if (!e.resource.type.empty()) {
      e.action = e.resource.type + "." + verb_for(e.method, !e.resource.id.empty());
    } else {
      e.action = "http." + lower(e.method.empty() ? "request" : e.method);
    }
  }

  if (options_.ecs_json) encode::write_ecs_json(e, r.json);
  return true;
}

}  // namespace zf::normalize
