#pragma once
// Pure formatters, testable without a socket: RFC 5424 messages (with the
// record, or its CEF encoding (encode/cef.h), as MSG, key fields as
// structured data), and the two TCP framings. No value can split or forge
// a message: control characters in header fields, SD-PARAMs and CEF values
// are escaped or replaced, and the record JSON has none.
#include <cstddef>
#include <string>
#include <string_view>

#include "core/record.h"
#include "encode/encoder.h"

namespace zf::sinks::syslog {

enum class Framing { OctetCounting, LineFeed };

struct FormatSettings {
  // MSG: the record in this encoding; CEF then replaces the structured data.
  encode::Encoding encoding = encode::Encoding::EcsJson;
  int facility = 13;          // log audit (RFC 5424 facility 13)
  int severity = 6;           // informational; ignored when by_status
  bool severity_by_status = true;
  std::string hostname = "-";
  std::string app_name = "zendesk-forwarder";
  std::string msgid = "access";
  std::string sd_id = "zendesk@32473";
  bool bom = false;           // RFC 5424 MSG-UTF8 BOM (many receivers mishandle it)
};

// The structured data's url parameter is a convenience for receivers that
// index SD only: cut to this many bytes at a UTF-8 boundary. The record in
// MSG always has the whole URL.
inline constexpr size_t kSdUrlMaxBytes = 512;

// <PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [SD] MSG
std::string format_message(const Record& r, const FormatSettings& s);
// Same, with MSG cut so the whole message fits `max_bytes` (never inside a
// UTF-8 sequence; the header and structured data are kept). Sets
// `truncated` when it had to cut.
std::string format_message_within(const Record& r, const FormatSettings& s,
                                  size_t max_bytes, bool& truncated);

std::string escape_sd_param(std::string_view v);   // ", \, ] escaped; control characters as \n, \r, \t, \u00XX
std::string header_token(std::string_view v, size_t max_len);  // PRINTUSASCII, no spaces, "-" when empty

void append_framed(std::string& out, std::string_view message, Framing framing);

int severity_for(const Record& r, const FormatSettings& s);

}  // namespace zf::sinks::syslog
