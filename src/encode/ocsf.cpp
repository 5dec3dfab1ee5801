#include "encode/ocsf.h"

#include "core/record.h"
#include "encode/json_writer.h"

namespace zf::encode {

namespace {

constexpr int kCategoryUid = 6;     // Application Activity
constexpr int kClassUid = 6003;     // API Activity

struct Activity {
  int id;
  const char* name;
};

// From the action's verb, which already knows GraphQL queries and searches
// are reads whatever their HTTP method.
Activity activity_of(const AccessEvent& e) {
  std::string_view verb = action_verb(e.action);
  if (verb == "create") return {1, "Create"};
  if (verb == "read" || verb == "list" || verb == "search" || verb == "query" || verb == "access") return {2, "Read"};
  if (verb == "update" || verb == "mutation") return {3, "Update"};
  if (verb == "delete") return {4, "Delete"};
  if (verb == "get" || verb == "head") return {2, "Read"};
  if (verb == "post") return {1, "Create"};
  if (verb == "put" || verb == "patch") return {3, "Update"};
  return {99, "Other"};
}

struct UserType {
  int id;
  std::string name;
};

// OCSF's account types from the Zendesk role (Users API): an admin is an
// Admin, agents and end users are Users; the role itself is in unmapped.
UserType user_type(const std::string& role) {
  if (role == "admin") return {2, "Admin"};
  if (role == "agent" || role == "end-user") return {1, "User"};
  return {99, role};
}

}  // namespace

void write_ocsf_json(const AccessEvent& e, std::string& out) {
  Activity act = activity_of(e);
  bool target_user = e.resource.type == "user" && !e.resource.id.empty();
  auto [path, query, fragment] = split_url(e.url);
  // Denied and failed reads matter to a SOC more than the many that worked.
  int severity_id = e.status >= 500 ? 3 : e.status >= 400 ? 2 : 1;
  const char* severity = severity_id == 3 ? "Medium" : severity_id == 2 ? "Low" : "Informational";
  int status_id = e.status == 0 ? 0 : e.status < 400 ? 1 : 2;
  const char* status = status_id == 0 ? "Unknown" : status_id == 1 ? "Success" : "Failure";

  out.reserve(out.size() + 768 + e.url.size() + e.extra_json.size());
  JsonWriter w(out);
  w.begin_object();
  w.field("activity_id", act.id).field("activity_name", act.name);
  w.field("category_uid", kCategoryUid).field("category_name", "Application Activity");
  w.field("class_uid", kClassUid).field("class_name", "API Activity");
  w.field("type_uid", int64_t{kClassUid} * 100 + act.id).field("type_name", std::string("API Activity: ") + act.name);
  w.field("severity_id", severity_id).field("severity", severity);
  w.field("status_id", status_id).field("status", status);
  if (e.status != 0) w.field("status_code", std::to_string(e.status));
  w.field("time", e.timestamp_ms);
  w.field("message", e.summary.empty() ? e.action : e.summary);

  w.key("metadata").begin_object();
  w.field("version", kOcsfVersion);
  w.key("product").begin_object().field("name", "Zendesk Access Logs").field("vendor_name", "Zendesk").end_object();
  w.field("uid", e.id);
  w.field("log_name", "access_logs");
  w.field("log_provider", kProduct);
  w.field("tenant_uid", e.account);
  w.field("original_time", e.timestamp_is_ingest_time ? e.timestamp_raw : e.timestamp);
  if (e.timestamp_is_ingest_time) w.field("processed_time", e.timestamp_ms);
  w.end_object();

  // Who: the user, or else the Zendesk product that made the call.
  w.key("actor").begin_object();
  if (!e.user_id.empty()) {
    w.key("user").begin_object().field("uid", e.user_id);
    if (!e.user_name.empty()) w.field("name", e.user_name);
    if (!e.user_email.empty()) w.field("email_addr", e.user_email);
    if (!e.user_role.empty()) {
      UserType t = user_type(e.user_role);
      w.field("type_id", t.id).field("type", t.name);
    }
    w.end_object();
  }
  else w.field("app_name", e.origin_service.empty() ? "Zendesk" : e.origin_service);
  if (!e.user_id.empty() && !e.origin_service.empty()) w.field("app_name", e.origin_service);
  w.end_object();

  w.key("api").begin_object();
  w.field("operation", e.graphql && !e.graphql->operation_name.empty() ? e.graphql->operation_name : e.action);
  w.key("service").begin_object().field("name", e.graphql ? "Zendesk GraphQL API" : "Zendesk API").end_object();
  w.key("request").begin_object().field("uid", e.id).end_object();
  if (e.status != 0) w.key("response").begin_object().field("code", e.status).end_object();
  w.end_object();

  // Where from: the address, or (the API leaves it empty for some calls,
  // or sends a list or garbage) a name saying it is not known. The valid
  // addresses of a list are intermediate, none of them the source.
  w.key("src_endpoint").begin_object();
  if (!e.source_ip.empty()) w.field("ip", e.source_ip);
  else w.field("name", "unknown");
  if (e.source_ip.empty() && !e.ips.empty()) {
    w.key("intermediate_ips").begin_array();
    for (const auto& ip : e.ips) w.string(ip);
    w.end_array();
  }
  w.end_object();
  w.key("dst_endpoint").begin_object().field("svc_name", "Zendesk").field("domain", e.account).end_object();

  bool request = !e.method.empty() || !e.url.empty() || !e.user_agent.empty() || !e.referrer.empty();
  if (request) {
    w.key("http_request").begin_object();
    if (!e.method.empty()) w.field("http_method", e.method);
    if (!e.url.empty()) {
      w.key("url").begin_object().field("path", path);
      if (!query.empty()) w.field("query_string", query);
      w.end_object();
    }
    if (!e.user_agent.empty()) w.field("user_agent", e.user_agent);
    if (!e.referrer.empty()) w.field("referrer", e.referrer);
    w.end_object();
  }
  if (e.status != 0) {
    w.key("http_response").begin_object().field("code", e.status);
    if (e.bytes_sent >= 0) w.field("length", e.bytes_sent);
    w.end_object();
  }
  if (!e.resource.type.empty()) {
    w.key("resources").begin_array().begin_object().field("type", e.resource.type);
    if (!e.resource.id.empty()) w.field("uid", e.resource.id);
    if (target_user && !e.target_user_name.empty()) w.field("name", e.target_user_name);  // the accessed user, enriched
    else if (e.resource.id.empty()) w.field("name", e.resource.type);  // a collection: the entity needs a name or uid
    w.end_object().end_array();
  }

  // What OCSF has no attribute for.
  w.key("unmapped").begin_object();
  w.field("action", e.action);
  if (!e.origin_service.empty()) w.field("origin_service", e.origin_service);
  if (!e.authorization_type.empty()) w.field("authorization_type", e.authorization_type);
  if (!e.category.empty()) w.field("category", e.category);
  if (!e.resource.subresource.empty()) w.field("resource_subresource", e.resource.subresource);
  if (!e.user_id.empty() && !e.user_role.empty()) w.field("user_role", e.user_role);
  if (target_user && !e.target_user_email.empty()) w.field("target_user_email", e.target_user_email);
  if (!e.search_query.empty()) w.field("search_query", e.search_query);
  if (e.graphql) {
    if (!e.graphql->operation_type.empty()) w.field("graphql_operation_type", e.graphql->operation_type);
    if (e.graphql->query) w.field("graphql_query", *e.graphql->query);
    if (!e.graphql->variables.empty()) w.field("graphql_variables", e.graphql->variables);
  }
  if (!fragment.empty()) w.field("url_fragment", fragment);
  if (!e.extra_json.empty()) w.key("extra").raw(e.extra_json);
  if (!e.invalid_json.empty()) w.key("invalid").raw(e.invalid_json);
  w.end_object();
  if (!e.original.empty()) w.field("raw_data", e.original);
  w.end_object();
}

}  // namespace zf::encode
