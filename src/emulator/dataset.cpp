#include "emulator/dataset.h"

#include <array>
#include <string>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "core/time_format.h"

namespace zf::emulator {

std::string make_ulid(int64_t ms, std::mt19937_64& rng) {
  static const char* alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::string out(26, '0');
  uint64_t t = static_cast<uint64_t>(ms);
  for (int i = 9; i >= 0; --i) {
    out[i] = alphabet[t & 31];
    t >>= 5;
  }
  uint64_t hi = rng(), lo = rng();
  for (int i = 10; i < 26; ++i) {
    uint64_t& src = i < 18 ? hi : lo;
    out[i] = alphabet[src & 31];
    src >>= 5;
  }
  return out;
}

namespace {

template <typename T, size_t N>
const T& pick(const std::array<T, N>& a, std::mt19937_64& rng) {
  return a[rng() % N];
}

std::string ipv4(std::mt19937_64& rng) {
  return std::to_string(rng() % 223 + 1) + "." + std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) +
         "." + std::to_string(rng() % 254 + 1);
}

std::string ipv6(std::mt19937_64& rng) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "2001:db8:%x:%x::%x", static_cast<unsigned>(rng() % 0xffff),
                static_cast<unsigned>(rng() % 0xffff), static_cast<unsigned>(rng() % 0xffff));
  return buf;
}

std::string url_encode_q(const std::string& s) { return url_encode(s, true); }

}  // namespace

std::vector<Person> make_people(size_t agents, size_t end_users, bool hostile) {
  static const std::array<std::string, 6> kHostile = {
      "Esc\x1b]0;pwned\x07\x1b[2JAna",                          // OSC title, BEL, clear screen
      "Csi\xc2\x9b" "31mBo",                                     // C1 CSI (U+009B)
      "Spoof\xe2\x80\xae" "adnaN",                               // U+202E right-to-left override
      "Zero\xe2\x80\x8bWidth\xe2\x81\xa6Iso\xef\xbb\xbf",          // U+200B, U+2066, U+FEFF
      "<script>alert(1)</script><b onmouseover=x>Markup</b>",
      std::string(296, 'L') + "Long"};
  static const std::array<std::string, 12> kFirst = {"Ana", "Bo", "Chen", "Dara", "Émile", "Farah",
                                                     "Gus", "Hana", "Ivo", "Jun", "Kai", "Lena"};
  static const std::array<std::string, 10> kLast = {"Silva", "O'Brien", "Nakamura", "Smith, Jr.", "Müller",
                                                    "\"Ace\" Diaz", "Kowalski", "Ng", "Rossi", "Haddad"};
  std::vector<Person> out;
  for (size_t i = 0; i < agents; ++i) {
    std::string name = hostile && i < kHostile.size() ? kHostile[i]
                                                      : kFirst[i % kFirst.size()] + " " + kLast[(i / kFirst.size() + i) % kLast.size()];
    out.push_back({360000000000LL + static_cast<int64_t>(i) * 7919, name,
                   "agent" + std::to_string(i) + "@example.com", "agent"});
  }
  for (size_t j = 0; j < end_users; ++j)
    out.push_back({9000000LL + static_cast<int64_t>(j), "Customer " + std::to_string(j),
                   "customer" + std::to_string(j) + "@example.org", "end-user"});
  return out;
}

Emulator::Event make_event(int64_t ts_ms, std::mt19937_64& rng, bool awkward, const Population& people,
                           std::string_view fixed_id) {
  static const std::array<std::string, 8> kSearches = {"status:open assignee:me", "refund", "foobar",
                                                       "password reset", "type:user email:jane@example.com",
                                                       "invoice 2026", "priority:urgent", "organization:acme"};
  static const std::array<std::string, 4> kOrigins = {"Zendesk", "Support Agent Workspace", "Admin Center", "API"};
  static const std::array<int, 10> kStatuses = {200, 200, 200, 200, 200, 200, 200, 403, 404, 500};

  nlohmann::json e;
  int64_t user_id = static_cast<int64_t>(rng() % 9'000'000'000'000ULL) + 1'000'000'000'000LL;
  if (rng() % 5 == 0) user_id = static_cast<int64_t>(rng() % 1000) + 1;
  if (!people.actors.empty()) {
    // A few agents do most of the reading, as in a real team.
    size_t n = people.actors.size();
    user_id = people.actors[rng() % (rng() % n + 1)];
  }
  std::string id = fixed_id.empty() ? make_ulid(ts_ms, rng) : std::string(fixed_id);
  std::string method = "GET", url;
  uint64_t kind = rng() % 100;
  int64_t object_id = static_cast<int64_t>(rng() % 5'000'000) + 1;
  // Profiles read are the account's own end users when it has some.
  int64_t profile_id = people.profiles.empty() ? object_id : people.profiles[rng() % people.profiles.size()];
  // An account's agents work a backlog: some tickets are read again and again.
  if (!people.actors.empty()) object_id = 100000 + static_cast<int64_t>(rng() % (rng() % 20000 + 1));
  if (kind < 30) {
    url = "/api/v2/tickets/" + std::to_string(object_id) + ".json";
  } else if (kind < 38) {
    url = "/api/v2/tickets/" + std::to_string(object_id) + "/comments.json";
  } else if (kind < 50) {
    url = "/api/v2/users/" + std::to_string(profile_id) + (rng() % 2 ? ".json" : "/related.json");
  } else if (kind < 55) {
    url = "/api/v2/organizations/" + std::to_string(object_id) + ".json";
  } else if (kind < 58) {
    url = "/api/v2/groups/" + std::to_string(object_id % 500 + 1) + ".json";
  } else if (kind < 62) {
    method = rng() % 2 ? "PUT" : "DELETE";
    url = "/api/v2/tickets/" + std::to_string(object_id) + ".json";
  } else if (kind < 64) {
    method = "POST";
    url = "/api/v2/tickets.json";
  } else if (kind < 76) {
    std::string q = pick(kSearches, rng);
    switch (rng() % 3) {
      case 0: url = "/api/v2/search.json?query=" + url_encode_q(q); break;
      case 1: url = "/api/v2/users/search?query=" + url_encode_q(q); break;
      default: method = "POST"; url = "/api/v2/search?query=" + url_encode_q(q);
    }
  } else {
    method = "POST";
    url = "/graphql";
    bool ticket = rng() % 3 != 0;
    std::string op = ticket ? "ticket" : "user";
    std::string query = "query " + op + "($id: ID!) { " + op + "(id: $id) { id " +
                        (ticket ? "subject assignee { user { id name __typename } }" : "name email") + " } }";
    if (rng() % 4 == 0) query = query.substr(0, query.size() / 2) + "\u2026";
    e["graphql"] = {{"operation_name", op},
                    {"operation_type", "QUERY"},
                    {"query", query},
                    {"variables", nlohmann::json({{"id", std::to_string(ticket ? object_id : profile_id)}}).dump()}};
  }
  std::string ip = rng() % 10 == 0 ? ipv6(rng) : ipv4(rng);
  if (rng() % 20 == 0) ip = "";

  if (awkward && rng() % 100 < 4) {
    switch (rng() % 7) {
      case 0: ip = ""; url = "/api/v2/search.json?query=" + url_encode_q("café 東京 🎉 naïve"); break;
      case 1: url = "/api/v2/search?query=he said \"hi\" \\ back] [x=1|y"; break;  // raw, as logged
      case 2: url = std::string("/api/v2/search?query=line1\nline2\r\x01\x1b[31m"); break;
      case 3:
        e["client"] = "Mozilla/5.0 (X11; Linux x86_64) \"quoted\"";
        e["authorization_type"] = "Basic";
        e["bytes_sent"] = static_cast<int64_t>(rng() % 100000);
        e["category"] = "Tickets";
        e["summary"] = "Show ticket";
        e["new_field"] = {{"nested", {1, 2, nullptr}}, {"flag", true}};
        break;
      case 4:
        method = "POST";
        url = "/graphql";
        e["graphql"] = {{"operation_name", "user"}, {"operation_type", "QUERY"}, {"query", "query user {"},
                        {"variables", "{not json"}};
        break;
      case 5: url = "/api/v2/tickets/" + std::to_string(object_id) + ".json?" + std::string(8192, 'x'); break;
      default: url = std::string("/api/v2/users/") + std::to_string(object_id) + ".json?note=nul%00byte&t=\t"; break;
    }
  }
  e["id"] = id;
  e["ip_address"] = ip;
  e["method"] = method;
  e["status"] = pick(kStatuses, rng);
  e["timestamp"] = format_utc_seconds(ts_ms / 1000);
  e["url"] = url;
  e["user_id"] = user_id;
  if (rng() % 3 == 0) e["origin_service"] = pick(kOrigins, rng);

  Emulator::Event out;
  out.ts_ms = (ts_ms / 1000) * 1000;  // the API's timestamps have second granularity
  out.id = std::move(id);
  out.json = e.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out.user_id = user_id;
  out.path = url.substr(0, url.find('?'));
  return out;
}

}  // namespace zf::emulator
