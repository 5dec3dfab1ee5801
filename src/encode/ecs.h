#pragma once
// ecs_json: the access event as an Elastic Common Schema document, one
// line of JSON (docs/FIELDS.md lists every field). Fields ECS has no place
// for stay under `zendesk.*`.
#include <string>

#include "core/access_event.h"

namespace zf::encode {

// The ECS release the document conforms to (ecs.version); the conformance
// test checks every field against its ecs_flat.yml.
inline constexpr const char* kEcsVersion = "9.4.0";

// Appends the document to `out`.
void write_ecs_json(const AccessEvent& e, std::string& out);

}  // namespace zf::encode
