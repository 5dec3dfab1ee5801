// Normalization of every example event in the reference and of awkward
// events, asserted field by field on the parsed output.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

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

Shaped shape(const std::string& event, bool keep_original = false) {
  normalize::Normalizer n({"acme", keep_original});
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
  CHECK(o["event"]["action"] == "graphql.query");
  CHECK(o["zendesk"]["graphql"]["operation_name"] == "ticket");
  CHECK(o["zendesk"]["graphql"]["operation_type"] == "query");
  CHECK(o["zendesk"]["graphql"]["query"].get<std::string>().rfind("query ticket($id: ID!", 0) == 0);
  CHECK(o["zendesk"]["graphql"]["variables"] == json({{"id", "1"}}));
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
  CHECK_FALSE(o.contains("@timestamp"));
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
  CHECK(bad.out["zendesk"]["graphql"]["variables_raw"] == "{not json");
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
