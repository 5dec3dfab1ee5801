#include "commands/report.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/time_format.h"
#include "commands/safe_text.h"

namespace zf::app {

bool next_csv_record(std::string_view& in, std::vector<std::string>& fields) {
  fields.clear();
  if (in.empty()) return false;
  std::string field;
  size_t i = 0;
  bool quoted = false, was_quoted = false;
  for (; i < in.size(); ++i) {
    char c = in[i];
    if (quoted) {
      if (c != '"') field += c;
      else if (i + 1 < in.size() && in[i + 1] == '"') field += '"', ++i;
      else quoted = false;
    } else if (c == '"' && field.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n') ++i;
      ++i;
      break;
    } else {
      field += c;
    }
  }
  if (quoted) throw std::invalid_argument("a quoted field is not closed");
  fields.push_back(std::move(field));
  in.remove_prefix(std::min(i, in.size()));
  return true;
}

namespace {

// The ' that export put before a formula lead, taken off again.
std::string unneutralized(std::string v) {
  if (v.size() >= 2 && v[0] == '\'' && std::string_view("=+-@\t\r").find(v[1]) != std::string_view::npos) v.erase(0, 1);
  return v;
}

int64_t seconds_of(const std::string& time, const std::string& path, size_t line) {
  auto ms = parse_rfc3339_ms(time);
  if (!ms) throw FatalError(path + " line " + std::to_string(line) + ": \"" + time + "\" is not a time such as 2026-11-01T00:00:00Z");
  return *ms / 1000;
}

ExportFile read_jsonl(const std::string& path, const std::string& text) {
  ExportFile file;
  std::istringstream in(text);
  std::string line;
  bool any_email = false;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("agent_id") || !j.contains("time"))
      throw FatalError(path + " line " + std::to_string(n) + ": not a row of zendesk-forwarder export --format jsonl");
    AccessRow r;
    auto str = [&j](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
    r.agent_id = str("agent_id");
    r.agent_name = str("agent_name");
    r.agent_email = str("agent_email");
    any_email = any_email || !r.agent_email.empty();
    r.kind = str("resource_type");
    r.what = str("accessed");
    r.time_s = seconds_of(str("time"), path, n);
    r.action = str("action");
    r.method = str("method");
    r.status = j.contains("status") && j["status"].is_number_integer() ? j["status"].get<int>() : 0;
    r.source_ip = str("source_ip");
    r.url = str("url");
    r.event_id = str("event_id");
    r.account = str("account");
    if (file.account.empty()) file.account = r.account;
    file.rows.push_back(std::move(r));
  }
  file.columns.email = any_email;
  return file;
}

ExportFile read_csv(const std::string& path, std::string_view text) {
  std::vector<std::string> header, f;
  if (!next_csv_record(text, header) || header.empty() || header[0] != "Agent ID")
    throw FatalError(path + ": not an export (its first line should start with \"Agent ID\")");
  std::map<std::string, size_t> at;
  for (size_t i = 0; i < header.size(); ++i) at[header[i]] = i;
  std::string kind_of_file = at.count("Ticket accessed") ? "ticket" : at.count("User accessed") ? "user"
                             : at.count("Search run") ? "search" : "";
  size_t what = at.count("Ticket accessed") ? at["Ticket accessed"] : at.count("User accessed") ? at["User accessed"]
              : at.count("Search run") ? at["Search run"] : at.count("Resource accessed") ? at["Resource accessed"] : 2;
  if (!at.count("Time accessed")) throw FatalError(path + ": the header has no \"Time accessed\" column");
  ExportFile file;
  file.columns.status = at.count("Status");
  file.columns.source_ip = at.count("Source IP");
  file.columns.action = at.count("Action");
  file.columns.resource_type = at.count("Resource type");
  file.columns.email = at.count("Agent email");
  size_t line = 1;
  try {
    while (next_csv_record(text, f)) {
      ++line;
      if (f.size() == 1 && f[0].empty()) continue;
      if (f.size() != header.size())
        throw FatalError(path + " line " + std::to_string(line) + ": " + std::to_string(f.size()) + " fields, the header has " +
                         std::to_string(header.size()));
      auto col = [&](const char* name) { return at.count(name) ? unneutralized(f[at[name]]) : std::string(); };
      AccessRow r;
      r.agent_id = col("Agent ID");
      r.agent_name = col("Agent name");
      r.agent_email = col("Agent email");
      r.what = unneutralized(f[what]);
      r.kind = at.count("Resource type") ? col("Resource type") : kind_of_file;
      r.time_s = seconds_of(col("Time accessed"), path, line);
      r.action = col("Action");
      r.method = col("Method");
      std::string status = col("Status");
      r.status = !status.empty() && status.size() <= 3 && std::all_of(status.begin(), status.end(), ::isdigit) ? std::stoi(status) : 0;
      r.source_ip = col("Source IP");
      r.url = col("URL");
      r.event_id = col("Event ID");
      r.account = col("Account");
      if (file.account.empty()) file.account = r.account;
      file.rows.push_back(std::move(r));
    }
  } catch (const std::invalid_argument& e) {
    throw FatalError(path + " line " + std::to_string(line + 1) + ": " + e.what());
  }
  return file;
}

std::string day_of(int64_t s) { return format_utc_seconds(s - s % 86400).substr(0, 10); }

// A name in a text table: at most 48 characters, so that the id after it
// stays in view however long the name is.
std::string text_label(const std::string& id, const std::string& name) {
  return name.empty() ? id : shortened(printable(name), 48) + " (" + id + ")";
}

// Columns padded to their widest cell; numbers right-aligned.
std::string table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows,
                  const std::vector<bool>& numeric) {
  std::vector<size_t> width(head.size());
  auto cells = [](const std::string& s) { return display_width(s); };
  std::vector<std::vector<std::string>> safe;
  for (const auto& r : rows) {
    safe.emplace_back();
    for (const auto& v : r) safe.back().push_back(printable(v));
  }
  for (size_t i = 0; i < head.size(); ++i) width[i] = cells(head[i]);
  for (const auto& r : safe)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], std::min<size_t>(cells(r[i]), 80));
  auto line = [&](const std::vector<std::string>& r) {
    std::string out = " ";
    for (size_t i = 0; i < r.size(); ++i) {
      std::string v = shortened(r[i], 80);
      std::string pad(width[i] - std::min(width[i], cells(v)), ' ');
      out += " " + (numeric[i] ? pad + v : v + pad);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(head);
  std::vector<std::string> rule;
  for (size_t w : width) rule.push_back(std::string(w, '-'));
  out += line(rule);
  for (const auto& r : safe) out += line(r);
  return out;
}

}  // namespace

ExportFile read_export(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FatalError("cannot read " + path + ": check the path");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  size_t first = text.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
  ExportFile file = first != std::string::npos && text[first] == '{'
                        ? read_jsonl(path, text)
                        : read_csv(path, std::string_view(text).substr(text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0));
  // export's default name carries the period it listed: a 30-day export is
  // 30 days even when its first and last accesses are a little less apart.
  std::string name = std::filesystem::path(path).filename().string();
  size_t at = name.find("_access_logs_"), to = name.find("-to-");
  if (at != std::string::npos && to != std::string::npos && to > at) {
    auto since = parse_rfc3339_ms(name.substr(at + 13, to - at - 13));
    size_t dot = name.rfind('.');
    auto until = dot != std::string::npos && dot > to ? parse_rfc3339_ms(name.substr(to + 4, dot - to - 4)) : std::nullopt;
    if (since && until && *until > *since) {
      bool inside = std::all_of(file.rows.begin(), file.rows.end(), [&](const AccessRow& r) {
        return r.time_s >= *since / 1000 && r.time_s <= *until / 1000;
      });
      if (inside) file.since_s = *since / 1000, file.until_s = *until / 1000;
    }
  }
  return file;
}

std::vector<LookupResult> look_up(const std::vector<AccessRow>& rows, const Lookup& l) {
  std::vector<LookupResult> out;
  auto add = [&](std::string question, auto match) {
    LookupResult r{std::move(question), {}};
    for (const AccessRow& row : rows)
      if (match(row)) r.rows.push_back(row);
    std::stable_sort(r.rows.begin(), r.rows.end(), [](const AccessRow& a, const AccessRow& b) { return a.time_s < b.time_s; });
    out.push_back(std::move(r));
  };
  if (!l.ticket.empty()) add("ticket " + l.ticket, [&](const AccessRow& r) { return r.kind == "ticket" && r.what == l.ticket; });
  if (!l.user.empty()) add("user profile " + l.user, [&](const AccessRow& r) { return r.kind == "user" && r.what == l.user; });
  if (!l.agent.empty()) {
    // An email names the agent only where the input carries emails; the
    // rows that do give the id, and the agent's other rows follow by id.
    std::set<std::string> ids = {l.agent};
    for (const AccessRow& r : rows)
      if (!r.agent_email.empty() && r.agent_email == l.agent) ids.insert(r.agent_id);
    add("agent " + l.agent, [&](const AccessRow& r) { return ids.count(r.agent_id) > 0; });
  }
  return out;
}

Report build_report(const std::vector<AccessRow>& rows, const ReportOptions& o) {
  Report rep;
  rep.options = o;
  struct Agent {
    AgentSummary s;
    std::set<std::string> tickets, profiles;
  };
  std::map<std::string, Agent> agents;
  std::map<std::string, std::pair<size_t, std::set<std::string>>> tickets, profiles;
  std::map<std::string, size_t> searches;
  rep.from_s = rows.empty() ? 0 : rows.front().time_s;
  rep.to_s = rep.from_s;
  for (const AccessRow& r : rows) {
    rep.from_s = std::min(rep.from_s, r.time_s);
    rep.to_s = std::max(rep.to_s, r.time_s);
    Agent& a = agents[r.agent_id];
    a.s.id = r.agent_id;
    if (a.s.name.empty()) a.s.name = r.agent_name;
    ++a.s.accesses;
    ++rep.accesses;
    if (r.kind == "ticket") {
      a.tickets.insert(r.what);
      auto& t = tickets[r.what];
      ++t.first;
      t.second.insert(r.agent_id);
    } else if (r.kind == "user") {
      a.profiles.insert(r.what);
      auto& p = profiles[r.what];
      ++p.first;
      p.second.insert(r.agent_id);
    } else if (r.kind == "search") {
      ++a.s.searches;
      ++rep.searches;
      ++searches[r.what];
    }
    if (r.status >= 400 && r.status < 500) {
      ++a.s.failed;
      ++rep.failed;
      rep.failed_rows.push_back(r);
    }
    if (outside_hours(r.time_s, o.work_start_hour, o.work_end_hour)) ++a.s.outside_hours, ++rep.outside_hours;
    ++rep.per_day[r.agent_id][day_of(r.time_s)];
  }
  std::stable_sort(rep.failed_rows.begin(), rep.failed_rows.end(),
                   [](const AccessRow& a, const AccessRow& b) { return a.time_s < b.time_s; });
  rep.tickets = tickets.size();
  rep.profiles = profiles.size();
  for (auto& [id, a] : agents) {
    a.s.tickets = a.tickets.size();
    a.s.profiles = a.profiles.size();
    rep.agents.push_back(a.s);
  }
  std::stable_sort(rep.agents.begin(), rep.agents.end(), [](const AgentSummary& a, const AgentSummary& b) {
    return a.tickets + a.profiles != b.tickets + b.profiles ? a.tickets + a.profiles > b.tickets + b.profiles
                                                            : a.accesses > b.accesses;
  });
  auto ranked = [&o](const std::map<std::string, std::pair<size_t, std::set<std::string>>>& counts) {
    std::vector<Counted> out;
    for (const auto& [id, t] : counts) out.push_back({id, {t.first, t.second.size()}});
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
    if (out.size() > o.top) out.resize(o.top);
    return out;
  };
  rep.top_tickets = ranked(tickets);
  rep.top_profiles = ranked(profiles);
  for (auto& [q, n] : searches) rep.top_searches.push_back({q, n});
  std::stable_sort(rep.top_searches.begin(), rep.top_searches.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (rep.top_searches.size() > o.top) rep.top_searches.resize(o.top);
  if (!rows.empty())
    for (int64_t d = rep.from_s - rep.from_s % 86400; d <= rep.to_s; d += 86400) rep.days.push_back(day_of(d));
  FindingOptions fo = o.findings;
  fo.work_start_hour = o.work_start_hour;
  fo.work_end_hour = o.work_end_hour;
  rep.findings = find_outliers(rows, fo, o.period_from_s, o.columns.source_ip);
  if (o.lookup.any()) rep.lookups = look_up(rows, o.lookup);
  return rep;
}

std::string period_length(const Report& r) {
  const ReportOptions& o = r.options;
  bool asked = o.period_to_s > o.period_from_s;
  int64_t seconds = asked ? o.period_to_s - o.period_from_s : r.to_s - r.from_s;
  // Elapsed time, not calendar days touched: 30 days of accesses are "30
  // days" although they touch 31 dates.
  if (seconds < 86400) {
    int64_t hours = std::max<int64_t>(1, (seconds + 3599) / 3600);
    return std::to_string(hours) + (hours == 1 ? " hour" : " hours");
  }
  int64_t days = (seconds + 86399) / 86400;
  return std::to_string(days) + (days == 1 ? " day" : " days");
}

std::string period_line(const Report& r) {
  const ReportOptions& o = r.options;
  bool asked = o.period_to_s > o.period_from_s;
  return format_utc_seconds(asked ? o.period_from_s : r.from_s) + " to " + format_utc_seconds(asked ? o.period_to_s : r.to_s) +
         " (" + period_length(r) + ")";
}

std::string report_title(const std::string& account) { return "Zendesk access report: " + account; }

namespace {

std::string lookup_text(const LookupResult& l, const InputColumns& c) {
  std::ostringstream out;
  out << "Who accessed " << printable(l.question) << ": " << l.rows.size() << (l.rows.size() == 1 ? " access\n" : " accesses\n");
  if (l.rows.empty()) return out.str() + "\n";
  const char* missing = "not in this input";
  std::vector<std::vector<std::string>> rows;
  for (const AccessRow& a : l.rows)
    rows.push_back({format_utc_seconds(a.time_s), text_label(a.agent_id, a.agent_name), a.kind + " " + a.what,
                    c.action ? a.action : missing, c.status ? (a.status ? std::to_string(a.status) : "") : missing,
                    c.source_ip ? a.source_ip : missing});
  out << table({"Time", "Agent", "Accessed", "Action", "Status", "Source IP"}, rows, {false, false, false, false, true, false})
      << "\n";
  return out.str();
}

}  // namespace

std::string lookup_csv(const std::vector<LookupResult>& lookups) {
  // An access that answers two questions (ticket 1 and agent 7) is one row.
  std::string out = csv_header("all");
  std::set<std::string> written;
  for (const auto& l : lookups)
    for (const AccessRow& r : l.rows)
      if (r.event_id.empty() || written.insert(r.event_id).second) out += csv_row(r);
  return out;
}

std::string report_text(const Report& r) {
  const ReportOptions& o = r.options;
  std::ostringstream out;
  std::string title = printable(o.title);
  out << title << "\n" << std::string(display_width(title), '=') << "\n";
  if (!o.account.empty()) out << "Account: " << printable(o.account) << "\n";
  if (o.generated_s) out << "Generated: " << format_utc_seconds(o.generated_s) << "\n";
  if (r.accesses == 0) return out.str() + "No accesses in the input.\n";
  char hours[64];
  std::snprintf(hours, sizeof hours, "%02d:00-%02d:00 UTC, Monday to Friday", o.work_start_hour, o.work_end_hour);
  out << "Period: " << period_line(r) << "\n";
  if (!r.lookups.empty()) {
    out << "\n";
    for (const auto& l : r.lookups) out << lookup_text(l, o.columns);
    return out.str();
  }
  out << "Accesses: " << r.accesses << " by " << r.agents.size() << " agents: " << r.tickets << " distinct tickets, "
      << r.profiles << " user profiles, " << r.searches << " searches; ";
  if (o.columns.status) out << r.failed << " failed (4xx); ";
  else out << "failed (4xx): not in this input; ";
  out << r.outside_hours << " outside working hours (" << hours << ")\n\n";

  out << "Who stands out";
  if (r.findings.empty()) out << ": nobody at the thresholds used\n\n";
  else {
    out << " (" << r.findings.size() << (r.findings.size() == 1 ? " finding" : " findings") << ")\n";
    // At most `top` of each kind here; all of them on the page and in --findings.
    std::map<std::string, size_t> shown, more;
    for (const auto& f : r.findings) {
      if (shown[f.kind]++ >= o.top) {
        ++more[f.kind];
        continue;
      }
      out << "  - " << f.kind << ": " << text_label(f.agent_id, f.agent_name) << ": " << printable(f.why) << "\n";
    }
    for (const auto& [kind, n] : more)
      out << "  ... and " << n << " more " << kind << " findings (all of them with --html or --findings FILE)\n";
    out << "\n";
  }
  if (!o.columns.source_ip) out << "New source IPs: not in this input (no Source IP column)\n\n";

  out << "Top agents by distinct tickets and user profiles accessed (" << std::min(o.top, r.agents.size()) << " of "
      << r.agents.size() << ")\n";
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < r.agents.size() && i < o.top; ++i) {
    const auto& a = r.agents[i];
    rows.push_back({std::to_string(i + 1), text_label(a.id, a.name), std::to_string(a.tickets), std::to_string(a.profiles),
                    std::to_string(a.searches), o.columns.status ? std::to_string(a.failed) : "n/a",
                    std::to_string(a.outside_hours), std::to_string(a.accesses)});
  }
  out << table({"#", "Agent", "Tickets", "Profiles", "Searches", "Failed", "Off-hours", "Accesses"}, rows,
               {true, false, true, true, true, true, true, true})
      << "\n";

  if (!r.top_tickets.empty()) {
    out << "Most-accessed tickets\n";
    rows.clear();
    for (const auto& [id, n] : r.top_tickets) rows.push_back({id, std::to_string(n.first), std::to_string(n.second)});
    out << table({"Ticket", "Accesses", "Agents"}, rows, {false, true, true}) << "\n";
  }
  if (!r.top_profiles.empty()) {
    out << "Most-viewed user profiles\n";
    rows.clear();
    for (const auto& [id, n] : r.top_profiles) rows.push_back({id, std::to_string(n.first), std::to_string(n.second)});
    out << table({"User", "Accesses", "Agents"}, rows, {false, true, true}) << "\n";
  }
  if (!r.top_searches.empty()) {
    out << "Searches run\n";
    rows.clear();
    for (const auto& [q, n] : r.top_searches) rows.push_back({q, std::to_string(n)});
    out << table({"Query", "Times"}, rows, {false, true}) << "\n";
  }
  if (!o.columns.status) {
    out << "Failed accesses (4xx): not in this input (no Status column)\n";
  } else if (!r.failed_rows.empty()) {
    size_t shown = std::min(r.failed_rows.size(), o.top);
    out << "Failed accesses (4xx), first " << shown << " of " << r.failed
        << (shown < r.failed ? " (all of them in the HTML page and its CSV link)" : "") << "\n";
    rows.clear();
    for (size_t i = 0; i < shown; ++i) {
      const AccessRow& f = r.failed_rows[i];
      rows.push_back({format_utc_seconds(f.time_s), text_label(f.agent_id, f.agent_name), std::to_string(f.status),
                      f.kind + " " + f.what});
    }
    out << table({"Time", "Agent", "Status", "Accessed"}, rows, {false, false, true, false}) << "\n";
  }
  return out.str();
}

}  // namespace zf::app
