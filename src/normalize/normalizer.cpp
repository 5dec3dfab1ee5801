#include "normalize/normalizer.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "core/time_format.h"
#include "normalize/json_writer.h"

namespace zf::normalize {

namespace {

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

std::string verb_for(std::string_view method, bool has_id) {
  if (method == "GET" || method == "HEAD") return has_id ? "read" : "list";
  if (method == "POST") return "create";
  if (method == "PUT" || method == "PATCH") return "update";
  if (method == "DELETE") return "delete";
  return lower(method);
}

// GraphQL names what it read in `variables`: {"id": "1"} with the type in
// the operation name ("ticket"), or a typed key ("ticketId", "user_id").
void resource_from_graphql(std::string_view operation, element variables, Resource& r) {
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

Resource resource_from_path(std::string_view path) {
  Resource r;
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

Normalizer::Normalizer(Options options) : options_(std::move(options)) {}

std::variant<Record, std::string> Normalizer::normalize_json(std::string_view event_json) const {
  element e;
  if (auto err = event_parser_.parse(event_json.data(), event_json.size()).get(e))
    return std::string("event is not valid JSON: ") + simdjson::error_message(err);
  return normalize(e);
}

std::variant<Record, std::string> Normalizer::normalize(element event) const {
  simdjson::dom::object obj;
  if (event.get_object().get(obj)) return std::string("event is not a JSON object");
  Record r;
  std::string_view id;
  if (obj["id"].get_string().get(id) || id.empty()) return std::string("event has no string id");
  r.id = std::string(id);

  // Pass 1: read the known fields; remember what is unknown or mistyped.
  std::string extra, invalid;
  JsonWriter extra_w(extra), invalid_w(invalid);
  extra_w.begin_object();
  invalid_w.begin_object();
  bool has_extra = false, has_invalid = false;
  std::string_view timestamp_raw, ip, method, url, origin, auth_type, client, referer, category, summary;
  int64_t bytes_sent = -1;
  element graphql;
  bool has_graphql = false;
  auto mistyped = [&](std::string_view key, element value) {
    invalid_w.key(key).raw(simdjson::minify(value));
    has_invalid = true;
  };
  auto want_string = [&](std::string_view key, element value, std::string_view& into) {
    if (value.get_string().get(into)) mistyped(key, value);
  };
  for (auto field : obj) {
    std::string_view k = field.key;
    element v = field.value;
    if (k == "id") continue;
    if (v.is_null()) continue;
    if (k == "timestamp") want_string(k, v, timestamp_raw);
    else if (k == "ip_address") want_string(k, v, ip);
    else if (k == "method") want_string(k, v, method);
    else if (k == "url") want_string(k, v, url);
    else if (k == "origin_service") want_string(k, v, origin);
    else if (k == "authorization_type") want_string(k, v, auth_type);
    else if (k == "client") want_string(k, v, client);
    else if (k == "referer") want_string(k, v, referer);
    else if (k == "category") want_string(k, v, category);
    else if (k == "summary") want_string(k, v, summary);
    else if (k == "user_id") {
      // A number in the API, a string in webhooks; anything else is kept aside.
      int64_t n;
      uint64_t u;
      std::string_view s;
      if (!v.get_int64().get(n)) r.user_id = std::to_string(n);
      else if (!v.get_uint64().get(u)) r.user_id = std::to_string(u);
      else if (!v.get_string().get(s) && !s.empty() &&
               std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
        r.user_id = std::string(s);
      else mistyped(k, v);
    } else if (k == "status") {
      int64_t n;
      std::string_view s;
      if (!v.get_int64().get(n) && n >= 0 && n < 1000) r.status = static_cast<int>(n);
      else if (!v.get_string().get(s) && s.size() == 3 &&
               std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
        r.status = std::stoi(std::string(s));
      else mistyped(k, v);
    } else if (k == "bytes_sent") {
      if (v.get_int64().get(bytes_sent)) mistyped(k, v);
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

  auto ts_ms = parse_rfc3339_ms(timestamp_raw);
  if (ts_ms) {
    r.timestamp_ms = *ts_ms;
    r.timestamp = format_utc_millis(*ts_ms);
  }
  r.source_ip = std::string(ip);
  r.method = std::string(method);
  r.url = std::string(url);

  std::string_view path = url, query;
  if (size_t q = path.find('?'); q != std::string_view::npos) {
    query = path.substr(q + 1);
    path = path.substr(0, q);
  }
  if (size_t hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);

  // What was accessed, and the action.
  Resource res;
  std::string graphql_op, graphql_type, search_query;
  element variables_doc;
  bool variables_ok = false;
  std::string_view variables_raw;
  if (has_graphql) {
    std::string_view op_name, op_type;
    if (!graphql["operation_name"].get_string().get(op_name)) graphql_op = std::string(op_name);
    if (!graphql["operation_type"].get_string().get(op_type)) graphql_type = lower(op_type);
    element vars;
    if (!graphql["variables"].get(vars)) {
      if (!vars.get_string().get(variables_raw)) {
        variables_ok = !variables_parser_.parse(variables_raw.data(), variables_raw.size()).get(variables_doc);
      } else if (vars.is_object()) {
        variables_doc = vars;
        variables_ok = true;
      }
    }
    if (variables_ok) resource_from_graphql(graphql_op, variables_doc, res);
    r.action = "graphql." + (graphql_type.empty() ? std::string("query") : graphql_type);
  } else {
    res = resource_from_path(path);
    if (res.search) {
      search_query = query_param(query, "query");
      r.action = res.type.empty() ? "search" : res.type + ".search";
    } else if (!res.type.empty()) {
      r.action = res.type + "." + verb_for(method, !res.id.empty());
    } else {
      r.action = "http." + lower(method.empty() ? "request" : method);
    }
  }
  r.resource_type = res.type;
  r.resource_id = res.id;

  // Pass 2: write the record.
  std::string& out = r.json;
  out.reserve(512 + url.size() + extra.size());
  JsonWriter w(out);
  w.begin_object();
  if (ts_ms) w.field("@timestamp", r.timestamp);
  w.key("event").begin_object();
  w.field("id", r.id).field("kind", "event");
  w.key("category").begin_array().string(url.rfind("/api/", 0) == 0 || has_graphql ? "api" : "web").end_array();
  w.key("type").begin_array().string("access").end_array();
  w.field("action", r.action);
  w.field("outcome", r.status == 0 ? "unknown" : r.status < 400 ? "success" : "failure");
  w.field("dataset", "zendesk.access").field("provider", "zendesk").field("module", "zendesk");
  if (options_.keep_original) w.field("original", simdjson::minify(event));
  w.end_object();
  if (!r.user_id.empty()) w.key("user").begin_object().field("id", r.user_id).end_object();
  if (!ip.empty()) w.key("source").begin_object().field("ip", ip).end_object();
  w.key("http").begin_object();
  w.key("request").begin_object();
  if (!method.empty()) w.field("method", method);
  if (!referer.empty()) w.field("referrer", referer);
  w.end_object();
  if (r.status != 0 || bytes_sent >= 0) {
    w.key("response").begin_object();
    if (r.status != 0) w.field("status_code", r.status);
    if (bytes_sent >= 0) w.key("body").begin_object().field("bytes", bytes_sent).end_object();
    w.end_object();
  }
  w.end_object();
  if (!url.empty()) {
    w.key("url").begin_object().field("original", url).field("path", path);
    if (!query.empty()) w.field("query", query);
    w.end_object();
  }
  if (!client.empty()) w.key("user_agent").begin_object().field("original", client).end_object();

  w.key("zendesk").begin_object();
  w.field("account", options_.account);
  if (!origin.empty()) w.field("origin_service", origin);
  if (!auth_type.empty()) w.field("authorization_type", auth_type);
  if (!category.empty()) w.field("category", category);
  if (!summary.empty()) w.field("summary", summary);
  if (!res.type.empty() || !res.id.empty()) {
    w.key("resource").begin_object();
    if (!res.type.empty()) w.field("type", res.type);
    if (!res.id.empty()) w.field("id", res.id);
    if (!res.subresource.empty()) w.field("subresource", res.subresource);
    w.end_object();
  }
  if (res.search) w.key("search").begin_object().field("query", search_query).end_object();
  if (has_graphql) {
    w.key("graphql").begin_object();
    std::string_view query_text;
    if (!graphql_op.empty()) w.field("operation_name", graphql_op);
    if (!graphql_type.empty()) w.field("operation_type", graphql_type);
    if (!graphql["query"].get_string().get(query_text)) w.field("query", query_text);
    if (variables_ok) w.key("variables").raw(simdjson::minify(variables_doc));
    else if (!variables_raw.empty()) w.field("variables_raw", variables_raw);
    w.end_object();
  }
  if (!ts_ms && !timestamp_raw.empty()) w.field("timestamp", timestamp_raw);
  if (has_extra) w.key("extra").raw(extra);
  if (has_invalid) w.key("invalid").raw(invalid);
  w.end_object();
  w.end_object();
  return r;
}

}  // namespace zf::normalize
