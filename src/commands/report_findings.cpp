#include "commands/report_findings.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <map>
#include <set>

#include "core/time_format.h"
#include "encode/json_writer.h"

namespace zf::app {

namespace {

std::string fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string hours_text(int from, int to) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02d:00-%02d:00 UTC Monday to Friday", from, to);
  return buf;
}

struct AgentRows {
  std::string name;
  std::vector<const AccessRow*> rows;  // by time
};

std::map<std::string, AgentRows> by_agent(const std::vector<AccessRow>& rows) {
  std::map<std::string, AgentRows> agents;
  for (const AccessRow& r : rows) {
    AgentRows& a = agents[r.agent_id];
    if (a.name.empty()) a.name = r.agent_name;
    a.rows.push_back(&r);
  }
  for (auto& [id, a] : agents)
    std::stable_sort(a.rows.begin(), a.rows.end(), [](const AccessRow* x, const AccessRow* y) { return x->time_s < y->time_s; });
  return agents;
}

Finding finding(const char* kind, const std::string& id, const AgentRows& a) {
  Finding f;
  f.kind = kind;
  f.agent_id = id;
  f.agent_name = a.name;
  if (!a.rows.empty()) f.from_s = a.rows.front()->time_s, f.to_s = a.rows.back()->time_s;
  return f;
}

void volume(const std::map<std::string, AgentRows>& agents, const FindingOptions& o, std::vector<Finding>& out) {
  std::map<std::string, std::pair<double, size_t>> rate;  // agent -> (distinct per active day, active days)
  for (const auto& [id, a] : agents) {
    std::map<int64_t, std::set<std::pair<std::string, std::string>>> per_day;
    for (const AccessRow* r : a.rows)
      if (r->kind == "ticket" || r->kind == "user") per_day[r->time_s / 86400].insert({r->kind, r->what});
    if (per_day.empty()) continue;
    size_t distinct = 0;
    for (const auto& [d, s] : per_day) distinct += s.size();
    rate[id] = {static_cast<double>(distinct) / static_cast<double>(per_day.size()), per_day.size()};
  }
  if (rate.size() < 3) return;  // no team to compare with
  std::vector<double> values;
  for (const auto& [id, r] : rate) values.push_back(r.first);
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  double median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  double threshold = median * o.median_factor;
  for (const auto& [id, r] : rate) {
    if (median <= 0 || r.first <= threshold) continue;
    const AgentRows& a = agents.at(id);
    Finding f = finding("volume", id, a);
    f.value = r.first;
    f.threshold = threshold;
    f.why = "accessed " + fixed(r.first, 1) + " distinct tickets and profiles per active day over " +
            std::to_string(r.second) + " active days, " + fixed(r.first / median, 1) + " times the team's median of " +
            fixed(median, 1) + " (" + std::to_string(n) + " agents; flagged above " + fixed(o.median_factor, 1) + " times)";
    out.push_back(std::move(f));
  }
}

void off_hours(const std::map<std::string, AgentRows>& agents, const FindingOptions& o, std::vector<Finding>& out) {
  for (const auto& [id, a] : agents) {
    Finding f = finding("off_hours", id, a);
    for (const AccessRow* r : a.rows)
      if (outside_hours(r->time_s, o.work_start_hour, o.work_end_hour)) f.evidence.push_back(*r);
    double share = static_cast<double>(f.evidence.size()) / static_cast<double>(a.rows.size());
    if (f.evidence.empty() || share <= o.off_hours_share) continue;
    f.value = share;
    f.threshold = o.off_hours_share;
    f.from_s = f.evidence.front().time_s;
    f.to_s = f.evidence.back().time_s;
    f.why = std::to_string(f.evidence.size()) + " of " + std::to_string(a.rows.size()) + " accesses (" +
            fixed(share * 100, 1) + "%) outside working hours (" + hours_text(o.work_start_hour, o.work_end_hour) +
            "), above " + fixed(o.off_hours_share * 100, 0) + "%";
    out.push_back(std::move(f));
  }
}

void bursts(const std::map<std::string, AgentRows>& agents, const FindingOptions& o, std::vector<Finding>& out) {
  for (const auto& [id, a] : agents) {
    std::deque<const AccessRow*> window;
    std::map<std::string, size_t> count;  // ticket -> accesses in the window
    Finding current;
    bool open = false;
    size_t most = 0;
    auto close = [&] {
      current.value = static_cast<double>(most);
      current.threshold = static_cast<double>(o.burst_tickets);
      current.why = std::to_string(most) + " distinct tickets within " + std::to_string(o.burst_window_s / 60) +
                    " minutes (" + format_utc_seconds(current.from_s) + " to " + format_utc_seconds(current.to_s) + ", " +
                    std::to_string(current.evidence.size()) + " accesses), above " + std::to_string(o.burst_tickets);
      out.push_back(std::move(current));
      open = false;
      most = 0;
    };
    for (const AccessRow* r : a.rows) {
      if (r->kind != "ticket") continue;
      window.push_back(r);
      ++count[r->what];
      while (window.front()->time_s <= r->time_s - o.burst_window_s) {
        if (--count[window.front()->what] == 0) count.erase(window.front()->what);
        window.pop_front();
      }
      if (count.size() > o.burst_tickets) {
        if (!open) {
          current = finding("burst", id, a);
          current.evidence.clear();
          for (const AccessRow* w : window) current.evidence.push_back(*w);
          current.from_s = window.front()->time_s;
          open = true;
        } else {
          current.evidence.push_back(*r);
        }
        current.to_s = r->time_s;
        most = std::max(most, count.size());
      } else if (open) {
        close();
      }
    }
    if (open) close();
  }
}

void new_ips(const std::map<std::string, AgentRows>& agents, const FindingOptions& o, int64_t period_from_s,
             std::vector<Finding>& out) {
  int64_t baseline_end = period_from_s + o.baseline_s;
  for (const auto& [id, a] : agents) {
    std::set<std::string> known;
    std::map<std::string, std::vector<const AccessRow*>> fresh;
    std::vector<std::string> order;
    for (const AccessRow* r : a.rows) {
      if (r->source_ip.empty()) continue;
      if (r->time_s < baseline_end) known.insert(r->source_ip);
      else if (!known.count(r->source_ip)) {
        auto& list = fresh[r->source_ip];
        if (list.empty()) order.push_back(r->source_ip);
        list.push_back(r);
      }
    }
    // An agent with no access in the baseline has no usual addresses to compare with.
    if (known.empty() || fresh.empty()) continue;
    Finding f = finding("new_ip", id, a);
    f.value = static_cast<double>(fresh.size());
    f.from_s = fresh[order.front()].front()->time_s;
    f.to_s = 0;
    std::string list, base;
    for (const auto& ip : order) {
      const auto& rows = fresh[ip];
      for (const AccessRow* r : rows) {
        f.evidence.push_back(*r);
        f.to_s = std::max(f.to_s, r->time_s);
      }
      if (list.size() < 300)
        list += (list.empty() ? "" : "; ") + ip + " from " + format_utc_seconds(rows.front()->time_s) + " (" +
                std::to_string(rows.size()) + (rows.size() == 1 ? " access)" : " accesses)");
    }
    for (const auto& ip : known)
      if (base.size() < 120) base += (base.empty() ? "" : ", ") + ip;
    std::stable_sort(f.evidence.begin(), f.evidence.end(), [](const AccessRow& x, const AccessRow& y) { return x.time_s < y.time_s; });
    f.why = "used " + std::to_string(fresh.size()) + (fresh.size() == 1 ? " source IP" : " source IPs") +
            " not seen in the first " + std::to_string(o.baseline_s / 86400) + " days of the period (" + base + "): " + list;
    out.push_back(std::move(f));
  }
}

std::string csv_cell(const std::string& v) { return csv_field(v); }

}  // namespace

bool outside_hours(int64_t s, int work_start_hour, int work_end_hour) {
  int64_t days = s / 86400;
  int weekday = static_cast<int>((days + 4) % 7);  // 1970-01-01 was a Thursday; 0 = Sunday
  int hour = static_cast<int>(s % 86400 / 3600);
  return weekday == 0 || weekday == 6 || hour < work_start_hour || hour >= work_end_hour;
}

std::vector<Finding> find_outliers(const std::vector<AccessRow>& rows, const FindingOptions& o, int64_t period_from_s,
                                   bool has_source_ip) {
  std::vector<Finding> out;
  if (rows.empty()) return out;
  auto agents = by_agent(rows);
  if (period_from_s == 0) {
    period_from_s = rows.front().time_s;
    for (const AccessRow& r : rows) period_from_s = std::min(period_from_s, r.time_s);
  }
  volume(agents, o, out);
  off_hours(agents, o, out);
  bursts(agents, o, out);
  if (has_source_ip) new_ips(agents, o, period_from_s, out);
  return out;
}

std::string findings_csv(const std::vector<Finding>& findings) {
  std::string out = "Finding,Agent ID,Agent name,From,To,Value,Threshold,Why,Accesses\r\n";
  for (const Finding& f : findings)
    out += csv_cell(f.kind) + "," + csv_cell(f.agent_id) + "," + csv_cell(f.agent_name) + "," + format_utc_seconds(f.from_s) +
           "," + format_utc_seconds(f.to_s) + "," + fixed(f.value, 3) + "," + fixed(f.threshold, 3) + "," + csv_cell(f.why) +
           "," + std::to_string(f.evidence.size()) + "\r\n";
  return out;
}

std::string findings_ecs(const std::vector<Finding>& findings, const std::string& account) {
  std::string out;
  for (const Finding& f : findings) {
    std::string line;
    encode::JsonWriter w(line);
    w.begin_object();
    w.field("@timestamp", format_utc_seconds(f.from_s)).field("message", f.why);
    w.key("event").begin_object().field("kind", "alert").field("category", "iam").field("module", "zendesk");
    w.field("dataset", "zendesk.access_report").field("start", format_utc_seconds(f.from_s));
    w.field("end", format_utc_seconds(f.to_s)).end_object();
    w.key("rule").begin_object().field("name", "zendesk-forwarder report: " + f.kind).end_object();
    w.key("user").begin_object().field("id", f.agent_id).field("name", f.agent_name).end_object();
    if (!account.empty()) w.key("organization").begin_object().field("name", account).end_object();
    w.end_object();
    out += line + "\n";
  }
  return out;
}

}  // namespace zf::app
