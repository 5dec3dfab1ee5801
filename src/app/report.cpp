#include "app/report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/time_format.h"

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

std::vector<AccessRow> read_jsonl(const std::string& path, const std::string& text) {
  std::vector<AccessRow> rows;
  std::istringstream in(text);
  std::string line;
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
    r.kind = str("resource_type");
    r.what = str("accessed");
    r.time_s = seconds_of(str("time"), path, n);
    r.action = str("action");
    r.method = str("method");
    r.status = j.contains("status") && j["status"].is_number_integer() ? j["status"].get<int>() : 0;
    r.source_ip = str("source_ip");
    r.url = str("url");
    r.event_id = str("event_id");
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<AccessRow> read_csv(const std::string& path, std::string_view text) {
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
  std::vector<AccessRow> rows;
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
      rows.push_back(std::move(r));
    }
  } catch (const std::invalid_argument& e) {
    throw FatalError(path + " line " + std::to_string(line + 1) + ": " + e.what());
  }
  return rows;
}

std::string day_of(int64_t s) { return format_utc_seconds(s - s % 86400).substr(0, 10); }

bool outside_hours(int64_t s, const ReportOptions& o) {
  int64_t days = s / 86400;
  int weekday = static_cast<int>((days + 4) % 7);  // 1970-01-01 was a Thursday; 0 = Sunday
  int hour = static_cast<int>(s % 86400 / 3600);
  return weekday == 0 || weekday == 6 || hour < o.work_start_hour || hour >= o.work_end_hour;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string agent_label(const AgentSummary& a) { return a.name.empty() ? a.id : a.name + " (" + a.id + ")"; }

// What an agent typed (a search) must not drive the reader's terminal:
// control characters are shown escaped.
std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      out += esc;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Columns padded to their widest cell; numbers right-aligned.
std::string table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows,
                  const std::vector<bool>& numeric) {
  std::vector<size_t> width(head.size());
  auto cells = [](const std::string& s) {  // display width: UTF-8 code points
    return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  };
  std::vector<std::vector<std::string>> safe;
  for (const auto& r : rows) {
    safe.emplace_back();
    for (const auto& v : r) safe.back().push_back(printable(v));
  }
  for (size_t i = 0; i < head.size(); ++i) width[i] = cells(head[i]);
  for (const auto& r : safe)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], std::min<size_t>(cells(r[i]), 60));
  auto line = [&](const std::vector<std::string>& r) {
    std::string out = " ";
    for (size_t i = 0; i < r.size(); ++i) {
      std::string v = r[i];
      if (cells(v) > 60) {  // cut at the 57th character, not inside one
        size_t at = 0;
        for (size_t chars = 0; at < v.size(); ++at)
          if ((v[at] & 0xC0) != 0x80 && chars++ == 57) break;
        v = v.substr(0, at) + "...";
      }
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

std::vector<AccessRow> read_export(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FatalError("cannot read " + path + ": check the path");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  size_t first = text.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
  if (first != std::string::npos && text[first] == '{') return read_jsonl(path, text);
  return read_csv(path, std::string_view(text).substr(text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0));
}

Report build_report(const std::vector<AccessRow>& rows, const ReportOptions& o) {
  Report rep;
  rep.options = o;
  struct Agent {
    AgentSummary s;
    std::set<std::string> tickets, profiles;
  };
  std::map<std::string, Agent> agents;
  std::map<std::string, std::pair<size_t, std::set<std::string>>> tickets;
  std::map<std::string, size_t> searches;
  std::set<std::string> all_tickets, all_profiles;
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
      all_tickets.insert(r.what);
      auto& t = tickets[r.what];
      ++t.first;
      t.second.insert(r.agent_id);
    } else if (r.kind == "user") {
      a.profiles.insert(r.what);
      all_profiles.insert(r.what);
    } else if (r.kind == "search") {
      ++a.s.searches;
      ++rep.searches;
      ++searches[r.what];
    }
    if (r.status >= 400 && r.status < 500) {
      ++a.s.failed;
      if (rep.failed++ < o.top) rep.failed_rows.push_back(r);
    }
    if (outside_hours(r.time_s, o)) ++a.s.outside_hours, ++rep.outside_hours;
    ++rep.per_day[r.agent_id][day_of(r.time_s)];
  }
  rep.tickets = all_tickets.size();
  rep.profiles = all_profiles.size();
  for (auto& [id, a] : agents) {
    a.s.tickets = a.tickets.size();
    a.s.profiles = a.profiles.size();
    rep.agents.push_back(a.s);
  }
  std::stable_sort(rep.agents.begin(), rep.agents.end(), [](const AgentSummary& a, const AgentSummary& b) {
    return a.tickets + a.profiles != b.tickets + b.profiles ? a.tickets + a.profiles > b.tickets + b.profiles
                                                            : a.accesses > b.accesses;
  });
  for (auto& [id, t] : tickets) rep.top_tickets.push_back({id, {t.first, t.second.size()}});
  std::stable_sort(rep.top_tickets.begin(), rep.top_tickets.end(),
                   [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  if (rep.top_tickets.size() > o.top) rep.top_tickets.resize(o.top);
  for (auto& [q, n] : searches) rep.top_searches.push_back({q, n});
  std::stable_sort(rep.top_searches.begin(), rep.top_searches.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (rep.top_searches.size() > o.top) rep.top_searches.resize(o.top);
  if (!rows.empty())
    for (int64_t d = rep.from_s - rep.from_s % 86400; d <= rep.to_s; d += 86400) rep.days.push_back(day_of(d));
  return rep;
}

std::string report_text(const Report& r) {
  const ReportOptions& o = r.options;
  std::ostringstream out;
  out << o.title << "\n" << std::string(o.title.size(), '=') << "\n";
  if (r.accesses == 0) return out.str() + "No accesses in the input.\n";
  char hours[64];
  std::snprintf(hours, sizeof hours, "%02d:00-%02d:00 UTC, Monday to Friday", o.work_start_hour, o.work_end_hour);
  out << "Period: " << format_utc_seconds(r.from_s) << " to " << format_utc_seconds(r.to_s) << " (" << r.days.size()
      << (r.days.size() == 1 ? " day" : " days") << ")\n"
      << "Accesses: " << r.accesses << " by " << r.agents.size() << " agents: " << r.tickets << " distinct tickets, "
      << r.profiles << " user profiles, " << r.searches << " searches; " << r.failed << " failed (4xx); "
      << r.outside_hours << " outside working hours (" << hours << ")\n\n";

  out << "Top agents by distinct tickets and user profiles accessed\n";
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < r.agents.size() && i < o.top; ++i) {
    const auto& a = r.agents[i];
    rows.push_back({std::to_string(i + 1), agent_label(a), std::to_string(a.tickets), std::to_string(a.profiles),
                    std::to_string(a.searches), std::to_string(a.failed), std::to_string(a.outside_hours),
                    std::to_string(a.accesses)});
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
  if (!r.top_searches.empty()) {
    out << "Searches run\n";
    rows.clear();
    for (const auto& [q, n] : r.top_searches) rows.push_back({q, std::to_string(n)});
    out << table({"Query", "Times"}, rows, {false, true}) << "\n";
  }
  if (!r.failed_rows.empty()) {
    out << "Failed accesses (4xx), first " << r.failed_rows.size() << " of " << r.failed << "\n";
    rows.clear();
    for (const auto& f : r.failed_rows)
      rows.push_back({format_utc_seconds(f.time_s), f.agent_name.empty() ? f.agent_id : f.agent_name,
                      std::to_string(f.status), f.kind + " " + f.what});
    out << table({"Time", "Agent", "Status", "Accessed"}, rows, {false, false, true, false}) << "\n";
  }
  return out.str();
}

std::string report_html(const Report& r) {
  const ReportOptions& o = r.options;
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << html_escape(o.title)
    << "</title>\n<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}h1{font-size:22px}"
       "h2{font-size:17px;margin-top:28px}table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;"
       "text-align:left}td.n{text-align:right}.kpi{display:inline-block;margin:0 18px 8px 0}.kpi b{font-size:20px;display:block}"
       "svg text{font:11px system-ui,sans-serif}</style></head><body>\n";
  h << "<h1>" << html_escape(o.title) << "</h1>\n";
  if (r.accesses == 0) return h.str() + "<p>No accesses in the input.</p></body></html>\n";
  h << "<p>" << format_utc_seconds(r.from_s) << " to " << format_utc_seconds(r.to_s) << " (" << r.days.size()
    << (r.days.size() == 1 ? " day" : " days") << ", UTC)</p>\n<div>";
  for (auto [label, n] : std::vector<std::pair<const char*, size_t>>{{"accesses", r.accesses}, {"agents", r.agents.size()},
                                                                     {"distinct tickets", r.tickets}, {"user profiles", r.profiles},
                                                                     {"searches", r.searches}, {"failed (4xx)", r.failed},
                                                                     {"outside working hours", r.outside_hours}})
    h << "<span class=\"kpi\"><b>" << n << "</b>" << label << "</span>";
  h << "</div>\n";

  // Heat map: accesses per agent (rows, top agents) per day (columns).
  size_t shown = std::min(r.agents.size(), std::max<size_t>(o.top, 20));
  size_t max_day = 1;
  for (size_t i = 0; i < shown; ++i)
    if (auto it = r.per_day.find(r.agents[i].id); it != r.per_day.end())
      for (const auto& [d, n] : it->second) max_day = std::max(max_day, n);
  const int cell = 14, left = 230, top = 40;
  int width = left + static_cast<int>(r.days.size()) * cell + 20, height = top + static_cast<int>(shown) * cell + 10;
  h << "<h2>Accesses per agent per day</h2>\n<svg id=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width
    << "\" height=\"" << height << "\" role=\"img\" aria-label=\"accesses per agent per day\">\n";
  for (size_t d = 0; d < r.days.size(); d += 7)
    h << "<text x=\"" << left + static_cast<int>(d) * cell << "\" y=\"" << top - 8 << "\">" << r.days[d].substr(5) << "</text>";
  for (size_t i = 0; i < shown; ++i) {
    const auto& a = r.agents[i];
    int y = top + static_cast<int>(i) * cell;
    h << "<text x=\"" << left - 6 << "\" y=\"" << y + 11 << "\" text-anchor=\"end\">" << html_escape(agent_label(a).substr(0, 36))
      << "</text>";
    auto it = r.per_day.find(a.id);
    for (size_t d = 0; d < r.days.size(); ++d) {
      size_t n = 0;
      if (it != r.per_day.end())
        if (auto c = it->second.find(r.days[d]); c != it->second.end()) n = c->second;
      // White to deep blue by the day's share of the busiest agent-day.
      double t = static_cast<double>(n) / static_cast<double>(max_day);
      char fill[16];
      std::snprintf(fill, sizeof fill, "#%02x%02x%02x", static_cast<int>(240 - 200 * t), static_cast<int>(244 - 150 * t),
                    static_cast<int>(250 - 70 * t));
      h << "<rect class=\"cell\" x=\"" << left + static_cast<int>(d) * cell << "\" y=\"" << y << "\" width=\"" << cell - 1
        << "\" height=\"" << cell - 1 << "\" fill=\"" << (n ? fill : "#f4f4f4") << "\"><title>"
        << html_escape(agent_label(a)) << ", " << r.days[d] << ": " << n << "</title></rect>";
    }
    h << "\n";
  }
  h << "</svg>\n";

  // Bars: top agents by distinct tickets + profiles.
  auto bars = [&h](const char* id, const std::string& title, const std::vector<std::pair<std::string, size_t>>& items) {
    size_t most = 1;
    for (const auto& [label, n] : items) most = std::max(most, n);
    const int row = 20, label_w = 260, bar_w = 420;
    h << "<h2>" << html_escape(title) << "</h2>\n<svg id=\"" << id << "\" xmlns=\"http://www.w3.org/2000/svg\" width=\""
      << label_w + bar_w + 80 << "\" height=\"" << items.size() * row + 10 << "\" role=\"img\">\n";
    for (size_t i = 0; i < items.size(); ++i) {
      int y = static_cast<int>(i) * row;
      int w = static_cast<int>(bar_w * static_cast<double>(items[i].second) / static_cast<double>(most));
      h << "<text x=\"" << label_w - 6 << "\" y=\"" << y + 14 << "\" text-anchor=\"end\">" << html_escape(items[i].first.substr(0, 40))
        << "</text><rect class=\"bar\" x=\"" << label_w << "\" y=\"" << y + 3 << "\" width=\"" << std::max(w, 1)
        << "\" height=\"14\" fill=\"#3b6fb6\"/><text x=\"" << label_w + w + 6 << "\" y=\"" << y + 14 << "\">"
        << items[i].second << "</text>\n";
    }
    h << "</svg>\n";
  };
  std::vector<std::pair<std::string, size_t>> items;
  for (size_t i = 0; i < r.agents.size() && i < o.top; ++i)
    items.push_back({agent_label(r.agents[i]), r.agents[i].tickets + r.agents[i].profiles});
  bars("top-agents", "Top agents by distinct tickets and user profiles accessed", items);
  items.clear();
  for (const auto& [id, n] : r.top_tickets) items.push_back({"ticket " + id, n.first});
  if (!items.empty()) bars("top-tickets", "Most-accessed tickets", items);

  h << "<h2>Agents</h2>\n<table><tr><th>Agent</th><th>Tickets</th><th>Profiles</th><th>Searches</th><th>Failed</th>"
       "<th>Off-hours</th><th>Accesses</th></tr>\n";
  for (const auto& a : r.agents)
    h << "<tr><td>" << html_escape(agent_label(a)) << "</td><td class=\"n\">" << a.tickets << "</td><td class=\"n\">"
      << a.profiles << "</td><td class=\"n\">" << a.searches << "</td><td class=\"n\">" << a.failed
      << "</td><td class=\"n\">" << a.outside_hours << "</td><td class=\"n\">" << a.accesses << "</td></tr>\n";
  h << "</table>\n";
  if (!r.top_searches.empty()) {
    h << "<h2>Searches run</h2>\n<table><tr><th>Query</th><th>Times</th></tr>\n";
    for (const auto& [q, n] : r.top_searches)
      h << "<tr><td>" << html_escape(q) << "</td><td class=\"n\">" << n << "</td></tr>\n";
    h << "</table>\n";
  }
  if (!r.failed_rows.empty()) {
    h << "<h2>Failed accesses (4xx), first " << r.failed_rows.size() << " of " << r.failed
      << "</h2>\n<table><tr><th>Time</th><th>Agent</th><th>Status</th><th>Accessed</th></tr>\n";
    for (const auto& f : r.failed_rows)
      h << "<tr><td>" << format_utc_seconds(f.time_s) << "</td><td>" << html_escape(f.agent_name.empty() ? f.agent_id : f.agent_name)
        << "</td><td class=\"n\">" << f.status << "</td><td>" << html_escape(f.kind + " " + f.what) << "</td></tr>\n";
    h << "</table>\n";
  }
  h << "<p style=\"color:#777\">zendesk-forwarder " << ZF_VERSION << "</p></body></html>\n";
  return h.str();
}

}  // namespace zf::app
