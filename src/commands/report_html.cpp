// The report as one self-contained HTML page (inline SVG charts, no script,
// nothing fetched) that prints to PDF: @page sizes and margin headers with
// the account and period, header rows repeated on each page, rows never
// split. Every value from the account goes through html_text (markup
// escaped, hidden controls shown as [U+202E]) and every name sits in its own
// isolated element beside, never around, the agent's id, so no name can
// reorder or hide the id.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands/report.h"
#include "commands/safe_text.h"
#include "core/errors.h"
#include "core/time_format.h"
#include "core/durable_file.h"

namespace zf::app {

namespace {

// A CSS string literal's content (the @page headers): hidden controls as
// visible markers, and quotes, backslashes and anything that could close
// the <style> element as CSS escapes (CSS does not decode HTML entities).
std::string css_string(std::string_view s) {
  std::string out;
  for (char c : visible(s)) {
    if (c == '<' || c == '>' || c == '&' || c == '"' || c == '\'' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\%x ", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string base64(std::string_view in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

// An agent as the page shows it everywhere: the name (isolated, cut with an
// ellipsis when long, whole in its tooltip) and then the id, always visible.
std::string agent_html(const std::string& id, const std::string& name) {
  std::string out = "<span class=\"agent\">";
  if (!name.empty()) out += "<bdi class=\"nm\" title=\"" + html_text(name) + "\">" + html_text(name) + "</bdi> ";
  return out + "<span class=\"id\">" + html_text(id) + "</span></span>";
}

std::string fill_for(size_t n, size_t most) {
  if (n == 0) return "#f4f4f4";
  // White to deep blue by the share of the busiest agent-day.
  double t = static_cast<double>(n) / static_cast<double>(std::max<size_t>(most, 1));
  char fill[16];
  std::snprintf(fill, sizeof fill, "#%02x%02x%02x", static_cast<int>(240 - 200 * t), static_cast<int>(244 - 150 * t),
                static_cast<int>(250 - 70 * t));
  return fill;
}

void heat_map(std::ostringstream& h, const Report& r) {
  size_t most = 1;
  for (const auto& [id, days] : r.per_day)
    for (const auto& [d, n] : days) most = std::max(most, n);
  const int cell = 14, name_end = 196, id_x = 202, left = 292, top = 40;
  int width = left + static_cast<int>(r.days.size()) * cell + 10, height = top + static_cast<int>(r.agents.size()) * cell + 8;
  h << "<h2>Accesses per agent per day (all " << r.agents.size() << " agents)</h2>\n<svg id=\"heatmap\" class=\"chart\" "
    << "xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << width << " " << height << "\" width=\"" << width
    << "\" role=\"img\" aria-label=\"accesses per agent per day\">\n";
  for (size_t d = 0; d < r.days.size(); d += 7)
    h << "<text x=\"" << left + static_cast<int>(d) * cell << "\" y=\"" << top - 8 << "\">" << r.days[d].substr(5) << "</text>";
  for (size_t i = 0; i < r.agents.size(); ++i) {
    const auto& a = r.agents[i];
    int y = top + static_cast<int>(i) * cell;
    // Name and id are separate text elements: nothing in a name can move the id.
    h << "<text class=\"agent-name\" x=\"" << name_end << "\" y=\"" << y + 11 << "\" text-anchor=\"end\">"
      << html_text(shortened(visible(a.name), 28)) << "</text><text class=\"agent-id\" x=\"" << id_x << "\" y=\"" << y + 11 << "\">"
      << html_text(a.id) << "</text>";
    auto it = r.per_day.find(a.id);
    for (size_t d = 0; d < r.days.size(); ++d) {
      size_t n = 0;
      if (it != r.per_day.end())
        if (auto c = it->second.find(r.days[d]); c != it->second.end()) n = c->second;
      h << "<rect class=\"cell\" x=\"" << left + static_cast<int>(d) * cell << "\" y=\"" << y << "\" width=\"" << cell - 1
        << "\" height=\"" << cell - 1 << "\" fill=\"" << fill_for(n, most) << "\"><title>" << html_text(a.id) << " "
        << html_text(a.name) << ", " << r.days[d] << ": " << n << "</title></rect>";
    }
    h << "\n";
  }
  h << "</svg>\n";
  // The legend: what a colour means, from no access to the busiest agent-day.
  h << "<svg id=\"legend\" xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"34\" role=\"img\" "
       "aria-label=\"colour legend\"><text x=\"0\" y=\"22\">Colour legend (accesses per day):</text>";
  int x = 200;
  h << "<rect x=\"" << x << "\" y=\"6\" width=\"22\" height=\"14\" fill=\"#f4f4f4\" stroke=\"#ccc\"/><text x=\"" << x
    << "\" y=\"32\">0</text>";
  for (int k = 1; k <= 4; ++k) {
    size_t n = std::max<size_t>(1, most * static_cast<size_t>(k) / 4);
    x += 70;
    h << "<rect class=\"legend\" x=\"" << x << "\" y=\"6\" width=\"22\" height=\"14\" fill=\"" << fill_for(n, most)
      << "\"/><text x=\"" << x << "\" y=\"32\">" << (k == 4 ? "" : "\u2264 ") << n << (k == 4 ? " (most)" : "") << "</text>";
  }
  h << "</svg>\n";
}

void bars(std::ostringstream& h, const char* id, const std::string& title,
          const std::vector<std::pair<std::pair<std::string, std::string>, size_t>>& items) {
  size_t most = 1;
  for (const auto& [label, n] : items) most = std::max(most, n);
  const int row = 20, name_end = 196, id_x = 202, bar_x = 300, bar_w = 400;
  h << "<h2>" << html_text(title) << "</h2>\n<svg id=\"" << id << "\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 "
    << bar_x + bar_w + 60 << " " << items.size() * row + 10 << "\" width=\"" << bar_x + bar_w + 60 << "\" role=\"img\">\n";
  for (size_t i = 0; i < items.size(); ++i) {
    int y = static_cast<int>(i) * row;
    int w = static_cast<int>(bar_w * static_cast<double>(items[i].second) / static_cast<double>(most));
    h << "<text class=\"agent-name\" x=\"" << name_end << "\" y=\"" << y + 14 << "\" text-anchor=\"end\">"
      << html_text(shortened(visible(items[i].first.first), 28)) << "</text><text class=\"agent-id\" x=\"" << id_x << "\" y=\"" << y + 14
      << "\">" << html_text(items[i].first.second) << "</text><rect class=\"bar\" x=\"" << bar_x << "\" y=\"" << y + 3
      << "\" width=\"" << std::max(w, 1) << "\" height=\"14\" fill=\"#3b6fb6\"/><text x=\"" << bar_x + w + 6 << "\" y=\""
      << y + 14 << "\">" << items[i].second << "</text>\n";
  }
  h << "</svg>\n";
}

void access_table(std::ostringstream& h, const std::vector<AccessRow>& rows, size_t limit, const InputColumns& c) {
  const char* missing = "<i>not in this input</i>";
  h << "<table class=\"rows\"><thead><tr><th>Time (UTC)</th><th>Agent</th><th>Accessed</th><th>Action</th><th>Status</th>"
       "<th>Source IP</th></tr></thead><tbody>\n";
  for (size_t i = 0; i < rows.size() && i < limit; ++i) {
    const AccessRow& a = rows[i];
    h << "<tr><td class=\"t\">" << format_utc_seconds(a.time_s) << "</td><td>" << agent_html(a.agent_id, a.agent_name)
      << "</td><td class=\"w\">" << html_text(a.kind + " " + a.what) << "</td><td>" << (c.action ? html_text(a.action) : missing)
      << "</td><td class=\"n\">" << (c.status ? (a.status ? std::to_string(a.status) : "") : missing) << "</td><td>"
      << (c.source_ip ? html_text(a.source_ip) : missing) << "</td></tr>\n";
  }
  h << "</tbody></table>\n";
  if (rows.size() > limit) h << "<p>" << limit << " of " << rows.size() << " shown.</p>\n";
}

void counted_table(std::ostringstream& h, const char* id, const char* title, const char* what,
                   const std::vector<Counted>& items) {
  h << "<h2>" << title << "</h2>\n<table id=\"" << id << "\"><thead><tr><th>" << what
    << "</th><th>Accesses</th><th>Agents</th></tr></thead><tbody>\n";
  for (const auto& [key, n] : items)
    h << "<tr><td class=\"w\">" << html_text(key) << "</td><td class=\"n\">" << n.first << "</td><td class=\"n\">" << n.second
      << "</td></tr>\n";
  h << "</tbody></table>\n";
}

}  // namespace

std::string report_html(const Report& r) {
  const ReportOptions& o = r.options;
  const InputColumns& c = o.columns;
  std::string period = r.accesses ? period_line(r) : "no accesses";
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << html_text(o.title) << ", "
    << html_text(period) << "</title>\n<style>\n"
    << "@page{size:" << (o.paper == "letter" ? "Letter" : "A4") << ";margin:16mm 10mm 14mm 10mm;"
    << "@top-left{content:\"" << css_string(o.title) << "\";font:9px sans-serif;color:#555}"
    << "@top-right{content:\"" << css_string(period) << "\";font:9px sans-serif;color:#555}"
    << "@bottom-right{content:\"page \" counter(page) \" of \" counter(pages);font:9px sans-serif;color:#555}"
    << "@bottom-left{content:\"generated " << (o.generated_s ? format_utc_seconds(o.generated_s) : std::string("")) 
    << "\";font:9px sans-serif;color:#555}}\n"
       "body{font:14px system-ui,sans-serif;margin:24px auto;max-width:1100px;padding:0 12px;color:#222}"
       "h1{font-size:22px;overflow-wrap:anywhere}h2{font-size:17px;margin-top:28px;break-after:avoid}"
       "table{border-collapse:collapse;max-width:100%}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;"
       "vertical-align:top}th{background:#f3f5f8}td.n{text-align:right}td.t{white-space:nowrap}"
       "td.w{overflow-wrap:anywhere;max-width:24em;min-width:9em}thead{display:table-header-group}tr{break-inside:avoid}"
       ".agent{white-space:nowrap}.nm{display:inline-block;max-width:16em;overflow:hidden;text-overflow:ellipsis;"
       "white-space:nowrap;vertical-align:bottom;unicode-bidi:isolate}.id{font-family:monospace;color:#555}"
       ".kpi{display:inline-block;margin:0 18px 8px 0}.kpi b{font-size:20px;display:block}"
       "svg.chart{max-width:100%;height:auto;display:block}svg text{font:11px system-ui,sans-serif}"
       "svg text.agent-id{font:11px monospace;fill:#555}.why{overflow-wrap:anywhere;max-width:40em}"
       ".meta{color:#555}table.rows{font-size:12px}\n"
       "@media print{body{margin:0;max-width:none;padding:0;font-size:11px}h2{font-size:14px}"
       "svg.chart{width:100%}.kpi b{font-size:15px}}\n"
       "</style></head><body>\n";
  h << "<h1>" << html_text(o.title) << "</h1>\n<p class=\"meta\">";
  if (!o.account.empty()) h << "Account <b>" << html_text(o.account) << "</b>, ";
  h << html_text(period) << ", UTC.";
  if (o.generated_s) h << " Generated " << format_utc_seconds(o.generated_s) << " by zendesk-forwarder " << ZF_VERSION << ".";
  h << "</p>\n";
  if (r.accesses == 0) return h.str() + "<p>No accesses in the input.</p></body></html>\n";

  for (const auto& l : r.lookups) {
    h << "<h2 class=\"lookup\">Who accessed " << html_text(l.question) << ": " << l.rows.size()
      << (l.rows.size() == 1 ? " access" : " accesses") << "</h2>\n";
    access_table(h, l.rows, l.rows.size(), c);
  }

  h << "<div>";
  auto kpi = [&h](const std::string& n, const char* label) { h << "<span class=\"kpi\"><b>" << n << "</b>" << label << "</span>"; };
  kpi(std::to_string(r.accesses), "accesses");
  kpi(std::to_string(r.agents.size()), "agents");
  kpi(std::to_string(r.tickets), "distinct tickets");
  kpi(std::to_string(r.profiles), "user profiles");
  kpi(std::to_string(r.searches), "searches");
  kpi(c.status ? std::to_string(r.failed) : "not in this input", "failed (4xx)");
  char hours[64];
  std::snprintf(hours, sizeof hours, "outside working hours (%02d-%02d UTC, Mon-Fri)", o.work_start_hour, o.work_end_hour);
  kpi(std::to_string(r.outside_hours), hours);
  h << "</div>\n";

  heat_map(h, r);
  std::vector<std::pair<std::pair<std::string, std::string>, size_t>> items;
  for (size_t i = 0; i < r.agents.size() && i < o.top; ++i)
    items.push_back({{r.agents[i].name, r.agents[i].id}, r.agents[i].tickets + r.agents[i].profiles});
  bars(h, "top-agents", "Top agents by distinct tickets and user profiles accessed (" + std::to_string(items.size()) + " of " +
                            std::to_string(r.agents.size()) + ")",
       items);

  h << "<h2 id=\"findings\">Who stands out (" << r.findings.size() << ")</h2>\n";
  const FindingOptions& fo = o.findings;
  h << "<p class=\"meta\">Thresholds: distinct tickets and profiles per active day above " << fo.median_factor
    << "&times; the team's median; more than " << fo.off_hours_share * 100 << "% of accesses outside working hours; more than "
    << fo.burst_tickets << " distinct tickets within " << fo.burst_window_s / 60 << " minutes; a source IP not used in the first "
    << fo.baseline_s / 86400 << " days" << (c.source_ip ? "" : " (not in this input: no Source IP column)") << ".</p>\n";
  if (r.findings.empty()) h << "<p>Nobody at these thresholds.</p>\n";
  else {
    h << "<table id=\"findings-table\"><thead><tr><th>Finding</th><th>Agent</th><th>Why</th></tr></thead><tbody>\n";
    for (const auto& f : r.findings)
      h << "<tr><td>" << html_text(f.kind) << "</td><td>" << agent_html(f.agent_id, f.agent_name) << "</td><td class=\"why\">"
        << html_text(f.why) << "</td></tr>\n";
    h << "</tbody></table>\n<p class=\"meta\">The accesses behind each finding are listed at the end of the page.</p>\n";
  }
  h << "<h2>Agents (all " << r.agents.size() << ")</h2>\n<table id=\"agents\"><thead><tr><th>Agent</th><th>Tickets</th>"
       "<th>Profiles</th><th>Searches</th><th>Failed</th><th>Off-hours</th><th>Accesses</th></tr></thead><tbody>\n";
  for (const auto& a : r.agents)
    h << "<tr><td>" << agent_html(a.id, a.name) << "</td><td class=\"n\">" << a.tickets << "</td><td class=\"n\">" << a.profiles
      << "</td><td class=\"n\">" << a.searches << "</td><td class=\"n\">" << (c.status ? std::to_string(a.failed) : "n/a")
      << "</td><td class=\"n\">" << a.outside_hours << "</td><td class=\"n\">" << a.accesses << "</td></tr>\n";
  h << "</tbody></table>\n";
  if (!r.top_tickets.empty()) counted_table(h, "top-tickets", "Most-accessed tickets", "Ticket", r.top_tickets);
  if (!r.top_profiles.empty()) counted_table(h, "top-profiles", "Most-viewed user profiles", "User", r.top_profiles);
  if (!r.top_searches.empty()) {
    h << "<h2>Searches run</h2>\n<table><thead><tr><th>Query</th><th>Times</th></tr></thead><tbody>\n";
    for (const auto& [q, n] : r.top_searches) h << "<tr><td class=\"w\">" << html_text(q) << "</td><td class=\"n\">" << n << "</td></tr>\n";
    h << "</tbody></table>\n";
  }
  h << "<h2 id=\"failed\">Failed accesses (4xx)</h2>\n";
  if (!c.status) {
    h << "<p>Not in this input (it has no Status column).</p>\n";
  } else if (r.failed_rows.empty()) {
    h << "<p>None.</p>\n";
  } else {
    std::string csv = csv_header("all");
    for (const auto& f : r.failed_rows) csv += csv_row(f);
    h << "<p>" << r.failed << " failed accesses. All of them as CSV: <a download=\"failed-accesses.csv\" "
      << "href=\"data:text/csv;base64," << base64(csv) << "\">failed-accesses.csv</a>.</p>\n";
    access_table(h, r.failed_rows, o.failed_listed, c);
  }
  if (!r.findings.empty()) {
    h << "<h2 id=\"evidence\">The accesses behind the findings</h2>\n";
    for (const auto& f : r.findings) {
      if (f.evidence.empty()) continue;
      h << "<h3>" << html_text(f.kind) << ": " << agent_html(f.agent_id, f.agent_name) << " (" << f.evidence.size()
        << (f.evidence.size() == 1 ? " access" : " accesses") << (f.evidence.size() > 20 ? ", the first 20 shown" : "")
        << ")</h3>\n";
      access_table(h, f.evidence, 20, c);
    }
  }
  h << "<p class=\"meta\">zendesk-forwarder " << ZF_VERSION << "</p></body></html>\n";
  return h.str();
}

}  // namespace zf::app

namespace zf::app {

void print_pdf(const std::string& html, const std::string& pdf_path) {
  std::string templ = (std::filesystem::temp_directory_path() / "zf-report-XXXXXX").string();
  if (!::mkdtemp(templ.data())) throw FatalError("--pdf: cannot make a temporary directory: " + std::string(std::strerror(errno)));
  const std::filesystem::path dir = templ;
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};
  const std::string page = (dir / "report.html").string(), out = (dir / "report.pdf").string();
  replace_file(page, html);
  const char* env = std::getenv("ZF_CHROMIUM");
  std::string binary = env && *env ? env : "chromium";
  std::vector<std::string> argv = {binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                   "--disable-component-update", "--disable-sync", "--no-first-run",
                                   "--disable-extensions", "--no-pdf-header-footer",
                                   "--user-data-dir=" + (dir / "profile").string(), "--print-to-pdf=" + out,
                                   "file://" + page};
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const std::string log_path = (dir / "chromium.log").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  // A new process group, so that a timeout ends chromium's helpers too.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  int err = ::posix_spawnp(&pid, binary.c_str(), &actions, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0)
    throw FatalError("--pdf needs headless chromium: cannot run \"" + binary + "\": " + std::strerror(err) +
                     " (apt-get install chromium, or set ZF_CHROMIUM)");
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (true) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throw FatalError("--pdf: chromium did not finish printing within 120 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(-pid, SIGKILL);  // helpers left behind, if any
  std::ifstream in(out, std::ios::binary);
  std::string pdf((std::istreambuf_iterator<char>(in)), {});
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || pdf.rfind("%PDF", 0) != 0) {
    std::ifstream l(log_path);
    std::string tail((std::istreambuf_iterator<char>(l)), {});
    if (tail.size() > 600) tail = tail.substr(tail.size() - 600);
    throw FatalError("--pdf: chromium did not print the page (exit status " + std::to_string(status) + "): " + tail);
  }
  try {
    replace_file(pdf_path, pdf);
  } catch (const std::exception& e) {
    throw FatalError(std::string("--pdf: cannot write ") + pdf_path + ": " + e.what());
  }
}

}  // namespace zf::app
