#pragma once
// "Who stands out": the agents an auditor should look at first, each with
// the reason it is listed, at documented defaults (docs/OPERATIONS.md):
// - volume:    distinct tickets and profiles per active day above
//              `median_factor` x the team's median (3);
// - off_hours: more than `off_hours_share` (10%) of an agent's accesses
//              outside working hours (08-18 UTC, Monday to Friday);
// - burst:     more than `burst_tickets` (30) distinct tickets within
//              `burst_window_s` (10 minutes);
// - new_ip:    a source IP an agent had not used in the first
//              `baseline_s` (7 days) of the period.
// As a CSV (findings_csv) and as ECS alert records (findings_ecs) for a SIEM.
#include <cstdint>
#include <string>
#include <vector>

#include "commands/export.h"

namespace zf::app {

struct FindingOptions {
  double median_factor = 3.0;
  double off_hours_share = 0.10;
  size_t burst_tickets = 30;
  int64_t burst_window_s = 600;
  int64_t baseline_s = 7 * 86400;
  int work_start_hour = 8, work_end_hour = 18;  // UTC, Monday to Friday
};

struct Finding {
  std::string kind;  // volume, off_hours, burst, new_ip
  std::string agent_id, agent_name;
  int64_t from_s = 0, to_s = 0;   // when it was seen
  double value = 0, threshold = 0;
  std::string why;                // one sentence, with the figures
  std::vector<AccessRow> evidence;  // the accesses behind it (off-hours list, the burst, the new IP's accesses)
};

bool outside_hours(int64_t s, int work_start_hour, int work_end_hour);

// `period_from_s`: where the new-IP baseline starts (the first access when 0).
// `has_source_ip`: false for an input without source IPs (no new_ip finding).
std::vector<Finding> find_outliers(const std::vector<AccessRow>& rows, const FindingOptions& options,
                                   int64_t period_from_s, bool has_source_ip);

// kind,agent_id,agent_name,from,to,value,threshold,why,accesses
std::string findings_csv(const std::vector<Finding>& findings);
// One ECS document a line: event.kind "alert", rule.name the kind,
// message the reason, user.id/user.name the agent.
std::string findings_ecs(const std::vector<Finding>& findings, const std::string& account);

}  // namespace zf::app
