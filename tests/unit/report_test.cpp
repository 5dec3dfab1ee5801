#include <doctest/doctest.h>

#include "commands/report.h"
#include "core/errors.h"
#include "core/time_format.h"
#include "test_dirs.h"

#include <fstream>

#include <map>

using namespace zf;

namespace {

app::AccessRow row(std::string agent, std::string name, std::string kind, std::string what, const char* time, int status = 200) {
  app::AccessRow r;
  r.agent_id = std::move(agent);
  r.agent_name = std::move(name);
  r.kind = std::move(kind);
  r.what = std::move(what);
  r.time_s = *parse_rfc3339_ms(time) / 1000;
  r.status = status;
  return r;
}

}  // namespace

TEST_CASE("report csv: records are read back as written, quotes, commas and newlines included") {
  std::string text = "a,\"b,c\",\"say \"\"hi\"\"\"\r\n\"two\nlines\",,x\nlast";
  std::string_view in = text;
  std::vector<std::string> f;
  REQUIRE(app::next_csv_record(in, f));
  CHECK(f == std::vector<std::string>{"a", "b,c", "say \"hi\""});
  REQUIRE(app::next_csv_record(in, f));
  CHECK(f == std::vector<std::string>{"two\nlines", "", "x"});
  REQUIRE(app::next_csv_record(in, f));
  CHECK(f == std::vector<std::string>{"last"});
  CHECK_FALSE(app::next_csv_record(in, f));
  std::string_view open = "\"never closed";
  CHECK_THROWS_AS(app::next_csv_record(open, f), std::invalid_argument);
  // Whatever csv_field writes, the reader gets back (less the formula guard).
  for (std::string v : {"plain", "Smith, Jr.", "\"Ace\"", "a\nb", "=1+1", ""}) {
    std::string line = app::csv_field(v) + ",end\r\n";
    std::string_view l = line;
    REQUIRE(app::next_csv_record(l, f));
    CHECK(f[0] == (v == "=1+1" ? "'=1+1" : v));
    CHECK(f[1] == "end");
  }
}

TEST_CASE("report: agents ranked by distinct tickets and profiles; failures, off-hours and searches counted") {
  std::vector<app::AccessRow> rows = {
      row("1", "Ana", "ticket", "100", "2026-11-23T09:00:00Z"),              // Monday, in hours
      row("1", "Ana", "ticket", "100", "2026-11-23T09:05:00Z"),              // same ticket again
      row("1", "Ana", "ticket", "101", "2026-11-23T19:00:00Z", 403),         // after hours, failed
      row("2", "Bo", "user", "9000", "2026-11-22T10:00:00Z"),                // Sunday
      row("2", "Bo", "ticket", "100", "2026-11-24T10:00:00Z"),
      row("2", "Bo", "ticket", "102", "2026-11-24T10:00:00Z"),
      row("2", "Bo", "user", "9001", "2026-11-24T10:00:00Z"),
      row("3", "", "search", "refund\x1b[31m", "2026-11-24T07:59:59Z", 404),  // before hours
  };
  app::Report r = app::build_report(rows, {});
  CHECK(r.accesses == 8);
  CHECK(r.tickets == 3);
  CHECK(r.profiles == 2);
  CHECK(r.searches == 1);
  CHECK(r.failed == 2);
  CHECK(r.outside_hours == 3);
  REQUIRE(r.agents.size() == 3);
  CHECK(r.agents[0].name == "Bo");  // 2 tickets + 2 profiles
  CHECK(r.agents[0].outside_hours == 1);
  CHECK(r.agents[1].tickets == 2);  // Ana: 100 and 101
  CHECK(r.top_tickets[0].first == "100");
  CHECK(r.top_tickets[0].second == std::make_pair<size_t, size_t>(3, 2));
  CHECK(r.days == std::vector<std::string>{"2026-11-22", "2026-11-23", "2026-11-24"});
  CHECK(r.per_day["1"]["2026-11-23"] == 3);

  std::string text = app::report_text(r);
  CHECK(text.find("Accesses: 8 by 3 agents: 3 distinct tickets, 2 user profiles, 1 searches; 2 failed (4xx); 3 outside") !=
        std::string::npos);
  CHECK(text.find("\x1b") == std::string::npos);  // the search's escape sequence is shown, not run
  CHECK(text.find("refund\\x1b[31m") != std::string::npos);
}

TEST_CASE("report html: one page, charts as inline SVG, every value escaped") {
  std::vector<app::AccessRow> rows = {row("1", "<script>alert(1)</script>", "ticket", "100", "2026-11-23T09:00:00Z"),
                                      row("1", "<script>alert(1)</script>", "search", "\"><img src=x>", "2026-11-24T09:00:00Z")};
  std::string html = app::report_html(app::build_report(rows, {}));
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("id=\"heatmap\"") != std::string::npos);
  CHECK(html.find("id=\"top-agents\"") != std::string::npos);
  CHECK(html.find("http") == html.find("http://www.w3.org/2000/svg"));  // nothing fetched from the network
}

TEST_CASE("report period: elapsed days, not calendar days touched (30 days of accesses say 30 days)") {
  std::vector<app::AccessRow> rows = {row("1", "Ana", "ticket", "100", "2026-11-01T10:00:00Z"),
                                      row("1", "Ana", "ticket", "101", "2026-12-01T09:00:00Z")};
  app::Report r = app::build_report(rows, {});
  CHECK(r.days.size() == 31);  // the heat map still has a column for each date touched
  CHECK(app::report_text(r).find("(30 days)") != std::string::npos);
  app::ReportOptions asked;  // --days 3: the period asked for, whatever the accesses touch
  asked.period_from_s = *parse_rfc3339_ms("2026-11-28T10:00:00Z") / 1000;
  asked.period_to_s = asked.period_from_s + 3 * 86400;
  CHECK(app::report_text(app::build_report(rows, asked)).find("Period: 2026-11-28T10:00:00Z to 2026-12-01T10:00:00Z (3 days)") !=
        std::string::npos);
  std::vector<app::AccessRow> demo = {row("1", "Ana", "ticket", "100", "2026-11-01T23:00:00Z"),
                                      row("1", "Ana", "ticket", "101", "2026-11-02T00:59:00Z")};
  CHECK(app::report_text(app::build_report(demo, {})).find("(2 hours)") != std::string::npos);
}

TEST_CASE("report: bidi, zero-width, C0 and C1 controls in names neither spoof nor hide ids, in text and HTML") {
  std::vector<app::AccessRow> rows = {
      row("933251567391", "Spoof\xe2\x80\xae" "adnaN", "ticket", "100", "2026-11-23T09:00:00Z", 403),
      row("933251567392", "Csi\xc2\x9b" "31m Zw\xe2\x80\x8b\xe2\x81\xa6" "x\x1b]0;t\x07", "ticket", "101", "2026-11-23T09:00:00Z",
          404),
      row("933251567393", std::string(300, 'L'), "user", "9000", "2026-11-23T09:00:00Z")};
  app::Report r = app::build_report(rows, {});
  std::string text = app::report_text(r);
  for (std::string raw : {"\xe2\x80\xae", "\xc2\x9b", "\xe2\x80\x8b", "\xe2\x81\xa6", "\x1b", "\x07"}) {
    CAPTURE(raw);
    CHECK(text.find(raw) == std::string::npos);
  }
  CHECK(text.find("Spoof\\u{202E}adnaN (933251567391)") != std::string::npos);
  CHECK(text.find("Csi\\x9b31m Zw\\u{200B}\\u{2066}x\\x1b]0;t\\x07 (933251567392)") != std::string::npos);
  CHECK(text.find("... (933251567393)") != std::string::npos);  // a long name is cut, its id stays
  std::string html = app::report_html(r);
  for (std::string raw : {"\xe2\x80\xae", "\xc2\x9b", "\xe2\x80\x8b", "\xe2\x81\xa6", "\x1b", "\x07"}) {
    CAPTURE(raw);
    CHECK(html.find(raw) == std::string::npos);
  }
  CHECK(html.find("<bdi class=\"nm\" title=\"Spoof[U+202E]adnaN\">Spoof[U+202E]adnaN</bdi> <span class=\"id\">933251567391</span>") !=
        std::string::npos);
  CHECK(html.find(">933251567393</span>") != std::string::npos);
  CHECK(html.find(">933251567393</text>") != std::string::npos);  // the heat map's id, its own element
}

TEST_CASE("report findings: each kind found with its reason; quiet agents are not flagged") {
  std::vector<app::AccessRow> rows;
  auto at = [](int day, int hour, int minute) {
    return *parse_rfc3339_ms("2026-11-02T00:00:00Z") / 1000 + day * 86400 + hour * 3600 + minute * 60;  // a Monday
  };
  auto add = [&](std::string agent, std::string kind, std::string what, int64_t t, std::string ip = "10.0.0.1") {
    app::AccessRow r;
    r.agent_id = std::move(agent);
    r.agent_name = "Agent " + r.agent_id;
    r.kind = std::move(kind);
    r.what = std::move(what);
    r.time_s = t;
    r.status = 200;
    r.source_ip = std::move(ip);
    rows.push_back(r);
  };
  int weekdays[] = {0, 1, 2, 3, 4, 7, 8, 9, 10, 11};
  for (int a = 1; a <= 6; ++a)
    for (int d : weekdays)
      for (int k = 0; k < 4; ++k) add(std::to_string(a), "ticket", std::to_string(a * 1000 + d * 10 + k), at(d, 9 + k, 0));
  for (int d : weekdays)  // agent 7: 5x the others' distinct tickets a day
    for (int k = 0; k < 20; ++k) add("7", "ticket", std::to_string(70000 + d * 100 + k), at(d, 9, k * 20));
  for (int d : weekdays)  // agent 8 works nights
    for (int k = 0; k < 4; ++k) add("8", "ticket", std::to_string(80000 + d * 10 + k), at(d, k < 2 ? 23 : 10, k));
  for (int k = 0; k < 35; ++k) add("1", "ticket", std::to_string(90000 + k), at(8, 14, 0) + k * 10);  // agent 1: a burst
  add("2", "ticket", "1", at(9, 11, 0), "203.0.113.9");  // agent 2: a new address after the first week
  auto findings = app::find_outliers(rows, {}, at(0, 0, 0), true);
  std::map<std::string, std::string> found;
  for (const auto& f : findings) {
    MESSAGE(f.kind << " " << f.agent_id << ": " << f.why);
    found[f.kind + " " + f.agent_id] = f.why;
  }
  CHECK(findings.size() == 4);
  CHECK(found["volume 7"].find("times the team's median") != std::string::npos);
  CHECK(found["off_hours 8"].find("20 of 40 accesses (50.0%) outside working hours") != std::string::npos);
  CHECK(found["burst 1"].find("35 distinct tickets within 10 minutes") != std::string::npos);
  CHECK(found["new_ip 2"].find("203.0.113.9") != std::string::npos);
  std::string csv = app::findings_csv(findings);
  CHECK(csv.rfind("Finding,Agent ID,Agent name,From,To,Value,Threshold,Why,Accesses\r\n", 0) == 0);
  CHECK(app::findings_ecs(findings, "acme").find("\"kind\":\"alert\"") != std::string::npos);
}

TEST_CASE("report lookups: every access of a ticket, a profile, or by an agent given by id or email") {
  std::vector<app::AccessRow> rows = {row("1", "Ana", "ticket", "100", "2026-11-23T09:05:00Z"),
                                      row("2", "Bo", "ticket", "100", "2026-11-23T09:00:00Z"),
                                      row("2", "Bo", "user", "9000", "2026-11-23T09:00:00Z"),
                                      row("3", "Cy", "ticket", "1000", "2026-11-23T09:00:00Z")};
  rows[1].agent_email = "bo@example.com";
  auto l = app::look_up(rows, {"100", "9000", "bo@example.com"});
  REQUIRE(l.size() == 3);
  REQUIRE(l[0].rows.size() == 2);
  CHECK(l[0].rows[0].agent_id == "2");  // by time
  CHECK(l[1].rows.size() == 1);
  CHECK(l[2].rows.size() == 2);  // both of Bo's rows, the one without an email too
  app::ReportOptions o;
  o.lookup = {"100", "", ""};
  std::string text = app::report_text(app::build_report(rows, o));
  CHECK(text.find("Who accessed ticket 100: 2 accesses") != std::string::npos);
}

TEST_CASE("report input: an export names its account, its default file name its period; the script's CSV lacks both") {
  auto dir = testing::temp_dir("report-input");
  app::AccessRow a = row("1", "Ana", "ticket", "100", "2026-11-01T10:00:00Z");
  a.account = "acme";
  app::AccessRow b = row("1", "Ana", "ticket", "101", "2026-11-30T09:00:00Z");
  b.account = "acme";
  auto ours = dir / "agent_all_access_logs_2026-11-01T00:00:00Z-to-2026-12-01T00:00:00Z.csv";
  std::ofstream(ours) << app::csv_header("all") << app::csv_row(a) << app::csv_row(b);
  app::ExportFile f = app::read_export(ours.string());
  CHECK(f.account == "acme");
  CHECK(f.columns.status);
  CHECK(f.since_s == *parse_rfc3339_ms("2026-11-01T00:00:00Z") / 1000);
  app::ReportOptions o;
  o.period_from_s = f.since_s;
  o.period_to_s = f.until_s;
  CHECK(app::report_text(app::build_report(f.rows, o)).find("(30 days)") != std::string::npos);
  auto jsonl = dir / "export.jsonl";
  std::ofstream(jsonl) << app::jsonl_row(a);
  CHECK(app::read_export(jsonl.string()).account == "acme");
  auto script = dir / "script.csv";
  std::ofstream(script) << "Agent ID,Agent name,Ticket accessed,Time accessed\r\n1,Ana,100,2026-11-01T10:00:00Z\r\n";
  app::ExportFile s = app::read_export(script.string());
  CHECK(s.account.empty());
  CHECK_FALSE(s.columns.status);
  CHECK_FALSE(s.columns.source_ip);
  app::ReportOptions so;
  so.columns = s.columns;
  std::string text = app::report_text(app::build_report(s.rows, so));
  CHECK(text.find("failed (4xx): not in this input") != std::string::npos);
  CHECK(text.find(" 0 failed") == std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("report --pdf: without chromium, a message that says what to install, and no file") {
  auto dir = testing::temp_dir("report-pdf");
  ::setenv("ZF_CHROMIUM", "/nonexistent/chromium", 1);
  try {
    app::print_pdf("<!DOCTYPE html><p>x</p>", (dir / "r.pdf").string());
    FAIL("print_pdf did not throw");
  } catch (const FatalError& e) {
    CHECK(std::string(e.what()).find("apt-get install chromium") != std::string::npos);
  }
  ::unsetenv("ZF_CHROMIUM");
  CHECK_FALSE(std::filesystem::exists(dir / "r.pdf"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("report html: an account or title cannot break out of the page's print headers (CSS strings)") {
  app::ReportOptions o;
  o.title = "Zendesk access report: a\"}</style><script>alert(1)</script>\\";
  o.account = o.title;
  std::string html = app::report_html(app::build_report({row("1", "Ana", "ticket", "100", "2026-11-23T09:00:00Z")}, o));
  CHECK(html.find("<script") == std::string::npos);
  size_t first = html.find("</style>");
  REQUIRE(first != std::string::npos);
  CHECK(html.find("</style>", first + 1) == std::string::npos);  // ours, once
  CHECK(html.find("@top-left{content:\"Zendesk access report: a\\22 }\\3c /style\\3e \\3c script\\3e alert(1)") != std::string::npos);
}
