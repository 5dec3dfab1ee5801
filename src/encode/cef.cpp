#include "encode/cef.h"

#include "core/encoding.h"

namespace zf::encode {

std::string escape_cef_header(std::string_view v) {
  std::string out;
  for (unsigned char c : v) {
    if (c == '|' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += static_cast<char>(c);
    }
  }
  return sanitize_utf8(out);
}

std::string escape_cef_value(std::string_view v) {
  std::string out;
  for (unsigned char c : v) {
    if (c == '=' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += static_cast<char>(c);
    }
  }
  return sanitize_utf8(out);
}

std::string cef(const AccessEvent& e, int syslog_severity) {
  int sev = syslog_severity >= 0 ? syslog_severity : e.status >= 500 ? 3 : e.status >= 400 ? 4 : 6;
  int cef_sev = sev <= 3 ? 8 : sev == 4 ? 6 : 3;
  std::string out = "CEF:0|Zendesk|Access Logs|" + escape_cef_header(std::to_string(kSchemaVersion)) + "|" +
                    escape_cef_header(e.action.empty() ? "access" : e.action) + "|" +
                    escape_cef_header("Zendesk access: " + (e.action.empty() ? std::string("access") : e.action)) +
                    "|" + std::to_string(cef_sev) + "|";
  bool first_ext = true;  // the header's last '|' ends it; a value may end in '|' too
  auto ext = [&](const char* key, std::string_view value) {
    if (value.empty()) return;
    if (!first_ext) out += ' ';
    first_ext = false;
    out += key;
    out += '=';
    out += escape_cef_value(value);
  };
  ext("rt", std::to_string(e.timestamp_ms));
  ext("externalId", e.id);
  ext("suid", e.user_id);
  bool target_user = e.resource.type == "user" && !e.resource.id.empty();
  ext("suser", e.user_id.empty() ? "" : e.user_name);
  ext("spriv", e.user_id.empty() ? "" : e.user_role);
  ext("duid", target_user ? e.resource.id : "");
  ext("duser", target_user ? e.target_user_name : "");
  ext("src", e.source_ip);
  ext("requestMethod", e.method);
  ext("request", e.url);
  ext("requestClientApplication", e.user_agent);
  ext("requestContext", e.referrer);
  ext("out", e.bytes_sent >= 0 ? std::to_string(e.bytes_sent) : "");
  ext("outcome", e.status == 0 ? "" : e.status < 400 ? "success" : "failure");
  ext("cn1Label", e.status ? "httpStatus" : "");
  ext("cn1", e.status ? std::to_string(e.status) : "");
  ext("cs1Label", e.resource.type.empty() ? "" : "resourceType");
  ext("cs1", e.resource.type);
  ext("cs2Label", e.resource.id.empty() ? "" : "resourceId");
  ext("cs2", e.resource.id);
  ext("cs3Label", "zendeskAccount");
  ext("cs3", e.account);
  ext("cs4Label", e.authorization_type.empty() ? "" : "authorizationType");
  ext("cs4", e.authorization_type);
  ext("cs5Label", e.origin_service.empty() ? "" : "originService");
  ext("cs5", e.origin_service);
  // cs6 is the search (REST) or the query text (GraphQL): never both.
  std::string_view cs6_label = !e.search_query.empty() ? "searchQuery" : e.graphql && e.graphql->query ? "graphqlQuery" : "";
  ext("cs6Label", cs6_label);
  ext("cs6", !e.search_query.empty() ? e.search_query : e.graphql ? e.graphql->query.value_or("") : "");
  ext("cat", e.category);
  ext("msg", e.summary);
  if (e.graphql) {
    ext("flexString1Label", e.graphql->operation_name.empty() ? "" : "graphqlOperation");
    ext("flexString1", e.graphql->operation_name);
    ext("flexString2Label", e.graphql->variables.empty() ? "" : "graphqlVariables");
    ext("flexString2", e.graphql->variables);
  }
  // Past the standard keys: vendor keys, as the CEF specification names them.
  if (e.timestamp_is_ingest_time) ext("ZendeskAccessLogsTimestampAsSent", e.timestamp_raw);
  ext("ZendeskAccessLogsUserEmail", e.user_id.empty() ? "" : e.user_email);  // CEF has no key for an email
  ext("ZendeskAccessLogsTargetUserEmail", target_user ? e.target_user_email : "");
  ext("ZendeskAccessLogsInvalidFields", e.invalid_json);
  ext("ZendeskAccessLogsExtraFields", e.extra_json);
  return out;
}

}  // namespace zf::encode
