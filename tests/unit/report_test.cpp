#include <doctest/doctest.h>

#include "app/report.h"
#include "core/time_format.h"

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
