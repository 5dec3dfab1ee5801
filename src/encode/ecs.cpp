#include "encode/ecs.h"

#include "encode/json_writer.h"

namespace zf::encode {

namespace {

// ECS event.type by what was done; the web category allows access only.
std::string_view event_type(const AccessEvent& e, bool api) {
  if (!api) return "access";
  std::string_view verb = action_verb(e.action);
  if (verb == "create") return "creation";
  if (verb == "update") return "change";
  if (verb == "delete") return "deletion";
  return "access";
}

}  // namespace

void write_ecs_json(const AccessEvent& e, std::string& out) {
  auto [path, query, fragment] = split_url(e.url);
  bool api = e.url.rfind("/api/", 0) == 0 || e.graphql;
  bool target_user = e.resource.type == "user" && !e.resource.id.empty();
  // A typical record is some 800 bytes: room for it at once, not a regrowth.
  out.reserve(out.size() + 1024 + e.url.size() + e.extra_json.size() + e.original.size());
  JsonWriter w(out);
  w.begin_object();
  w.field("@timestamp", e.timestamp);
  w.key("ecs").begin_object().field("version", kEcsVersion).end_object();
  w.key("event").begin_object();
  w.field("id", e.id).field("kind", "event");
  w.key("category").begin_array().string(api ? "api" : "web").end_array();
  w.key("type").begin_array().string(event_type(e, api)).end_array();
  w.field("action", e.action);
  w.field("outcome", e.status == 0 ? "unknown" : e.status < 400 ? "success" : "failure");
  w.field("dataset", "zendesk.access").field("provider", "zendesk").field("module", "zendesk");
  if (e.timestamp_is_ingest_time) w.field("ingested", e.timestamp);
  if (!e.original.empty()) w.field("original", e.original);
  w.end_object();
  if (!e.user_id.empty() || target_user) {
    w.key("user").begin_object();
    if (!e.user_id.empty()) w.field("id", e.user_id);
    if (!e.user_name.empty()) w.field("name", e.user_name);
    if (!e.user_email.empty()) w.field("email", e.user_email);
    if (!e.user_role.empty()) w.key("roles").begin_array().string(e.user_role).end_array();
    if (target_user) {
      w.key("target").begin_object().field("id", e.resource.id);
      if (!e.target_user_name.empty()) w.field("name", e.target_user_name);
      if (!e.target_user_email.empty()) w.field("email", e.target_user_email);
      w.end_object();
    }
    w.end_object();
  }
  if (!e.source_ip.empty()) w.key("source").begin_object().field("ip", e.source_ip).end_object();
  if (!e.ips.empty() || !e.user_id.empty() || target_user) {
    w.key("related").begin_object();
    if (!e.ips.empty()) {
      w.key("ip").begin_array();
      for (const auto& ip : e.ips) w.string(ip);
      w.end_array();
    }
    if (!e.user_id.empty() || target_user) {
      w.key("user").begin_array();
      if (!e.user_id.empty()) w.string(e.user_id);
      if (target_user && e.resource.id != e.user_id) w.string(e.resource.id);
      w.end_array();
    }
    w.end_object();
  }
  bool request = !e.method.empty() || !e.referrer.empty();
  bool response = e.status != 0 || e.bytes_sent >= 0;
  if (request || response) {
    w.key("http").begin_object();
    if (request) {
      w.key("request").begin_object();
      if (!e.method.empty()) w.field("method", e.method);
      if (!e.referrer.empty()) w.field("referrer", e.referrer);
      w.end_object();
    }
    if (response) {
      w.key("response").begin_object();
      if (e.status != 0) w.field("status_code", e.status);
      if (e.bytes_sent >= 0) w.key("body").begin_object().field("bytes", e.bytes_sent).end_object();
      w.end_object();
    }
    w.end_object();
  }
  if (!e.url.empty()) {
    w.key("url").begin_object().field("original", e.url).field("path", path);
    if (!query.empty()) w.field("query", query);
    if (!fragment.empty()) w.field("fragment", fragment);
    w.end_object();
  }
  if (!e.user_agent.empty()) w.key("user_agent").begin_object().field("original", e.user_agent).end_object();

  w.key("zendesk").begin_object();
  w.field("account", e.account);
  if (!e.origin_service.empty()) w.field("origin_service", e.origin_service);
  if (!e.authorization_type.empty()) w.field("authorization_type", e.authorization_type);
  if (!e.category.empty()) w.field("category", e.category);
  if (!e.summary.empty()) w.field("summary", e.summary);
  const AccessedResource& res = e.resource;
  if (!res.type.empty() || !res.id.empty()) {
    w.key("resource").begin_object();
    if (!res.type.empty()) w.field("type", res.type);
    if (!res.id.empty()) w.field("id", res.id);
    if (!res.subresource.empty()) w.field("subresource", res.subresource);
    w.end_object();
  }
  if (res.search && !e.search_query.empty()) w.key("search").begin_object().field("query", e.search_query).end_object();
  if (e.graphql) {
    const GraphqlCall& g = *e.graphql;
    bool any = !g.operation_name.empty() || !g.operation_type.empty() || g.query || !g.variables.empty();
    if (any) {
      w.key("graphql").begin_object();
      if (!g.operation_name.empty()) w.field("operation_name", g.operation_name);
      if (!g.operation_type.empty()) w.field("operation_type", g.operation_type);
      if (g.query) w.field("query", *g.query);
      // A string, always: variables differ in shape from call to call, and
      // one index field cannot hold them all. Their ids are in resource.
      if (!g.variables.empty()) w.field("variables", g.variables);
      w.end_object();
    }
  }
  if (e.timestamp_is_ingest_time) {
    w.key("timestamp_is_ingest_time").raw("true");
    if (!e.timestamp_raw.empty()) w.field("timestamp", e.timestamp_raw);
  }
  if (!e.extra_json.empty()) w.key("extra").raw(e.extra_json);
  if (!e.invalid_json.empty()) w.key("invalid").raw(e.invalid_json);
  w.end_object();
  w.end_object();
}

}  // namespace zf::encode
