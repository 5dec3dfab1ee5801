#pragma once
// `report`: what a compliance officer reads about an export or a period:
// top agents by distinct tickets and user profiles accessed, the most
// accessed tickets and profiles, searches run, failed (4xx) accesses,
// access outside working hours, who stands out (report_findings.h), and
// lookups (who accessed this ticket or profile, what did this agent
// access). As aligned text tables and as one self-contained HTML page with
// charts (inline SVG: it works offline and runs no script) that prints to
// PDF (report_html.h).
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "commands/export.h"
#include "commands/report_findings.h"

namespace zf::app {

// One record of CSV (RFC 4180: quoted fields, "" for a quote, CRLF or LF)
// from the front of `in`, which it advances. False at the end of input.
// Throws std::invalid_argument on a quote left open.
bool next_csv_record(std::string_view& in, std::vector<std::string>& fields);

// What an input carries: Zendesk's script CSV has four columns, so its
// report must say "not in this input" for status, source IP and action
// rather than count zeros.
struct InputColumns {
  bool status = true, source_ip = true, action = true, resource_type = true, email = true;
};

struct ExportFile {
  std::vector<AccessRow> rows;
  std::string account;  // from the Account column; "" when the file has none
  // The period exported, from export's default file name
  // (..._access_logs_<since>-to-<until>.csv); both 0 when not known.
  int64_t since_s = 0, until_s = 0;
  InputColumns columns;
};

// The rows of an export file: ours in CSV or JSON lines, or the CSV of
// Zendesk's script (its four columns). Throws FatalError naming the file
// and line when it is neither.
ExportFile read_export(const std::string& path);

// Lookups: every access of one ticket, of one user's profile, or by one
// agent (id or email). Empty fields are not asked.
struct Lookup {
  std::string ticket, user, agent;
  bool any() const { return !ticket.empty() || !user.empty() || !agent.empty(); }
};
struct LookupResult {
  std::string question;        // "ticket 123", "user 9000", "agent 3600... (email)"
  std::vector<AccessRow> rows;  // by time
};
std::vector<LookupResult> look_up(const std::vector<AccessRow>& rows, const Lookup& lookup);
// The lookups' rows as an export CSV (--resource all's columns), each
// access once although it answers several lookups.
std::string lookup_csv(const std::vector<LookupResult>& lookups);

struct ReportOptions {
  size_t top = 10;
  int work_start_hour = 8, work_end_hour = 18;  // UTC, Monday to Friday
  std::string title = "Zendesk access report";
  std::string account;                            // named in the title; "" when unknown
  int64_t period_from_s = 0, period_to_s = 0;     // the period asked for; both 0: the first to the last access
  int64_t generated_s = 0;                        // when the report was made (0: not shown)
  InputColumns columns;
  FindingOptions findings;
  Lookup lookup;
  std::string paper = "a4";  // a4 or letter, for print and --pdf
  size_t failed_listed = 1000;  // failed accesses listed on the page (all of them in its CSV link)
};

struct AgentSummary {
  std::string id, name;
  size_t accesses = 0, tickets = 0, profiles = 0, searches = 0, failed = 0, outside_hours = 0;
};

using Counted = std::pair<std::string, std::pair<size_t, size_t>>;  // id -> (accesses, agents)

struct Report {
  ReportOptions options;
  int64_t from_s = 0, to_s = 0;  // the first and last access
  size_t accesses = 0, tickets = 0, profiles = 0, searches = 0, failed = 0, outside_hours = 0;
  std::vector<AgentSummary> agents;                           // by distinct tickets + profiles, most first
  std::vector<Counted> top_tickets, top_profiles;             // most accessed first
  std::vector<std::pair<std::string, size_t>> top_searches;   // query -> times run
  std::vector<AccessRow> failed_rows;                         // every 4xx access, by time
  std::vector<std::string> days;                              // YYYY-MM-DD, every calendar day of the span (heat map columns)
  std::map<std::string, std::map<std::string, size_t>> per_day;  // agent id -> day -> accesses
  std::vector<Finding> findings;
  std::vector<LookupResult> lookups;
};

Report build_report(const std::vector<AccessRow>& rows, const ReportOptions& options);

// The period's length in elapsed days, rounded up ("30 days" for a 30-day
// export, "3 days" for --days 3), or in hours below a day ("2 hours").
std::string period_length(const Report& report);
// "acme, 2026-11-01T00:00:00Z to 2026-12-01T00:00:00Z (30 days)"
std::string period_line(const Report& report);

std::string report_text(const Report& report);
std::string report_html(const Report& report);

// Prints `html` to `pdf_path` with headless chromium (Debian's `chromium`,
// found on PATH; ZF_CHROMIUM names another binary): a fresh profile in a
// temporary directory, no network services, no sandbox (it runs as the
// invoking user on a local file), 120 s at most. Throws FatalError saying
// what failed.
void print_pdf(const std::string& html, const std::string& pdf_path);

// The title of a report from the API: the chosen source's account.
std::string report_title(const std::string& account);

}  // namespace zf::app
