#pragma once
// Names for ids: what enrichment adds to an event's actor and to the user
// whose profile was accessed.
#include <string>
#include <string_view>

namespace zf {

struct PersonInfo {
  std::string name, email, role;  // role as the Users API says: "agent", "admin", "end-user"
};

class PeopleLookup {
 public:
  virtual ~PeopleLookup() = default;
  // nullptr when the person is not known (yet).
  virtual const PersonInfo* find(std::string_view user_id) const = 0;
};

}  // namespace zf
