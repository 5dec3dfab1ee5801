// Normalization of every example event in the reference and of awkward
// events, asserted field by field on the parsed output.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "encode/json_writer.h"
#include "normalize/normalizer.h"

using namespace zf;
using nlohmann::json;

namespace {

normalize::Normalizer normalizer({"acme", false});

struct Shaped {
  Record record;
  json out;
};

// "Now" for events whose own timestamp does not parse.
const ManualClock kReadAt(1795514400000);  // 2026-11-24T10:00:00Z

Shaped shape(const std::string& event, bool keep_original = false) {
  normalize::Normalizer n({"acme", keep_original}, kReadAt);
  auto result = n.normalize_json(event);
  REQUIRE_MESSAGE(std::holds_alternative<Record>(result), std::get<std::string>(result));
  Record r = std::get<Record>(result);
  CHECK(r.json.find('\n') == std::string::npos);
  return {r, json::parse(r.json)};
}

}  // namespace

TEST_CASE("normalize: the reference's REST search example, field by field") {
  auto [r, o] = shape(R"({"id":"01H6PWD1WQFC6EYJCJWFJ59EVE","ip_address":"","method":"POST","status":200,
                          "timestamp":"2020-01-01T13:01:26Z","url":"/api/v2/search?query=foobar","user_id":123})");
  CHECK(o["@timestamp"] == "2020-01-01T13:01:26.000Z");
  CHECK(o["event"]["id"] == "01H6PWD1WQFC6EYJCJWFJ59EVE");
  CHECK(o["event"]["kind"] == "event");
  CHECK(o["event"]["category"] == json::array({"api"}));
  CHECK(o["event"]["type"] == json::array({"access"}));
  CHECK(o["event"]["action"] == "search");
  CHECK(o["event"]["outcome"] == "success");
  CHECK(o["event"]["dataset"] == "zendesk.access");
  CHECK(o["event"]["provider"] == "zendesk");
  CHECK(o["user"]["id"] == "123");
  CHECK_FALSE(o.contains("source"));  // empty ip_address is omitted, not ""
  CHECK(o["http"]["request"]["method"] == "POST");
  CHECK(o["http"]["response"]["status_code"] == 200);
  CHECK(o["url"]["original"] == "/api/v2/search?query=foobar");
  CHECK(o["url"]["path"] == "/api/v2/search");
  CHECK(o["url"]["query"] == "query=foobar");
  CHECK(o["zendesk"]["account"] == "acme");
  CHECK(o["zendesk"]["search"]["query"] == "foobar");
  CHECK_FALSE(o["zendesk"].contains("extra"));
  CHECK(r.event.id == "01H6PWD1WQFC6EYJCJWFJ59EVE");
  CHECK(r.event.timestamp_ms == 1577883686000);
  CHECK(r.event.user_id == "123");
  CHECK(r.event.status == 200);
  CHECK(r.event.action == "search");
}

TEST_CASE("normalize: the reference's GraphQL example, with variables decoded from their JSON string") {
  auto [r, o] = shape(R"({"graphql":{"operation_name":"ticket","operation_type":"QUERY",
      "query":"query ticket($id: ID!, $includeSkills: Boolean = false) { ticket(id: $id) { id assignee { user { id name __typename }...",
      "variables":"{\"id\":\"1\"}"},"id":"01H9KB1CDRX2RVDS7E2R4YJ0TS","ip_address":"","method":"POST","status":200,
      "timestamp":"2023-09-05T18:52:50Z","url":"/graphql","user_id":321})");
  CHECK(o["@timestamp"] == "2023-09-05T18:52:50.000Z");
  CHECK(o["event"]["action"] == "ticket.read");  // as the REST read of a ticket (#14)
  CHECK(o["event"]["type"] == json::array({"access"}));
  CHECK(o["zendesk"]["graphql"]["operation_name"] == "ticket");
  CHECK(o["zendesk"]["graphql"]["operation_type"] == "query");
  CHECK(o["zendesk"]["graphql"]["query"].get<std::string>().rfind("query ticket($id: ID!", 0) == 0);
  CHECK(o["zendesk"]["graphql"]["variables"] == "{\"id\":\"1\"}");  // a string, always (#14)
  CHECK(o["zendesk"]["resource"]["type"] == "ticket");
  CHECK(o["zendesk"]["resource"]["id"] == "1");
  CHECK(o["url"]["path"] == "/graphql");
  CHECK_FALSE(o["url"].contains("query"));
  CHECK(r.event.resource.type == "ticket");
  CHECK(r.event.resource.id == "1");
}

TEST_CASE("normalize: Admin Center fields map to ECS where ECS has a place, the rest stay under zendesk") {
  auto [r, o] = shape(R"({"id":"01HADMIN00000000000000000A","timestamp":"2026-11-24T10:00:00Z","user_id":"9876",
      "ip_address":"2001:db8::1","method":"GET","status":404,"url":"/api/v2/users/6649960843290/related.json",
      "authorization_type":"Session","client":"Mozilla/5.0","referer":"https://acme.zendesk.com/agent",
      "bytes_sent":5120,"category":"Users","summary":"Show user","origin_service":"Support Agent Workspace"})");
  CHECK(o["user"]["id"] == "9876");  // webhooks send user_id as a string
  CHECK(o["source"]["ip"] == "2001:db8::1");
  CHECK(o["event"]["outcome"] == "failure");
  CHECK(o["event"]["action"] == "user.read");
  CHECK(o["zendesk"]["resource"] == json({{"type", "user"}, {"id", "6649960843290"}, {"subresource", "related"}}));
  CHECK(o["user_agent"]["original"] == "Mozilla/5.0");
  CHECK(o["http"]["request"]["referrer"] == "https://acme.zendesk.com/agent");
  CHECK(o["http"]["response"]["body"]["bytes"] == 5120);
  CHECK(o["zendesk"]["authorization_type"] == "Session");
  CHECK(o["zendesk"]["category"] == "Users");
  CHECK(o["zendesk"]["summary"] == "Show user");
  CHECK(o["zendesk"]["origin_service"] == "Support Agent Workspace");
}

TEST_CASE("normalize: REST paths name what was accessed, and the method names the action") {
  struct Case {
    const char* method;
    const char* url;
    const char* action;
    const char* type;
    const char* id;
  };
  for (auto c : {Case{"GET", "/api/v2/tickets/123.json", "ticket.read", "ticket", "123"},
                 Case{"PUT", "/api/v2/tickets/123", "ticket.update", "ticket", "123"},
                 Case{"DELETE", "/api/v2/tickets/123.json", "ticket.delete", "ticket", "123"},
                 Case{"POST", "/api/v2/tickets.json", "ticket.create", "ticket", ""},
                 Case{"GET", "/api/v2/tickets/77/comments.json", "ticket.read", "ticket", "77"},
                 Case{"GET", "/api/v2/organizations/5.json", "organization.read", "organization", "5"},
                 Case{"GET", "/api/v2/groups/9", "group.read", "group", "9"},
                 Case{"GET", "/api/v2/users.json", "user.list", "user", ""},
                 Case{"GET", "/api/v2/users/search?query=jane", "user.search", "user", ""},
                 Case{"GET", "/api/v2/search.json?query=status%3Aopen+refund", "search", "", ""},
                 Case{"GET", "/api/v2/help_center/articles/360001.json", "article.read", "article", "360001"},
                 Case{"GET", "/agent/tickets/5", "http.get", "", ""}}) {
    CAPTURE(c.url);
    auto [r, o] = shape(std::string(R"({"id":"01HPATH0000000000000000001","method":")") + c.method +
                        R"(","url":")" + c.url + R"(","status":200,"timestamp":"2026-11-24T10:00:00Z"})");
    CHECK(r.event.action == c.action);
    CHECK(r.event.resource.type == c.type);
    CHECK(r.event.resource.id == c.id);
  }
  auto [r, o] = shape(R"({"id":"01HPATH0000000000000000002","method":"GET","url":"/api/v2/search.json?query=status%3Aopen+refund","timestamp":"2026-11-24T10:00:00Z"})");
  CHECK(o["zendesk"]["search"]["query"] == "status:open refund");
}

TEST_CASE("normalize: awkward values survive intact as valid one-line JSON") {
  auto [r, o] = shape(
      "{\"id\":\"01HAWKWARD0000000000000001\",\"timestamp\":\"2026-11-24T10:00:00Z\",\"method\":\"GET\",\"status\":200,"
      "\"url\":\"/api/v2/search?query=caf%C3%A9+\\u6771\\u4eac \\\"q\\\" \\\\ ]\\n\\r\\u0000\\u001b[31m\","
      "\"ip_address\":\"\",\"user_id\":1}");
  std::string url = o["url"]["original"];
  CHECK(url.find("\xe6\x9d\xb1\xe4\xba\xac") != std::string::npos);  // 東京 kept as UTF-8
  CHECK(url.find("\"q\"") != std::string::npos);
  CHECK(url.find("\\ ]") != std::string::npos);
  CHECK(url.find('\n') != std::string::npos);
  CHECK(url.find(std::string(1, '\0')) != std::string::npos);
  CHECK(url.find('\x1b') != std::string::npos);
  CHECK(r.json.find("\\u0000") != std::string::npos);  // escaped in the line, never raw
  CHECK(r.json.find("\\u001b") != std::string::npos);
  CHECK(o["zendesk"]["search"]["query"].get<std::string>().rfind("caf\xc3\xa9 ", 0) == 0);
}

TEST_CASE("normalize: unknown fields are kept under zendesk.extra, never dropped") {
  auto [r, o] = shape(R"({"id":"01HEXTRA000000000000000001","timestamp":"2026-11-24T10:00:00Z","method":"GET",
      "url":"/api/v2/tickets/1","status":200,"user_id":1,"new_field":{"nested":[1,2,null]},"flag":true,"n":1.5,
      "note":"x"})");
  CHECK(o["zendesk"]["extra"]["new_field"] == json({{"nested", {1, 2, nullptr}}}));
  CHECK(o["zendesk"]["extra"]["flag"] == true);
  CHECK(o["zendesk"]["extra"]["n"] == 1.5);
  CHECK(o["zendesk"]["extra"]["note"] == "x");
}

TEST_CASE("normalize: wrong types are kept under zendesk.invalid; missing fields are omitted") {
  auto [r, o] = shape(R"({"id":"01HTYPES000000000000000001","timestamp":"yesterday","method":["GET"],
      "url":"/api/v2/tickets/1","status":"oops","user_id":{"id":1},"ip_address":42})");
  // @timestamp is always there (#14): when the event's does not parse, the
  // time it was read, flagged, with what the event said kept.
  CHECK(o["@timestamp"] == "2026-11-24T10:00:00.000Z");
  CHECK(o["event"]["ingested"] == "2026-11-24T10:00:00.000Z");
  CHECK(o["zendesk"]["timestamp_is_ingest_time"] == true);
  CHECK(o["zendesk"]["timestamp"] == "yesterday");
  CHECK(o["zendesk"]["invalid"]["method"] == json::array({"GET"}));
  CHECK(o["zendesk"]["invalid"]["status"] == "oops");
  CHECK(o["zendesk"]["invalid"]["user_id"] == json({{"id", 1}}));
  CHECK(o["zendesk"]["invalid"]["ip_address"] == 42);
  CHECK(o["event"]["outcome"] == "unknown");
  CHECK_FALSE(o.contains("user"));
  auto minimal = shape(R"({"id":"01HMINIMAL00000000000000001"})");
  CHECK(minimal.out["event"]["id"] == "01HMINIMAL00000000000000001");
  CHECK(minimal.out["zendesk"]["account"] == "acme");
}

TEST_CASE("normalize: GraphQL variables that are not JSON are kept raw; numeric and typed ids are found") {
  auto bad = shape(R"({"id":"01HGQL0000000000000000001","method":"POST","url":"/graphql","status":200,
      "timestamp":"2026-11-24T10:00:00Z","graphql":{"operation_name":"user","operation_type":"QUERY","query":"q",
      "variables":"{not json"}})");
  CHECK(bad.out["zendesk"]["graphql"]["variables"] == "{not json");
  CHECK(bad.out["event"]["action"] == "graphql.query");  // nothing says what was read
  CHECK_FALSE(bad.out["zendesk"].contains("resource"));
  auto typed = shape(R"({"id":"01HGQL0000000000000000002","method":"POST","url":"/graphql","status":200,
      "timestamp":"2026-11-24T10:00:00Z","graphql":{"operation_name":"getStuff","operation_type":"QUERY","query":"q",
      "variables":"{\"ticketId\":42}"}})");
  CHECK(typed.record.event.resource.type == "ticket");
  CHECK(typed.record.event.resource.id == "42");
}

TEST_CASE("normalize: events without a usable id are refused with a reason; keep_original copies the event") {
  for (const char* bad : {R"({"timestamp":"2026-11-24T10:00:00Z"})", R"({"id":5})", R"({"id":""})", "[1,2]", "{oops"}) {
    CAPTURE(bad);
    auto result = normalizer.normalize_json(bad);
    CHECK(std::holds_alternative<std::string>(result));
  }
  auto [r, o] = shape(R"({"id":"01HORIG0000000000000000001","url":"/api/v2/tickets/1","method":"GET"})", true);
  CHECK(json::parse(o["event"]["original"].get<std::string>())["url"] == "/api/v2/tickets/1");
}

TEST_CASE("json writer: control characters escaped, invalid UTF-8 replaced, valid UTF-8 passed through") {
  std::string out;
  encode::append_json_string(out, std::string("a\"b\\c\n\x01\xff\xc3\xa9\xf0\x9f\x8e\x89", 14));
  CHECK(out == "\"a\\\"b\\\\c\\n\\u0001\xEF\xBF\xBD\xc3\xa9\xf0\x9f\x8e\x89\"");
  CHECK_NOTHROW((void)json::parse(out));
}

TEST_CASE("normalize (#14, #26 item 5): ip_address is validated; lists, padding and garbage are kept aside and name no source, valid ones related") {
  struct Case {
    std::string given;
    std::string source_ip;             // "" = no source.ip
    std::vector<std::string> related;  // related.ip
    bool kept_invalid;
  };
  std::vector<Case> cases{
      {"203.0.113.9", "203.0.113.9", {"203.0.113.9"}, false},
      {"2001:db8::1", "2001:db8::1", {"2001:db8::1"}, false},
      {"00.00.000.85", "", {}, true},
      // The leftmost entry of a forwarded chain is the one a client can forge.
      {"10.0.0.1, 203.0.113.9", "", {"10.0.0.1", "203.0.113.9"}, true},
      {"203.0.113.9,10.0.0.1 2001:db8::2", "", {"203.0.113.9", "10.0.0.1", "2001:db8::2"}, true},
      {"unknown, 203.0.113.9", "", {"203.0.113.9"}, true},
      {"unknown", "", {}, true},
      {" 203.0.113.9 ", "", {"203.0.113.9"}, true},
      {"fe80::1%eth0", "", {}, true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.given);
    auto [r, o] = shape(R"({"id":"01HIP00000000000000000001","timestamp":"2026-11-24T10:00:00Z","ip_address":)" +
                        json(c.given).dump() + "}");
    if (c.source_ip.empty()) CHECK_FALSE(o.contains("source"));
    else CHECK(o["source"]["ip"] == c.source_ip);
    if (c.related.empty()) CHECK_FALSE(o.contains("related"));
    else CHECK(o["related"]["ip"] == json(c.related));
    if (c.kept_invalid) CHECK(o["zendesk"]["invalid"]["ip_address"] == c.given);
    else CHECK_FALSE(o["zendesk"].contains("invalid"));
    CHECK(r.event.source_ip == c.source_ip);
    CHECK(r.event.ips == c.related);
  }
}

TEST_CASE("normalize (#14): ecs.version, no empty objects, url.fragment, event.type by what was done") {
  auto [r, o] = shape(R"({"id":"01HV2000000000000000000001","timestamp":"2026-11-24T10:00:00Z","url":"/help#section-2"})");
  CHECK(o["ecs"]["version"] == "9.4.0");
  CHECK_FALSE(o.contains("http"));  // no method, referrer, status or size: no http object at all
  CHECK(o["url"]["path"] == "/help");
  CHECK(o["url"]["fragment"] == "section-2");
  CHECK(o["event"]["category"] == json::array({"web"}));
  CHECK(o["event"]["type"] == json::array({"access"}));
  struct Case {
    std::string method, url, type, action;
  };
  for (const auto& c : std::vector<Case>{{"GET", "/api/v2/tickets/1.json", "access", "ticket.read"},
                                         {"POST", "/api/v2/tickets.json", "creation", "ticket.create"},
                                         {"PUT", "/api/v2/tickets/1.json", "change", "ticket.update"},
                                         {"PATCH", "/api/v2/users/5.json", "change", "user.update"},
                                         {"DELETE", "/api/v2/tickets/1.json", "deletion", "ticket.delete"},
                                         {"POST", "/api/v2/search.json?query=refund", "access", "search"}}) {
    CAPTURE(c.method + " " + c.url);
    auto [r2, o2] = shape(R"({"id":"01HV2000000000000000000002","timestamp":"2026-11-24T10:00:00Z","method":")" +
                          c.method + R"(","url":")" + c.url + R"("})");
    CHECK(o2["event"]["type"] == json::array({c.type}));
    CHECK(o2["event"]["action"] == c.action);
  }
}

TEST_CASE("normalize (#14): user resources name their target; related.user holds both; searches keep their terms") {
  auto [r, o] = shape(R"({"id":"01HV2000000000000000000003","timestamp":"2026-11-24T10:00:00Z","method":"GET",
                          "url":"/api/v2/users/9876.json","user_id":123})");
  CHECK(o["user"]["id"] == "123");
  CHECK(o["user"]["target"]["id"] == "9876");
  CHECK(o["related"]["user"] == json::array({"123", "9876"}));
  auto s = shape(R"({"id":"01HV2000000000000000000004","timestamp":"2026-11-24T10:00:00Z","method":"GET",
                     "url":"/api/v2/users/search?external_id=abc-123"})");
  CHECK(s.out["event"]["action"] == "user.search");
  CHECK(s.out["zendesk"]["search"]["query"] == "external_id=abc-123");
  auto bare = shape(R"({"id":"01HV2000000000000000000005","timestamp":"2026-11-24T10:00:00Z","method":"GET",
                        "url":"/api/v2/search.json"})");
  CHECK_FALSE(bare.out["zendesk"].contains("search"));  // nothing searched for: no "" (FIELDS.md's rule)
  auto mutation = shape(R"({"id":"01HV2000000000000000000006","timestamp":"2026-11-24T10:00:00Z","method":"POST",
      "url":"/graphql","graphql":{"operation_name":"updateTicket","operation_type":"MUTATION","variables":{"ticketId":7}}})");
  CHECK(mutation.out["event"]["action"] == "ticket.update");
  CHECK(mutation.out["event"]["type"] == json::array({"change"}));
}

TEST_CASE("normalize (#14): with ecs_json off (no sink ships ECS) the typed event is complete and no document is made") {
  normalize::Normalizer n({"acme", false, /*ecs_json=*/false});
  auto r = std::get<Record>(n.normalize_json(R"({"id":"01HNOECS000000000000000001","method":"GET","url":"/api/v2/tickets/3.json","timestamp":"2026-11-24T10:00:00Z"})"));
  CHECK(r.json.empty());
  CHECK(r.event.action == "ticket.read");
  CHECK(r.event.resource.id == "3");
}
