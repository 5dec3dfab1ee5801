// Every field of every ECS record the golden pages produce, checked against
// the official ECS 9.4.0 definitions (tests/fixtures/ecs-9.4.0/ecs_flat.yml,
// copied unchanged from the ECS release): an ECS field of the right type
// and allowed value, or a path under zendesk.*; and one JSON type per path
// across all records, so an index never meets a mapping conflict.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "core/time_format.h"
#include "encode/ecs.h"
#include "golden_pages.h"

using nlohmann::json;
using namespace zf;

namespace {

struct EcsField {
  std::string type;
  std::map<std::string, std::string> multi_fields;  // name -> type (user.name: text -> match_only_text)
  std::set<std::string> allowed;  // event.kind, category, type, outcome
  size_t ignore_above = 0;
};

struct Ecs {
  std::map<std::string, EcsField> fields;
  std::map<std::string, std::set<std::string>> types_of_category;  // expected_event_types
};

Ecs load_ecs() {
  Ecs ecs;
  YAML::Node root = YAML::LoadFile(std::string(ZF_TEST_FIXTURES) + "/ecs-9.4.0/ecs_flat.yml");
  for (const auto& entry : root) {
    EcsField f;
    f.type = entry.second["type"].as<std::string>();
    if (entry.second["ignore_above"]) f.ignore_above = entry.second["ignore_above"].as<size_t>();
    for (const auto& mf : entry.second["multi_fields"])
      f.multi_fields[mf["name"].as<std::string>()] = mf["type"].as<std::string>();
    for (const auto& v : entry.second["allowed_values"]) {
      f.allowed.insert(v["name"].as<std::string>());
      if (entry.first.as<std::string>() == "event.category")
        for (const auto& t : v["expected_event_types"])
          ecs.types_of_category[v["name"].as<std::string>()].insert(t.as<std::string>());
    }
    ecs.fields[entry.first.as<std::string>()] = f;
  }
  return ecs;
}

std::string json_type(const json& v) {
  if (v.is_array()) return "array of " + (v.empty() ? std::string("nothing") : json_type(v[0]));
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  return v.type_name();
}

// Does one value (not an array) fit the ECS type?
std::string misfit(const json& v, const std::string& type) {
  static const std::set<std::string> strings = {"keyword", "constant_keyword", "wildcard", "match_only_text"};
  if (strings.count(type)) return v.is_string() ? "" : "a " + json_type(v) + ", not a string";
  if (type == "ip") {
    unsigned char buf[16];
    std::string s = v.is_string() ? v.get<std::string>() : "";
    bool ok = inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
    return ok ? "" : "not an IP address: " + v.dump();
  }
  if (type == "date") return v.is_string() && parse_rfc3339_ms(v.get<std::string>()) ? "" : "not an ISO 8601 date: " + v.dump();
  if (type == "long" || type == "integer") return v.is_number_integer() ? "" : "not an integer: " + v.dump();
  if (type == "float" || type == "double" || type == "scaled_float") return v.is_number() ? "" : "not a number";
  if (type == "boolean") return v.is_boolean() ? "" : "not a boolean";
  if (type == "object" || type == "flattened") return v.is_object() ? "" : "not an object";
  return "ECS type " + type + " is not produced by this encoder";
}

// zendesk.extra and zendesk.invalid hold whatever the API sent: mapped
// `flattened` (deploy/elasticsearch), so they are one field each here.
const std::set<std::string> kFlattened = {"zendesk.extra", "zendesk.invalid"};

struct Report {
  std::map<std::string, std::set<std::string>> types;  // path -> JSON types seen
  std::map<std::string, std::string> violations;       // "path: problem" -> example event id
  std::map<std::string, size_t> over_ignore_above;     // path -> values longer than ECS's ignore_above
  std::map<std::string, size_t> longest;               // path -> longest string value
  size_t records = 0, values = 0;
};

void leaf(const Ecs& ecs, const std::string& path, const json& v, const std::string& id, Report& rep) {
  ++rep.values;
  rep.types[path].insert(json_type(v));
  for (const json& item : v.is_array() ? v : json::array({v}))
    if (item.is_string()) rep.longest[path] = std::max(rep.longest[path], item.get<std::string>().size());
  if (path.rfind("zendesk.", 0) == 0) return;  // the custom namespace
  auto f = ecs.fields.find(path);
  if (f == ecs.fields.end()) {
    rep.violations.emplace(path + ": not an ECS field (and not under zendesk.*)", id);
    return;
  }
  std::vector<json> items = v.is_array() ? std::vector<json>(v.begin(), v.end()) : std::vector<json>{v};
  for (const json& item : items) {
    if (auto why = misfit(item, f->second.type); !why.empty()) rep.violations.emplace(path + ": " + why, id);
    if (!f->second.allowed.empty() && (!item.is_string() || !f->second.allowed.count(item.get<std::string>())))
      rep.violations.emplace(path + ": " + item.dump() + " is not an allowed value", id);
    if (f->second.ignore_above && item.is_string() && item.get<std::string>().size() > f->second.ignore_above)
      ++rep.over_ignore_above[path];
  }
}

void walk(const Ecs& ecs, const json& v, const std::string& path, const std::string& id, Report& rep) {
  if (v.is_object() && !kFlattened.count(path)) {
    if (v.empty()) rep.violations.emplace(path + ": empty object", id);
    for (auto it = v.begin(); it != v.end(); ++it) walk(ecs, it.value(), path.empty() ? it.key() : path + "." + it.key(), id, rep);
    return;
  }
  leaf(ecs, path, v, id, rep);
}

void check_record(const Ecs& ecs, const json& doc, Report& rep) {
  ++rep.records;
  std::string id = doc["event"]["id"];
  walk(ecs, doc, "", id, rep);
  for (const char* required : {"@timestamp", "ecs", "event"})
    if (!doc.contains(required)) rep.violations.emplace(std::string(required) + ": missing", id);
  for (const auto& c : doc["event"]["category"])
    for (const auto& t : doc["event"]["type"]) {
      auto expected = ecs.types_of_category.find(c.get<std::string>());
      if (expected == ecs.types_of_category.end() || !expected->second.count(t.get<std::string>()))
        rep.violations.emplace("event.type: " + t.dump() + " is not expected with event.category " + c.dump(), id);
    }
}

}  // namespace

Report check_golden_records(const Ecs& ecs) {
  Report rep;
  for (const auto& page : zf::testing::kGoldenPages)
    for (const Record& r : zf::testing::golden_records(page)) check_record(ecs, json::parse(r.json), rep);
  return rep;
}

// The golden records as they are and as `enrich: {users: true}` names them.
Report check_golden_and_enriched_records(const Ecs& ecs) {
  Report rep = check_golden_records(ecs);
  for (const auto& page : zf::testing::kGoldenPages)
    for (const Record& r : zf::testing::enriched_golden_records(page)) {
      std::string out;
      zf::encode::write_ecs_json(r.event, out);
      check_record(ecs, json::parse(out), rep);
    }
  return rep;
}

// path -> its mapping, from a template's nested properties.
void mapped_paths(const json& properties, const std::string& prefix, std::map<std::string, json>& out) {
  for (auto it = properties.begin(); it != properties.end(); ++it) {
    std::string path = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it.value().contains("properties")) mapped_paths(it.value()["properties"], path, out);
    else out[path] = it.value();
  }
}

json load_json(const std::string& relative) {
  return json::parse(zf::testing::read_file(std::string(ZF_TEST_FIXTURES) + "/../../" + relative));
}

TEST_CASE("ecs conformance (#14): every field of every record is ECS 9.4.0 of the right type, or under zendesk.*") {
  Ecs ecs = load_ecs();
  REQUIRE(ecs.fields.size() > 1000);
  REQUIRE(ecs.fields.at("source.ip").type == "ip");
  Report rep = check_golden_records(ecs);
  for (const auto& [path, seen] : rep.types)
    if (seen.size() > 1) {
      std::string list;
      for (const auto& t : seen) list += (list.empty() ? "" : ", ") + t;
      rep.violations.emplace(path + ": several JSON types (" + list + ")", "-");
    }

  std::ostringstream table;
  table << rep.records << " records, " << rep.values << " values, " << rep.types.size() << " paths\n";
  for (const auto& [what, id] : rep.violations) table << "  VIOLATION  " << what << "   (e.g. event " << id << ")\n";
  for (const auto& [path, n] : rep.over_ignore_above)
    table << "  longer than ECS's ignore_above (the index template raises it): " << path << " x" << n << "\n";
  MESSAGE(table.str());
  CHECK(rep.records >= 600);
  CHECK(rep.violations.empty());
}

TEST_CASE("ecs conformance (#14): the check itself finds the defects version 1 records had") {
  Ecs ecs = load_ecs();
  Report rep;
  // Shapes version 1 wrote: an IP that is not one, an empty object, no
  // ecs.version, and a path whose type changes from record to record.
  check_record(ecs, json::parse(R"({"@timestamp":"2026-11-24T10:00:00.000Z","event":{"id":"a","kind":"event",
      "category":["web"],"type":["creation"]},"source":{"ip":"00.00.000.85"},"http":{"request":{}},
      "zendesk":{"graphql":{"variables":{"id":"1"}}}})"), rep);
  check_record(ecs, json::parse(R"({"@timestamp":"yesterday","ecs":{"version":"9.4.0"},"event":{"id":"b","kind":"alert2",
      "category":["api"],"type":["access"]},"zendesk":{"graphql":{"variables":{"id":1}}},"url":{"paht":"/x"}})"), rep);
  for (const auto& [path, seen] : rep.types)
    if (seen.size() > 1) rep.violations.emplace(path + ": several JSON types", "-");
  std::string all;
  for (const auto& [what, id] : rep.violations) all += what + "\n";
  CAPTURE(all);
  for (const char* expected : {"source.ip: not an IP address", "http.request: empty object", "ecs: missing",
                               "event.type: \"creation\" is not expected with event.category \"web\"",
                               "@timestamp: not an ISO 8601 date", "event.kind: \"alert2\" is not an allowed value",
                               "url.paht: not an ECS field", "zendesk.graphql.variables.id: several JSON types"})
    CHECK(all.find(expected) != std::string::npos);
}

TEST_CASE("index template (#14, #26 item 6): deploy/elasticsearch maps every path the records have, enriched ones too, as ECS types them") {
  Ecs ecs = load_ecs();
  Report rep = check_golden_and_enriched_records(ecs);
  for (const char* enriched : {"user.name", "user.email", "user.roles", "user.target.name", "user.target.email"})
    REQUIRE_MESSAGE(rep.types.count(enriched), enriched << " is in no record the test checks");
  json component = load_json("deploy/elasticsearch/component-template.json");
  json index = load_json("deploy/elasticsearch/index-template.json");
  CHECK(index["index_patterns"] == json::array({"logs-zendesk.access-*"}));
  CHECK(index["data_stream"].is_object());
  CHECK(index["composed_of"] == json::array({"logs-zendesk.access@mappings"}));
  CHECK(component["template"]["mappings"]["dynamic"] == false);  // no field explosion
  std::map<std::string, json> mapped;
  mapped_paths(component["template"]["mappings"]["properties"], "", mapped);
  std::vector<std::string> problems;
  for (const auto& [path, seen] : rep.types) {
    auto m = mapped.find(path);
    if (m == mapped.end()) {
      problems.push_back(path + ": not in the template");
      continue;
    }
    std::string type = m->second["type"];
    std::string json_t = *seen.begin();
    if (json_t.rfind("array of ", 0) == 0) json_t = json_t.substr(9);
    if (auto f = ecs.fields.find(path); f != ecs.fields.end()) {
      if (type != f->second.type) problems.push_back(path + ": template " + type + ", ECS " + f->second.type);
      // ECS's multi-fields (user.name.text: match_only_text), as ECS has them.
      for (const auto& [name, mf_type] : f->second.multi_fields)
        if (!m->second.contains("fields") || !m->second["fields"].contains(name) ||
            m->second["fields"][name].value("type", "") != mf_type)
          problems.push_back(path + "." + name + ": ECS multi-field " + mf_type + " not in the template");
    } else {
      static const std::map<std::string, std::set<std::string>> fits = {
          {"string", {"keyword", "wildcard", "match_only_text"}}, {"integer", {"long"}},
          {"boolean", {"boolean"}}, {"object", {"flattened"}}};
      if (!fits.count(json_t) || !fits.at(json_t).count(type))
        problems.push_back(path + ": template " + type + " for JSON " + json_t);
    }
    // Nothing the records hold may be too long to be searched, up to what
    // a keyword can hold at all: 8191 characters (32766 bytes of UTF-8).
    if (m->second.contains("ignore_above") && rep.longest[path] > m->second["ignore_above"].get<size_t>() &&
        m->second["ignore_above"].get<size_t>() < 8191)
      problems.push_back(path + ": values up to " + std::to_string(rep.longest[path]) + " bytes, ignore_above " +
                         m->second["ignore_above"].dump());
  }
  for (const auto& [path, n] : rep.over_ignore_above) {
    auto m = mapped.find(path);
    if (m != mapped.end() && m->second.value("ignore_above", size_t{0}) <= ecs.fields.at(path).ignore_above)
      problems.push_back(path + ": longer than ECS's ignore_above, not raised in the template");
  }
  std::string all;
  for (const auto& p : problems) all += "  " + p + "\n";
  MESSAGE(mapped.size() << " mapped paths, " << rep.types.size() << " produced\n" << all);
  CHECK(problems.empty());
}

TEST_CASE("ecs conformance (#15): enriched records (actor and accessed user named) are ECS 9.4.0 too") {
  Ecs ecs = load_ecs();
  Report rep;
  for (const auto& page : zf::testing::kGoldenPages)
    for (const Record& r : zf::testing::enriched_golden_records(page)) {
      std::string out;
      zf::encode::write_ecs_json(r.event, out);
      json doc = json::parse(out);
      check_record(ecs, doc, rep);
      if (r.event.user_id.empty()) continue;  // nobody to name
      CHECK(doc["user"]["name"] == r.event.user_name);
      CHECK(doc["user"]["roles"] == json::array({"agent"}));
      if (doc["user"].contains("target")) CHECK(doc["user"]["target"]["email"] == "customer1@example.org");
    }
  std::string all;
  for (const auto& [what, id] : rep.violations) all += what + "\n";
  CAPTURE(all);
  CHECK(rep.records >= 600);
  CHECK(rep.violations.empty());
  CHECK(rep.types.count("user.target.name"));
}

TEST_CASE("ecs fields (#26 item 6): docs/FIELDS.md names every path the records have, enriched ones too") {
  Ecs ecs = load_ecs();
  Report rep = check_golden_and_enriched_records(ecs);
  std::set<std::string> names = zf::testing::documented_names("## ecs_json");
  REQUIRE(names.count("user.roles"));
  std::string missing;
  for (const auto& [path, seen] : rep.types)
    if (!zf::testing::documented(names, path)) missing += "  " + path + "\n";
  CAPTURE(missing);
  CHECK(missing.empty());
}
