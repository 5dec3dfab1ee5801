#pragma once
// `export`: who accessed which tickets, user profiles or searches over a
// period, as CSV (the columns of Zendesk's own export script first, then
// what a reviewer needs) or JSON lines. One pass over the access log for
// the whole period (not one per agent), resumable, with agents' names from
// the Users API.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "app/app_config.h"
#include "core/access_event.h"
#include "core/people.h"
#include "core/stop_signal.h"
#include "log/logger.h"

namespace zf::app {

struct ExportOptions {
  int64_t since_s = 0, until_s = 0;  // [since, until), unix seconds
  std::string resource = "tickets";  // tickets, users, searches, all
  std::vector<std::string> agents;   // ids or emails; empty = every agent
  std::string format = "csv";        // csv, jsonl
  std::string output;                // a file, "-" for stdout, "" for the script's file name
  std::string source;                // which source, when the config has several
  bool resume = false;
  double budget_share = 1.0;
  std::string state_dir;
  // The longest an export waits on a failing Users API (5xx, 429, a body
  // that is not a users list) before it writes the rows with the names
  // marked unavailable and exits 3.
  std::chrono::seconds users_api_wait{120};
};

// What an access event says was accessed, for `resource` ("ticket 123",
// a search's query); nullopt when the event is not one of that resource.
struct Accessed {
  std::string kind;  // "ticket", "user", "search"
  std::string what;  // the ticket or user id, the search query
};
std::optional<Accessed> accessed(const AccessEvent& event, const std::string& resource);

// One CSV field, quoted when needed (RFC 4180), with a leading = + - @ tab
// or CR neutralized by a ' so that a spreadsheet shows it, never runs it.
std::string csv_field(std::string_view value);

// One access of a resource by an agent: a row of the export, the unit of
// the report.
struct AccessRow {
  std::string agent_id, agent_name, agent_email;  // name and email "" when unknown
  std::string kind, what;                         // "ticket", "user", "search"; the id or the query
  int64_t time_s = 0;
  std::string action, method;
  int status = 0;
  std::string source_ip, url, event_id;
  std::string account;  // the Zendesk account it came from
};
AccessRow access_row(const AccessEvent& event, const Accessed& what, const PersonInfo* agent);

// The header and one row of the CSV, as Zendesk's script names its columns
// (then ours, the account last, so that a report made from the file can
// name it). `for_terminal`: every control character (C0, C1, ESC, BEL, bidi,
// zero-width) in a value is shown escaped (\x1b, \u{202E}), so a CSV
// printed to a terminal cannot drive it; a file keeps values byte for byte.
std::string csv_header(const std::string& resource);
std::string csv_row(const AccessRow& row, bool for_terminal = false);
std::string jsonl_row(const AccessRow& row);

// Lists the period (resumably, with a progress bar) and returns the
// accesses of `options.resource` by `options.agents`, named.
std::vector<AccessRow> collect_accesses(const AppConfig& config, const ExportOptions& options, Logger& log,
                                        StopSignal& stop);

// The Agent name of a row whose name the Users API could not give.
inline constexpr const char* kNameUnavailable = "(name unavailable: the Users API failed)";

// 0 when the export was written; 3 when it was written with some agents'
// names unavailable (the Users API kept failing for users_api_wait);
// throws FatalError otherwise.
int run_export(const AppConfig& config, const ExportOptions& options, Logger& log, StopSignal& stop);

}  // namespace zf::app
