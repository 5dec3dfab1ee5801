#include "encode/ecs.h"

#include "encode/json_writer.h"

namespace zf::encode {

void write_ecs_json(const AccessEvent& e, std::string& out) {
  auto [path, query] = split_url(e.url);
  out.reserve(out.size() + 512 + e.url.size() + e.extra_json.size() + e.original.size());
  JsonWriter w(out);
  w.begin_object();
  if (!e.timestamp.empty()) w.field("@timestamp", e.timestamp);
  w.key("event").begin_object();
  w.field("id", e.id).field("kind", "event");
  w.key("category").begin_array().string(e.url.rfind("/api/", 0) == 0 || e.graphql ? "api" : "web").end_array();
  w.key("type").begin_array().string("access").end_array();
  w.field("action", e.action);
  w.field("outcome", e.status == 0 ? "unknown" : e.status < 400 ? "success" : "failure");
  w.field("dataset", "zendesk.access").field("provider", "zendesk").field("module", "zendesk");
  if (!e.original.empty()) w.field("original", e.original);
  w.end_object();
  if (!e.user_id.empty()) w.key("user").begin_object().field("id", e.user_id).end_object();
  if (!e.source_ip.empty()) w.key("source").begin_object().field("ip", e.source_ip).end_object();
  w.key("http").begin_object();
  w.key("request").begin_object();
  if (!e.method.empty()) w.field("method", e.method);
  if (!e.referrer.empty()) w.field("referrer", e.referrer);
  w.end_object();
  if (e.status != 0 || e.bytes_sent >= 0) {
    w.key("response").begin_object();
    if (e.status != 0) w.field("status_code", e.status);
    if (e.bytes_sent >= 0) w.key("body").begin_object().field("bytes", e.bytes_sent).end_object();
    w.end_object();
  }
  w.end_object();
  if (!e.url.empty()) {
    w.key("url").begin_object().field("original", e.url).field("path", path);
    if (!query.empty()) w.field("query", query);
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
  if (res.search) w.key("search").begin_object().field("query", e.search_query).end_object();
  if (e.graphql) {
    const GraphqlCall& g = *e.graphql;
    w.key("graphql").begin_object();
    if (!g.operation_name.empty()) w.field("operation_name", g.operation_name);
    if (!g.operation_type.empty()) w.field("operation_type", g.operation_type);
    if (g.query) w.field("query", *g.query);
    if (!g.variables_json.empty()) w.key("variables").raw(g.variables_json);
    else if (!g.variables_raw.empty()) w.field("variables_raw", g.variables_raw);
    w.end_object();
  }
  if (e.timestamp.empty() && !e.timestamp_raw.empty()) w.field("timestamp", e.timestamp_raw);
  if (!e.extra_json.empty()) w.key("extra").raw(e.extra_json);
  if (!e.invalid_json.empty()) w.key("invalid").raw(e.invalid_json);
  w.end_object();
  w.end_object();
}

}  // namespace zf::encode
