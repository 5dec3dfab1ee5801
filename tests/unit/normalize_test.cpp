// Normalization of every example event in the reference and of awkward
// events, asserted field by field on the parsed output.
#include <doctest/doctest.h>

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/encoding.h"
#include "core/time_format.h"
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

namespace {
// The escaping rule spelled out byte by byte, as the writer did before it
// learned to skip plain runs eight bytes at a time.
std::string escaped_by_bytes(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_sequence_length(s, i);
      out += n ? std::string(s.substr(i, n)) : std::string("\xEF\xBF\xBD");
      i += n ? n : 1;
      continue;
    }
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20) out += std::string("\\u00") + hex[c >> 4] + hex[c & 15];
    else out += static_cast<char>(c);
    ++i;
  }
  return out + "\"";
}
}  // namespace

TEST_CASE("json writer: every special byte, at every place of strings 0 to 40 bytes long, escapes as byte by byte") {
  const std::vector<std::string> specials = {"\"", "\\", "\n", "\r", "\t", std::string(1, '\0'), "\x01", "\x1f",
                                             "\x7f", " ", "\x80", "\xff", "\xc3\xa9", "\xe2\x82\xac",
                                             "\xf0\x9f\x8e\x89", "\xc3", "\xed\xa0\x80"};
  for (size_t len = 0; len <= 40; ++len) {
    std::string plain(len, 'a');
    for (size_t i = 0; i < len; ++i) plain[i] = static_cast<char>('a' + i % 26);
    std::string out = "[";
    encode::append_json_string(out, plain);
    CHECK(out == "[" + escaped_by_bytes(plain));
    for (const std::string& sp : specials)
      for (size_t at = 0; at <= len; ++at) {
        std::string s = plain.substr(0, at) + sp + plain.substr(at);
        CAPTURE(s);
        std::string got = "xy";
        encode::append_json_string(got, s);
        CHECK(got == "xy" + escaped_by_bytes(s));
      }
  }
}

TEST_CASE("json writer: the string holds the exact document once the outermost value closes, after what it held") {
  std::string out = "prefix ";
  std::string long_value(5000, 'v');
  long_value[4000] = '\n';
  {
    encode::JsonWriter w(out);
    w.begin_object().field("a", "b").key("n").number(-9223372036854775807LL - 1);
    w.key(std::string_view("we\"ird")).begin_array().string(long_value).raw("{\"x\":1}").number(0).end_array();
    w.key("e").begin_object().end_object().end_object();
    std::string want = "prefix {\"a\":\"b\",\"n\":-9223372036854775808,\"we\\\"ird\":[\"" + long_value.substr(0, 4000) +
                       "\\n" + long_value.substr(4001) + "\",{\"x\":1},0],\"e\":{}}";
    CHECK(out == want);  // before the writer goes away
  }
  // A writer that goes away with its document open leaves what it wrote.
  std::string part;
  { encode::JsonWriter(part).begin_object().field("k", "v"); }
  CHECK(part == "{\"k\":\"v\"");
}

TEST_CASE("time: format_utc_millis and parse_rfc3339_ms agree with gmtime and timegm") {
  auto by_libc = [](int64_t ms) {
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms - secs * 1000));
    return std::string(buf);
  };
  std::vector<int64_t> instants = {0, 1, 999, 1000, 86399999, 86400000, 951782400000 /* 2000-02-29 */,
                                   1795514400123, 4107542399999 /* 2100-02-28T23:59:59.999 */, 4107542400000,
                                   253402300799999 /* 9999-12-31T23:59:59.999 */, 253402300800000, -1, -86400001};
  for (int64_t ms = 0; ms < 253402300800000; ms += 7777777777LL + ms / 977) instants.push_back(ms);
  for (int64_t ms : instants) {
    CAPTURE(ms);
    CHECK(format_utc_millis(ms) == by_libc(ms));
    if (ms >= 0 && ms < 253402300800000) CHECK(parse_rfc3339_ms(format_utc_millis(ms)) == ms);
  }
  // Fields in range but past the month's end roll over as timegm's do.
  for (int year : {0, 1, 1900, 1969, 1970, 2000, 2024, 2026, 2100, 9999})
    for (int month = 1; month <= 12; ++month)
      for (int day : {1, 28, 29, 30, 31})
        for (const char* rest : {"T00:00:00Z", "T23:59:60Z", "T12:34:56.789+02:30", "T00:00:00.5-11:00"}) {
          char text[48];
          std::snprintf(text, sizeof text, "%04d-%02d-%02d%s", year, month, day, rest);
          CAPTURE(text);
          std::tm tm{};
          int h, mi, se;
          std::sscanf(rest, "T%d:%d:%d", &h, &mi, &se);
          tm.tm_year = year - 1900;
          tm.tm_mon = month - 1;
          tm.tm_mday = day;
          tm.tm_hour = h;
          tm.tm_min = mi;
          tm.tm_sec = se;
          int64_t want = static_cast<int64_t>(timegm(&tm)) * 1000;
          std::string_view r(rest);
          if (r.find(".789") != r.npos) want += 789;
          if (r.find(".5") != r.npos) want += 500;
          if (r.find("+02:30") != r.npos) want -= 9000 * 1000;
          if (r.find("-11:00") != r.npos) want += 39600 * 1000;
          CHECK(parse_rfc3339_ms(text) == want);
        }
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
