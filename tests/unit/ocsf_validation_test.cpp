// Every OCSF record the golden pages produce, validated against the OCSF
// 1.8.0 schema source (tests/fixtures/ocsf-1.8.0, copied unchanged): the
// API Activity class with its base event, profiles ($include) and objects
// resolved through `extends`; required attributes present, no attribute
// outside the class or object, types, enums and at_least_one constraints.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <map>
#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "encode/ocsf.h"
#include "golden_pages.h"

using nlohmann::json;
using namespace zf;

namespace {

const std::string kSchema = std::string(ZF_TEST_FIXTURES) + "/ocsf-1.8.0/";

json load(const std::string& relative) { return json::parse(zf::testing::read_file(kSchema + relative)); }

// Attributes of a schema file with its $include files merged in (the
// file's own definitions win). A profile's attributes are tagged with it:
// they apply only to records that list the profile in metadata.profiles.
json attributes_of(const json& file) {
  json attrs = json::object();
  if (!file.contains("attributes")) return attrs;
  for (const auto& inc : file["attributes"].value("$include", json::array())) {
    json included = load(inc.get<std::string>());
    json more = attributes_of(included);
    if (included.value("meta", "") == "profile")
      for (auto& a : more) a["_profile"] = included["name"];
    attrs.update(more);
  }
  for (auto it = file["attributes"].begin(); it != file["attributes"].end(); ++it) {
    if (it.key() == "$include") continue;
    json merged = attrs.value(it.key(), json::object());
    merged.erase("_profile");  // defined here, not by a profile
    merged.update(it.value());
    attrs[it.key()] = merged;
  }
  return attrs;
}

struct Definition {
  json attributes;
  json constraints;
};

class Schema {
 public:
  Schema() : dictionary_(load("dictionary.json")) {}

  // The event class, through extends: api_activity -> application -> base_event.
  Definition event_class() {
    json base = attributes_of(load("events/base_event.json"));
    json category = attributes_of(load("events/application/application.json"));
    json cls = attributes_of(load("events/application/api_activity.json"));
    for (auto* layer : {&category, &cls})
      for (auto it = layer->begin(); it != layer->end(); ++it) {
        json merged = base.value(it.key(), json::object());
        if (!it.value().contains("_profile")) merged.erase("_profile");
        merged.update(it.value());
        base[it.key()] = merged;
      }
    return {base, json()};
  }

  const Definition& object(const std::string& name) {
    auto found = objects_.find(name);
    if (found != objects_.end()) return found->second;
    json file = load("objects/" + name + ".json");
    Definition d{json::object(), file.value("constraints", json())};
    if (file.contains("extends")) {
      const Definition& parent = object(file["extends"].get<std::string>());
      d.attributes = parent.attributes;
      if (d.constraints.is_null()) d.constraints = parent.constraints;
    }
    json own = attributes_of(file);
    for (auto it = own.begin(); it != own.end(); ++it) {
      json merged = d.attributes.value(it.key(), json::object());
      merged.update(it.value());
      d.attributes[it.key()] = merged;
    }
    return objects_[name] = d;
  }

  // An attribute's definition: the dictionary's, overridden by the class's or object's.
  json attribute(const std::string& name, const json& local) {
    json def = dictionary_["attributes"].value(name, json::object());
    json enums = def.value("enum", json::object());
    def.update(local);
    if (local.contains("enum")) enums.update(local["enum"]);
    if (!enums.empty()) def["enum"] = enums;
    return def;
  }

  // string_t, integer_t... for a scalar type; "" for an object type.
  std::string base_type(const std::string& type) {
    if (type.size() < 2 || type.substr(type.size() - 2) != "_t") return "";
    const json& types = dictionary_["types"]["attributes"];
    if (types.contains(type) && types[type].contains("type")) return base_type(types[type]["type"]);
    return type;
  }

 private:
  json dictionary_;
  std::map<std::string, Definition> objects_;
};

struct Validator {
  Schema& schema;
  std::map<std::string, std::string> problems;  // "path: problem" -> example event id
  std::string id;
  std::set<std::string> profiles;  // the record's metadata.profiles

  void fail(const std::string& what) { problems.emplace(what, id); }

  void check_object(const json& v, const Definition& def, const std::string& path) {
    if (!v.is_object()) return fail(path + ": not an object");
    auto in_use = [&](const json& attr) { return !attr.contains("_profile") || profiles.count(attr["_profile"]); };
    for (auto it = def.attributes.begin(); it != def.attributes.end(); ++it)
      if (it.value().value("requirement", "") == "required" && in_use(it.value()) && !v.contains(it.key()))
        fail((path.empty() ? "" : path + ".") + it.key() + ": required, missing");
    if (def.constraints.contains("at_least_one")) {
      bool any = false;
      for (const auto& k : def.constraints["at_least_one"]) any |= v.contains(k.get<std::string>());
      if (!any) fail(path + ": needs at least one of " + def.constraints["at_least_one"].dump());
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
      std::string p = path.empty() ? it.key() : path + "." + it.key();
      if (!def.attributes.contains(it.key())) {
        fail(p + ": not an attribute here");
        continue;
      }
      if (!in_use(def.attributes[it.key()])) {
        fail(p + ": belongs to profile " + def.attributes[it.key()]["_profile"].get<std::string>() +
             ", not in metadata.profiles");
        continue;
      }
      check_value(it.value(), schema.attribute(it.key(), def.attributes[it.key()]), p);
    }
  }

  void check_value(const json& v, const json& def, const std::string& path) {
    if (def.value("is_array", false)) {
      if (!v.is_array()) return fail(path + ": not an array");
      for (const auto& item : v) check_one(item, def, path + "[]");
      return;
    }
    check_one(v, def, path);
  }

  void check_one(const json& v, const json& def, const std::string& path) {
    std::string type = def.value("type", "");
    std::string base = schema.base_type(type);
    if (base.empty()) {
      if (type == "object") {
        if (!v.is_object()) fail(path + ": not an object");
        return;  // free-form (unmapped)
      }
      return check_object(v, schema.object(type), path);
    }
    bool ok = base == "string_t"    ? v.is_string()
              : base == "integer_t" ? v.is_number_integer()
              : base == "long_t"    ? v.is_number_integer()
              : base == "float_t"   ? v.is_number()
              : base == "boolean_t" ? v.is_boolean()
                                    : true;  // json_t
    if (!ok) return fail(path + ": not a " + type + ": " + v.dump().substr(0, 40));
    if (type == "ip_t") {
      unsigned char buf[16];
      std::string s = v.get<std::string>();
      if (inet_pton(AF_INET, s.c_str(), buf) != 1 && inet_pton(AF_INET6, s.c_str(), buf) != 1)
        fail(path + ": not an IP address: " + s);
    }
    // The uids are checked against the class below; the dictionary's enum
    // for them is filled in only by the schema server.
    static const std::set<std::string> derived = {"category_uid", "class_uid", "type_uid"};
    if (def.contains("enum") && !derived.count(path)) {
      std::string key = v.is_string() ? v.get<std::string>() : v.dump();
      if (!def["enum"].contains(key)) fail(path + ": " + key + " is not in its enum");
    }
  }
};

std::map<std::string, std::string> validate_all(const std::vector<json>& records, size_t& checked) {
  Schema schema;
  Definition cls = schema.event_class();
  Validator v{schema, {}, ""};
  for (const json& r : records) {
    ++checked;
    v.id = r.contains("metadata") ? r["metadata"].value("uid", "?") : "?";
    v.profiles.clear();
    if (r.contains("metadata") && r["metadata"].contains("profiles"))
      for (const auto& p : r["metadata"]["profiles"]) v.profiles.insert(p.get<std::string>());
    v.check_object(r, cls, "");
    // Class identity: category 6 (Application Activity), class 3 in it.
    if (r.value("category_uid", 0) != 6) v.fail("category_uid: not 6");
    if (r.value("class_uid", 0) != 6003) v.fail("class_uid: not 6003");
    if (r.value("type_uid", int64_t{0}) != 600300 + r.value("activity_id", 0)) v.fail("type_uid: not class_uid*100 + activity_id");
    if (r["metadata"].value("version", "") != "1.8.0") v.fail("metadata.version: not 1.8.0");
  }
  return v.problems;
}

std::string table(const std::map<std::string, std::string>& problems) {
  std::ostringstream out;
  for (const auto& [what, id] : problems) out << "  " << what << "   (e.g. event " << id << ")\n";
  return out.str();
}

}  // namespace

TEST_CASE("ocsf (#14): every record is a valid OCSF 1.8.0 API Activity event") {
  std::vector<json> records;
  std::map<int, size_t> activities;
  for (const auto& page : zf::testing::kGoldenPages)
    for (const Record& r : zf::testing::golden_records(page)) {
      std::string out;
      encode::write_ocsf_json(r.event, out);
      records.push_back(json::parse(out));
      ++activities[records.back()["activity_id"].get<int>()];
    }
  size_t checked = 0;
  auto problems = validate_all(records, checked);
  MESSAGE(checked << " records; activity_id counts: 1=" << activities[1] << " 2=" << activities[2] << " 3="
                  << activities[3] << " 4=" << activities[4] << " 99=" << activities[99] << "\n"
                  << table(problems));
  CHECK(checked >= 600);
  CHECK(activities[2] > 0);
  CHECK(problems.empty());
}

TEST_CASE("ocsf (#14): the validator finds missing, unknown, mistyped and out-of-enum attributes") {
  json bad = json::parse(R"({"activity_id":7,"category_uid":6,"class_uid":6003,"type_uid":600307,"severity_id":1,
      "time":"yesterday","metadata":{"version":"1.8.0","product":{"vendor_name":"Zendesk"},"uid":"x"},
      "actor":{},"api":{"operation":"ticket.read"},"src_endpoint":{"ip":"00.00.000.85"},"colour":"red"})");
  size_t checked = 0;
  std::string all = table(validate_all({bad}, checked));
  CAPTURE(all);
  for (const char* expected : {"activity_id: 7 is not in its enum", "time: not a timestamp_t", "colour: not an attribute here",
                               "actor: needs at least one of", "src_endpoint.ip: not an IP address",
                               "metadata.product: needs at least one of"})
    CHECK(all.find(expected) != std::string::npos);
}

TEST_CASE("ocsf (#14): a GraphQL query and a POST search are reads; writes are creates, updates and deletes") {
  struct Case {
    std::string event;
    int activity;
  };
  std::vector<Case> cases{
      {R"({"id":"o1","method":"POST","url":"/graphql","graphql":{"operation_name":"ticket","operation_type":"QUERY","variables":"{\"id\":\"1\"}"}})", 2},
      {R"({"id":"o2","method":"POST","url":"/api/v2/search.json?query=x"})", 2},
      {R"({"id":"o3","method":"POST","url":"/api/v2/tickets.json"})", 1},
      {R"({"id":"o4","method":"PUT","url":"/api/v2/tickets/1.json"})", 3},
      {R"({"id":"o5","method":"DELETE","url":"/api/v2/users/1.json"})", 4},
      {R"({"id":"o6","method":"POST","url":"/graphql","graphql":{"operation_type":"MUTATION","variables":{"ticketId":3}}})", 3},
  };
  normalize::Normalizer n({"acme", false});
  for (const auto& c : cases) {
    CAPTURE(c.event);
    auto r = std::get<Record>(n.normalize_json(c.event));
    std::string out;
    encode::write_ocsf_json(r.event, out);
    json o = json::parse(out);
    CHECK(o["activity_id"] == c.activity);
    CHECK(o["type_uid"] == 600300 + c.activity);
    CHECK(o["metadata"]["uid"] == r.event.id);
    CHECK(o["src_endpoint"]["name"] == "unknown");  // no ip_address: the fallback
  }
}

// The attribute paths of a record ("actor.user.name", "resources[].uid");
// unmapped is free-form and one path.
void paths_of(const json& v, const std::string& path, std::set<std::string>& out) {
  if (v.is_object() && path != "unmapped") {
    for (auto it = v.begin(); it != v.end(); ++it) paths_of(it.value(), path.empty() ? it.key() : path + "." + it.key(), out);
  } else if (v.is_array() && !v.empty() && v[0].is_object()) {
    for (const auto& item : v) paths_of(item, path + "[]", out);
  } else {
    out.insert(path);
  }
}

TEST_CASE("ocsf (#15, #26 item 6): an enriched actor and accessed user are still valid OCSF 1.8.0, and in FIELDS.md") {
  std::vector<json> records;
  std::set<std::string> paths;
  size_t targets = 0;
  for (const auto& page : zf::testing::kGoldenPages)
    for (const Record& r : zf::testing::enriched_golden_records(page)) {
      std::string out;
      encode::write_ocsf_json(r.event, out);
      records.push_back(json::parse(out));
      paths_of(records.back(), "", paths);
      const json& o = records.back();
      if (!r.event.user_id.empty()) {
        CHECK(o["actor"]["user"]["name"] == r.event.user_name);
        CHECK(o["actor"]["user"]["email_addr"] == "ace@example.com");
        CHECK(o["actor"]["user"]["type_id"] == 1);  // an agent is a User
        CHECK(o["unmapped"]["user_role"] == "agent");
      }
      if (r.event.resource.type == "user" && !r.event.resource.id.empty()) {
        ++targets;
        CHECK(o["resources"][0]["uid"] == r.event.resource.id);
        CHECK(o["resources"][0]["name"] == "Customer 1");
        CHECK(o["unmapped"]["target_user_email"] == "customer1@example.org");
      } else {
        CHECK_FALSE(o["unmapped"].contains("target_user_email"));
      }
    }
  CHECK(targets > 0);
  size_t checked = 0;
  auto problems = validate_all(records, checked);
  CAPTURE(table(problems));
  CHECK(problems.empty());
  // docs/FIELDS.md names every attribute these records have.
  std::set<std::string> names = zf::testing::documented_names("## ocsf_json");
  std::string missing;
  for (const auto& p : paths)
    if (!zf::testing::documented(names, p)) missing += "  " + p + "\n";
  CAPTURE(missing);
  CHECK(missing.empty());
}

TEST_CASE("ocsf (#26 item 6): each Zendesk role is an OCSF account type") {
  normalize::Normalizer n({"acme", false});
  std::vector<json> records;
  for (auto [role, type_id] : std::vector<std::pair<std::string, int>>{{"admin", 2}, {"agent", 1}, {"end-user", 1}, {"light-agent", 99}}) {
    CAPTURE(role);
    auto r = std::get<Record>(n.normalize_json(R"({"id":"01HROLE0000000000000000001","user_id":7,"url":"/api/v2/tickets/1.json"})"));
    r.event.user_role = role;
    std::string out;
    encode::write_ocsf_json(r.event, out);
    json o = json::parse(out);
    CHECK(o["actor"]["user"]["type_id"] == type_id);
    if (type_id == 99) CHECK(o["actor"]["user"]["type"] == role);
    records.push_back(o);
  }
  size_t checked = 0;
  auto problems = validate_all(records, checked);
  CAPTURE(table(problems));
  CHECK(problems.empty());
}

TEST_CASE("ocsf (#26 item 5): a list in ip_address gives no src_endpoint.ip; its valid addresses are intermediate") {
  struct Case {
    std::string given;
    std::string ip;                          // "" = no src_endpoint.ip
    std::vector<std::string> intermediate;   // src_endpoint.intermediate_ips
  };
  std::vector<Case> cases{
      {"203.0.113.9", "203.0.113.9", {}},
      {"10.0.0.1, 203.0.113.9", "", {"10.0.0.1", "203.0.113.9"}},
      {" 203.0.113.9 ", "", {"203.0.113.9"}},
      {"unknown", "", {}},
  };
  normalize::Normalizer n({"acme", false});
  std::vector<json> records;
  for (const auto& c : cases) {
    CAPTURE(c.given);
    auto r = std::get<Record>(n.normalize_json(R"({"id":"01HIP00000000000000000001","timestamp":"2026-11-24T10:00:00Z",)"
                                               R"("url":"/api/v2/tickets/1.json","ip_address":)" + json(c.given).dump() + "}"));
    std::string out;
    encode::write_ocsf_json(r.event, out);
    json o = json::parse(out);
    const json& src = o["src_endpoint"];
    if (c.ip.empty()) {
      CHECK_FALSE(src.contains("ip"));
      CHECK(src["name"] == "unknown");
    } else {
      CHECK(src["ip"] == c.ip);
    }
    if (c.intermediate.empty()) CHECK_FALSE(src.contains("intermediate_ips"));
    else CHECK(src["intermediate_ips"] == json(c.intermediate));
    if (c.ip.empty()) CHECK(o["unmapped"]["invalid"]["ip_address"] == c.given);
    records.push_back(o);
  }
  size_t checked = 0;
  auto problems = validate_all(records, checked);
  CAPTURE(table(problems));
  CHECK(problems.empty());
}
