#pragma once
// `report`: what a compliance officer reads about an export or a period:
// top agents by distinct tickets and user profiles accessed, the most
// accessed tickets, searches run, failed (4xx) accesses, access outside
// working hours. As aligned text tables and as one self-contained HTML page
// with charts (inline SVG: it works offline and runs no script).
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "app/export.h"

namespace zf::app {

// One record of CSV (RFC 4180: quoted fields, "" for a quote, CRLF or LF)
// from the front of `in`, which it advances. False at the end of input.
// Throws std::invalid_argument on a quote left open.
bool next_csv_record(std::string_view& in, std::vector<std::string>& fields);

// The rows of an export file: ours in CSV or JSON lines, or the CSV of
// Zendesk's script (its four columns). Throws FatalError naming the file
// and line when it is neither.
std::vector<AccessRow> read_export(const std::string& path);

struct ReportOptions {
  size_t top = 10;
  int work_start_hour = 8, work_end_hour = 18;  // UTC, Monday to Friday
  std::string title = "Zendesk access report";
};

struct AgentSummary {
  std::string id, name;
  size_t accesses = 0, tickets = 0, profiles = 0, searches = 0, failed = 0, outside_hours = 0;
};

struct Report {
  ReportOptions options;
  int64_t from_s = 0, to_s = 0;  // the first and last access
  size_t accesses = 0, tickets = 0, profiles = 0, searches = 0, failed = 0, outside_hours = 0;
  std::vector<AgentSummary> agents;                               // by distinct tickets + profiles, most first
  std::vector<std::pair<std::string, std::pair<size_t, size_t>>> top_tickets;  // id -> (accesses, agents)
  std::vector<std::pair<std::string, size_t>> top_searches;       // query -> times run
  std::vector<AccessRow> failed_rows;                             // the first `top` 4xx accesses
  std::vector<std::string> days;                                  // YYYY-MM-DD, every day of the span
  std::map<std::string, std::map<std::string, size_t>> per_day;   // agent id -> day -> accesses
};

Report build_report(const std::vector<AccessRow>& rows, const ReportOptions& options);
std::string report_text(const Report& report);
std::string report_html(const Report& report);

}  // namespace zf::app
