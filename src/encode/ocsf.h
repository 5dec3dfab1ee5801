#pragma once
// ocsf_json: the access event as an OCSF 1.8.0 API Activity event (class
// 6003), one line of JSON. What was done decides activity_id (a GraphQL
// query or a POST search is a Read); docs/FIELDS.md maps every attribute.
#include <string>

#include "core/access_event.h"

namespace zf::encode {

inline constexpr const char* kOcsfVersion = "1.8.0";

// Appends the event to `out`.
void write_ocsf_json(const AccessEvent& e, std::string& out);

}  // namespace zf::encode
