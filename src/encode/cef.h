#pragma once
// CEF:0 for ArcSight, QRadar and other CEF consumers. Header fields escape
// | and \, extension values = and \ (CR and LF as \r and \n); other control
// characters become spaces, so no value can forge a field.
#include <string>
#include <string_view>

#include "core/access_event.h"
#include "core/record.h"

namespace zf::encode {

// CEF severity follows the HTTP status (8 for 5xx, 6 for 4xx, 3 otherwise)
// unless `syslog_severity` (0..7) is given, as the syslog sink does when
// its severity is fixed.
std::string cef(const AccessEvent& e, int syslog_severity = -1);

std::string escape_cef_header(std::string_view v);
std::string escape_cef_value(std::string_view v);

}  // namespace zf::encode
