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

std::string cef(const Record& r, const std::string& account, int syslog_severity) {
  int sev = syslog_severity >= 0 ? syslog_severity : r.status >= 500 ? 3 : r.status >= 400 ? 4 : 6;
  int cef_sev = sev <= 3 ? 8 : sev == 4 ? 6 : 3;
  std::string out = "CEF:0|Zendesk|Access Logs|" + escape_cef_header(std::to_string(kSchemaVersion)) + "|" +
                    escape_cef_header(r.action.empty() ? "access" : r.action) + "|" +
                    escape_cef_header("Zendesk access: " + (r.action.empty() ? std::string("access") : r.action)) +
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
  ext("rt", r.timestamp_ms ? std::to_string(r.timestamp_ms) : "");
  ext("externalId", r.id);
  ext("suid", r.user_id);
  ext("src", r.source_ip);
  ext("requestMethod", r.method);
  ext("request", r.url);
  ext("outcome", r.status == 0 ? "" : r.status < 400 ? "success" : "failure");
  ext("cn1Label", r.status ? "httpStatus" : "");
  ext("cn1", r.status ? std::to_string(r.status) : "");
  ext("cs1Label", r.resource_type.empty() ? "" : "resourceType");
  ext("cs1", r.resource_type);
  ext("cs2Label", r.resource_id.empty() ? "" : "resourceId");
  ext("cs2", r.resource_id);
  ext("cs3Label", "zendeskAccount");
  ext("cs3", account);
  return out;
}

}  // namespace zf::encode
