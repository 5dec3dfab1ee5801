#include "syslog/format.h"

#include <cstdio>

#include "core/encoding.h"
#include "encode/cef.h"

namespace zf::sinks::syslog {

namespace {
void append_control_escape(std::string& out, unsigned char c) {
  switch (c) {
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default: {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    }
  }
}
}  // namespace

std::string escape_sd_param(std::string_view v) {
  std::string out;
  out.reserve(v.size() + 8);
  for (unsigned char c : v) {
    if (c == '"' || c == '\\' || c == ']') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      // RFC 5424 only escapes " \ ]; a raw CR/LF would split the message
      // under LF framing, so write them as visible escapes (the backslash
      // itself escaped, so a parser yields the two characters \n).
      out += '\\';
      append_control_escape(out, c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return sanitize_utf8(out);
}


std::string header_token(std::string_view v, size_t max_len) {
  std::string out;
  for (unsigned char c : v) {
    if (out.size() >= max_len) break;
    out += (c >= 33 && c <= 126) ? static_cast<char>(c) : '_';
  }
  return out.empty() ? "-" : out;
}

int severity_for(const Record& r, const FormatSettings& s) {
  if (!s.severity_by_status) return s.severity;
  if (r.event.status >= 500) return 3;  // error
  if (r.event.status >= 400) return 4;  // warning
  return 6;                       // informational
}

namespace {

std::string header(const Record& r, const FormatSettings& s) {
  std::string out = "<" + std::to_string(s.facility * 8 + severity_for(r, s)) + ">1 ";
  out += r.event.timestamp.empty() ? "-" : r.event.timestamp;
  out += ' ';
  out += header_token(s.hostname, 255);
  out += ' ';
  out += header_token(s.app_name, 48);
  out += " - ";
  out += header_token(s.msgid, 32);
  out += ' ';
  return out;
}

// The longest prefix of `s` within `max_bytes` that does not split a UTF-8
// sequence.
std::string_view utf8_prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

std::string structured_data(const Record& r, const FormatSettings& s, bool minimal) {
  std::string sd = "[" + header_token(s.sd_id, 32);
  auto param = [&](const char* name, std::string_view value) {
    if (value.empty()) return;
    sd += ' ';
    sd += name;
    sd += "=\"";
    sd += escape_sd_param(value);
    sd += '"';
  };
  param("id", r.event.id);
  if (!minimal) {
    param("account", r.event.account);
    param("user", r.event.user_id);
    param("src", r.event.source_ip);
    param("method", r.event.method);
    param("status", r.event.status ? std::to_string(r.event.status) : "");
    param("action", r.event.action);
    param("resource_type", r.event.resource.type);
    param("resource_id", r.event.resource.id);
    param("url", utf8_prefix(r.event.url, kSdUrlMaxBytes));
    param("schema", std::to_string(kSchemaVersion));
  }
  sd += ']';
  return sd;
}


std::string body(const Record& r, const FormatSettings& s) {
  std::string msg;
  if (s.encoding == encode::Encoding::Cef) {
    msg = encode::cef(r.event, severity_for(r, s));  // CEF's severity follows the message's
  } else {
    std::string scratch;
    msg = encode::encode(s.encoding, r, scratch);
  }
  return s.bom ? "\xEF\xBB\xBF" + msg : msg;
}

}  // namespace

std::string format_message(const Record& r, const FormatSettings& s) {
  // CEF carries its fields itself; the RFC 5424 envelope then has no SD.
  std::string sd = s.encoding == encode::Encoding::Cef ? "-" : structured_data(r, s, false);
  return header(r, s) + sd + " " + body(r, s);
}

std::string format_message_within(const Record& r, const FormatSettings& s,
                                  size_t max_bytes, bool& truncated) {
  truncated = false;
  std::string msg = format_message(r, s);
  if (msg.size() <= max_bytes) return msg;
  truncated = true;
  std::string head = header(r, s) + (s.encoding == encode::Encoding::Cef ? "-" : structured_data(r, s, false)) + " ";
  if (head.size() + 16 > max_bytes)  // keep at least the event id identifiable
    head = header(r, s) + structured_data(r, s, true) + " ";
  std::string b = body(r, s);
  size_t room = max_bytes > head.size() ? max_bytes - head.size() : 0;
  size_t cut = std::min(room, b.size());
  // Back off to a UTF-8 boundary.
  while (cut > 0 && cut < b.size() && (static_cast<unsigned char>(b[cut]) & 0xC0) == 0x80) --cut;
  return head + b.substr(0, cut);
}

void append_framed(std::string& out, std::string_view message, Framing framing) {
  if (framing == Framing::OctetCounting) {
    out += std::to_string(message.size());
    out += ' ';
    out += message;
  } else {
    out += message;
    out += '\n';
  }
}

}  // namespace zf::sinks::syslog
