#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "commands/export.h"
#include "emulator/emulator.h"
#include "enrich/user_directory.h"
#include "log/logger.h"
#include "normalize/normalizer.h"
#include "sources/zendesk_pull/access_log_source.h"

using namespace zf;

namespace {

AccessEvent shaped(const std::string& json) {
  normalize::Normalizer n({"acme", false, false});
  auto r = n.normalize_json(json);
  REQUIRE(std::holds_alternative<Record>(r));
  return std::get<Record>(r).event;
}

}  // namespace

TEST_CASE("export csv: commas, quotes and newlines are quoted; formulas are neutralized") {
  CHECK(app::csv_field("plain") == "plain");
  CHECK(app::csv_field("Smith, Jr.") == "\"Smith, Jr.\"");
  CHECK(app::csv_field("\"Ace\" Diaz") == "\"\"\"Ace\"\" Diaz\"");
  CHECK(app::csv_field("line1\nline2") == "\"line1\nline2\"");
  CHECK(app::csv_field("a\rb") == "\"a\rb\"");
  // A spreadsheet would run these; a leading ' shows them as text.
  CHECK(app::csv_field("=HYPERLINK(\"http://x\")") == "\"'=HYPERLINK(\"\"http://x\"\")\"");
  CHECK(app::csv_field("+1 555") == "'+1 555");
  CHECK(app::csv_field("-2+3") == "'-2+3");
  CHECK(app::csv_field("@SUM(A1)") == "'@SUM(A1)");
  CHECK(app::csv_field("\tcmd") == "'\tcmd");
  CHECK(app::csv_field("") == "");
}

TEST_CASE("export csv: a row has the script's four columns, then the reviewer's") {
  AccessEvent e = shaped(R"({"id":"01H7TC9307Z5S07QPRW8REK5RD","ip_address":"10.1.2.3","method":"GET","status":200,
    "timestamp":"2023-08-14T15:57:48Z","url":"/api/v2/tickets/199/comments.json","user_id":364425201147})");
  auto what = app::accessed(e, "tickets");
  REQUIRE(what);
  PersonInfo agent{"=cmd|' /C calc'!A0, \"x\"", "a@example.com", "agent"};
  CHECK(app::csv_header("tickets") ==
        "Agent ID,Agent name,Ticket accessed,Time accessed,Resource type,Action,Method,Status,Source IP,URL,Event ID,"
        "Agent email,Account\r\n");
  CHECK(app::csv_row(app::access_row(e, *what, &agent)) ==
        "364425201147,\"'=cmd|' /C calc'!A0, \"\"x\"\"\",199,2023-08-14T15:57:48Z,ticket,ticket.read,GET,200,10.1.2.3,"
        "/api/v2/tickets/199/comments.json,01H7TC9307Z5S07QPRW8REK5RD,a@example.com,acme\r\n");
  CHECK(app::csv_row(app::access_row(e, *what, nullptr)).rfind("364425201147,,199,", 0) == 0);  // no name known
}

TEST_CASE("export csv: to a terminal, control characters are shown escaped; to a file, kept byte for byte") {
  app::AccessRow r;
  r.agent_id = "1";
  r.agent_name = "Esc\x1b]0;t\x07 Csi\xc2\x9b" "31m Rlo\xe2\x80\xae" "x Zw\xe2\x80\x8b" "y";
  r.what = "q\x1b[2J";
  std::string file = app::csv_row(r), tty = app::csv_row(r, true);
  CHECK(file.find("\x1b]0;t\x07") != std::string::npos);  // byte-faithful
  CHECK(file.find("\xc2\x9b") != std::string::npos);
  for (std::string raw : {"\x1b", "\x07", "\xc2\x9b", "\xe2\x80\xae", "\xe2\x80\x8b"}) CHECK(tty.find(raw) == std::string::npos);
  CHECK(tty.find("Esc\\x1b]0;t\\x07 Csi\\x9b31m Rlo\\u{202E}x Zw\\u{200B}y") != std::string::npos);
  CHECK(tty.find("q\\x1b[2J") != std::string::npos);
}

TEST_CASE("export: which events are ticket, user profile and search accesses") {
  auto rest = [](const std::string& url) {
    return shaped(R"({"id":"01H7TC9307Z5S07QPRW8REK5RD","method":"GET","timestamp":"2023-08-14T15:57:48Z","url":")" +
                  url + R"(","user_id":1})");
  };
  CHECK(app::accessed(rest("/api/v2/tickets/12.json"), "tickets")->what == "12");
  CHECK(!app::accessed(rest("/api/v2/tickets.json"), "tickets"));  // a list, no ticket
  CHECK(app::accessed(rest("/api/v2/users/9000123/related.json"), "users")->what == "9000123");
  // A user search is a search, not a visit to user "20" (as the script counts it).
  CHECK(!app::accessed(rest("/api/v2/users/search?query=invoice%202026"), "users"));
  CHECK(app::accessed(rest("/api/v2/users/search?query=invoice%202026"), "searches")->what == "invoice 2026");
  AccessEvent gql = shaped(R"({"id":"01H7TC933PWS5B33SS5QHYZVKB","method":"POST","timestamp":"2023-08-14T15:57:49Z",
    "url":"/graphql","user_id":1,"graphql":{"operation_name":"ticket","operation_type":"QUERY",
    "query":"query ticket($id: ID!) { ticket(id: $id) { id } }","variables":"{\"id\":\"199\"}"}})");
  CHECK(app::accessed(gql, "tickets")->what == "199");
  CHECK(app::accessed(gql, "all")->kind == "ticket");
  CHECK(!app::accessed(gql, "users"));
}

TEST_CASE("user directory: names in batches of 100, cached; unknown ids not asked again; a failing API leaves ids unknown") {
  emulator::Options eo;
  eo.events = 0;
  eo.agents = 250;
  eo.rate_limit = 0;
  emulator::Emulator emu(eo);
  emu.start();
  std::ostringstream logs;
  Logger log(logs);
  enrich::DirectorySettings ds;
  ds.base_url = emu.base_url();
  ds.authorization = source::basic_authorization(eo.email + "/token", eo.api_token);
  enrich::UserDirectory dir(ds, log);
  StopSignal stop;
  std::vector<std::string> ids;
  for (const auto& p : emu.people()) ids.push_back(std::to_string(p.id));
  ids.push_back("12345");   // nobody
  ids.push_back("1;DROP");  // not an id: never sent
  CHECK(dir.resolve(ids, true, stop) == 0);
  CHECK(dir.stats().requests == 3);  // 251 ids: 100 + 100 + 51
  REQUIRE(dir.find(ids[1]));
  CHECK(dir.find(ids[1])->name == emu.people()[1].name);
  CHECK(dir.find(ids[1])->email == "agent1@example.com");
  CHECK(dir.find(ids[1])->role == "agent");
  CHECK(dir.find("12345") == nullptr);
  dir.resolve(ids, true, stop);  // all cached, the unknown one included
  CHECK(dir.stats().requests == 3);
  CHECK(dir.stats().hits == 251);

  emu.update({{"users_down", true}});
  enrich::UserDirectory cold(ds, log);
  CHECK(cold.resolve({ids[0], ids[1]}, false, stop) == 2);  // gives up at once
  CHECK(cold.stats().failures == 1);
  CHECK(cold.find(ids[0]) == nullptr);
  CHECK(logs.str().find(eo.api_token) == std::string::npos);

  // Waiting (an export) on an API that keeps failing ends at max_wait, and
  // says why; the ids stay unanswered (not taken for deleted users).
  for (const char* fault : {"500", "429", "garbage"}) {
    CAPTURE(fault);
    emu.update({{"users_down", false}, {"users_fault", fault}});
    enrich::UserDirectory waiting(ds, log);
    auto start = std::chrono::steady_clock::now();
    CHECK(waiting.resolve({ids[0], ids[1]}, true, stop, std::chrono::milliseconds(2500)) == 2);
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(took < std::chrono::seconds(6));
    CHECK(waiting.stats().gave_up == 1);
    CHECK(waiting.stats().failures >= 1);
    CHECK(waiting.stats().failures <= 4);  // 1 s, 2 s pauses: not a request a second
    CHECK_FALSE(waiting.answered(ids[0]));
    CHECK(!waiting.stats().last_failure.empty());
  }
  emu.update({{"users_fault", ""}});
  enrich::UserDirectory healthy(ds, log);
  CHECK(healthy.resolve({ids[0], "12345"}, true, stop, std::chrono::milliseconds(2500)) == 0);
  CHECK(healthy.answered("12345"));  // a deleted user: answered, not listed
  CHECK(healthy.find("12345") == nullptr);
  CHECK(healthy.stats().gave_up == 0);
}
