#include "commands/export.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <unordered_set>

#include <fcntl.h>
#include <unistd.h>

#include "proof/api_listing.h"
#include "log/progress.h"
#include "commands/safe_text.h"
#include "core/durable_file.h"
#include "core/errors.h"
#include "core/time_format.h"
#include "encode/json_writer.h"
#include "enrich/user_directory.h"
#include "metrics/metrics.h"
#include "normalize/normalizer.h"
#include "proof/raw_event.h"
#include "sources/event_id.h"

namespace zf::app {

std::optional<Accessed> accessed(const AccessEvent& e, const std::string& resource) {
  bool all = resource == "all";
  if ((all || resource == "tickets") && e.resource.type == "ticket" && !e.resource.id.empty())
    return Accessed{"ticket", e.resource.id};
  if ((all || resource == "users") && e.resource.type == "user" && !e.resource.id.empty() && !e.resource.search)
    return Accessed{"user", e.resource.id};
  if ((all || resource == "searches") && e.resource.search) return Accessed{"search", e.search_query};
  return std::nullopt;
}

std::string csv_field(std::string_view v) {
  std::string out;
  // Spreadsheets run a cell starting with these as a formula (CSV injection).
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r'))
    out = "'";
  out += v;
  if (out.find_first_of(",\"\r\n") == std::string::npos) return out;
  std::string quoted = "\"";
  for (char c : out) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

namespace {

const char* third_column(const std::string& resource) {
  if (resource == "tickets") return "Ticket accessed";
  if (resource == "users") return "User accessed";
  if (resource == "searches") return "Search run";
  return "Resource accessed";
}

}  // namespace

std::string csv_header(const std::string& resource) {
  return std::string("Agent ID,Agent name,") + third_column(resource) +
         ",Time accessed,Resource type,Action,Method,Status,Source IP,URL,Event ID,Agent email,Account\r\n";
}

AccessRow access_row(const AccessEvent& e, const Accessed& what, const PersonInfo* agent) {
  AccessRow r;
  r.agent_id = e.user_id;
  if (agent) r.agent_name = agent->name, r.agent_email = agent->email;
  r.kind = what.kind;
  r.what = what.what;
  r.time_s = e.timestamp_ms / 1000;
  r.action = e.action;
  r.method = e.method;
  r.status = e.status;
  r.source_ip = e.source_ip;
  r.url = e.url;
  r.event_id = e.id;
  r.account = e.account;
  return r;
}

std::string csv_row(const AccessRow& r, bool for_terminal) {
  std::string row;
  // The API's own time spelling (second granularity), as the script writes it.
  const std::string time = format_utc_seconds(r.time_s);
  const std::string status = r.status ? std::to_string(r.status) : "";
  bool first = true;
  for (std::string_view field : {std::string_view(r.agent_id), std::string_view(r.agent_name), std::string_view(r.what),
                                 std::string_view(time), std::string_view(r.kind), std::string_view(r.action),
                                 std::string_view(r.method), std::string_view(status), std::string_view(r.source_ip),
                                 std::string_view(r.url), std::string_view(r.event_id), std::string_view(r.agent_email),
                                 std::string_view(r.account)}) {
    if (!first) row += ',';
    first = false;
    row += csv_field(for_terminal ? printable(field) : std::string(field));
  }
  return row + "\r\n";
}

std::string jsonl_row(const AccessRow& r) {
  std::string out;
  encode::JsonWriter w(out);
  w.begin_object();
  w.field("agent_id", r.agent_id).field("agent_name", r.agent_name);
  if (!r.agent_email.empty()) w.field("agent_email", r.agent_email);
  w.field("resource_type", r.kind).field("accessed", r.what).field("time", format_utc_seconds(r.time_s));
  w.field("action", r.action).field("method", r.method).field("status", static_cast<int64_t>(r.status));
  w.field("source_ip", r.source_ip).field("url", r.url).field("event_id", r.event_id);
  if (!r.account.empty()) w.field("account", r.account);
  w.end_object();
  return out + "\n";
}

namespace {

// Two passes over the listing's spool, so that memory does not grow with
// the period: the first finds the repeats a resumed listing left and the
// agents to name (24 bytes an event), the second shapes and emits rows.
struct Pass {
  Listing listing;
  size_t events = 0;
  uint64_t users_requests = 0;
  size_t names_unavailable = 0;  // agents whose name the failing Users API did not give
  std::string users_failure;     // its last failure
};

Pass for_each_access(const AppConfig& config, const ExportOptions& o, Logger& log, StopSignal& stop,
                     const std::function<void(const AccessRow&)>& emit) {
  const PullSourceConfig& c = pull_source(config, o.source);
  ProcessMetrics process(ZF_VERSION);
  Progress progress("listing " + c.name, std::cerr, stderr_is_terminal(), log);
  ListingOptions lo{o.since_s, o.until_s, o.budget_share, /*keep_events=*/true, o.resume, o.state_dir};
  Pass pass{list_api_events(c, lo, process, log, stop, progress)};

  std::vector<std::pair<source::EventKey, uint32_t>> keys;
  std::vector<std::string> actors;
  {
    std::unordered_set<std::string> seen_actors;
    simdjson::dom::parser parser;
    std::ifstream in(pass.listing.spool_path, std::ios::binary);
    std::string line;
    for (uint32_t n = 0; std::getline(in, line); ++n) {
      simdjson::dom::element e;
      std::optional<std::string_view> id;
      if (parser.parse(line).get(e) || !(id = proof::raw_id(e))) continue;
      keys.emplace_back(source::event_key(*id), n);
      int64_t user = 0;
      std::string_view user_text;
      std::string actor = !e["user_id"].get_int64().get(user) ? std::to_string(user)
                          : !e["user_id"].get_string().get(user_text) ? std::string(user_text) : std::string();
      if (seen_actors.insert(actor).second) actors.push_back(actor);
    }
  }
  // A resumed listing repeats the page it was stopped in: keep the first.
  std::sort(keys.begin(), keys.end());
  std::vector<bool> repeat;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i == 0 || keys[i].first != keys[i - 1].first) ++pass.events;
    else {
      if (repeat.size() <= keys[i].second) repeat.resize(keys[i].second + 1);
      repeat[keys[i].second] = true;
    }
  }
  keys = {};

  enrich::DirectorySettings ds;
  ds.base_url = c.source.base_url;
  ds.authorization = c.source.authorization;
  ds.http = c.http;
  enrich::UserDirectory people(ds, log);
  people.resolve(actors, /*wait=*/true, stop, std::chrono::duration_cast<std::chrono::milliseconds>(o.users_api_wait));
  // Two different things: ids the API answered for without listing them
  // (deleted users: their names are gone), and ids it was never able to
  // answer for (it kept failing: the names exist, the export lacks them).
  size_t deleted = 0;
  std::unordered_set<std::string> unavailable;
  for (const auto& id : actors) {
    if (people.find(id)) continue;
    if (people.answered(id)) ++deleted;
    else if (!id.empty() && std::all_of(id.begin(), id.end(), ::isdigit)) unavailable.insert(id);
  }
  pass.users_requests = people.stats().requests;
  pass.users_failure = people.stats().last_failure;
  pass.names_unavailable = unavailable.size();
  if (deleted) log.warn("some agents have no name: the Users API did not list them (deleted users)", {{"agents", deleted}});
  if (pass.names_unavailable)
    log.error("the Users API failed: agents' names are unavailable and marked so in the export",
              {{"agents", pass.names_unavailable}, {"last_failure", pass.users_failure},
               {"requests", people.stats().requests}, {"failures", people.stats().failures},
               {"waited_up_to_s", static_cast<int64_t>(o.users_api_wait.count())}});

  normalize::Normalizer normalizer({c.account, false, /*ecs_json=*/false});
  std::ifstream in(pass.listing.spool_path, std::ios::binary);
  std::string line;
  for (uint32_t n = 0; std::getline(in, line); ++n) {
    if (n < repeat.size() && repeat[n]) continue;
    auto shaped = normalizer.normalize_json(line);
    auto* record = std::get_if<Record>(&shaped);
    if (!record) continue;
    const AccessEvent& e = record->event;
    auto what = accessed(e, o.resource);
    if (!what) continue;
    const PersonInfo* p = people.find(e.user_id);
    if (!o.agents.empty() && std::none_of(o.agents.begin(), o.agents.end(), [&](const std::string& a) {
          return a == e.user_id || (p && a == p->email);
        }))
      continue;
    AccessRow row = access_row(e, *what, p);
    if (!p && unavailable.count(e.user_id) && pass.names_unavailable) row.agent_name = kNameUnavailable;
    emit(row);
  }
  return pass;
}

}  // namespace

std::vector<AccessRow> collect_accesses(const AppConfig& config, const ExportOptions& o, Logger& log, StopSignal& stop) {
  std::vector<AccessRow> rows;
  Pass pass = for_each_access(config, o, log, stop, [&rows](const AccessRow& r) { rows.push_back(r); });
  discard(pass.listing);
  return rows;
}

int run_export(const AppConfig& config, const ExportOptions& o, Logger& log, StopSignal& stop) {
  std::string path = o.output;
  if (path.empty())
    path = "agent_" + o.resource + "_access_logs_" + format_utc_seconds(o.since_s) + "-to-" +
           format_utc_seconds(o.until_s) + "." + (o.format == "csv" ? "csv" : "jsonl");
  // Whole or not at all: a reader never sees half an export. The temp
  // beside it is created anew (a planted symlink is removed, not followed).
  std::optional<ReplacingFile> file;
  auto fail = [&](const std::exception& e, const char* advice) {
    return FatalError("cannot write the export to " + path + ": " + e.what() + advice);
  };
  if (path != "-") {
    try {
      file.emplace(path, ".partial", 0644);
    } catch (const std::exception& e) {
      throw fail(e, " (check the directory exists and is writable, and that nothing else writes there)");
    }
  }
  // A CSV printed to a terminal shows control characters escaped: a name
  // must not drive the reader's terminal. A file keeps every byte.
  bool terminal = path == "-" && ::isatty(STDOUT_FILENO);
  std::string buffer;
  auto write_out = [&](bool all) {
    if (!all && buffer.size() < (1 << 16)) return;
    try {
      if (file) file->write(buffer);
      else write_all(STDOUT_FILENO, buffer, "stdout");
    } catch (const std::exception& e) {
      throw fail(e, " (is the disk full?)");
    }
    buffer.clear();
  };
  if (o.format == "csv") buffer += csv_header(o.resource);
  std::unordered_set<std::string> agents;
  size_t rows = 0;
  Pass pass = for_each_access(config, o, log, stop, [&](const AccessRow& r) {
    if (o.format == "csv") buffer += csv_row(r, terminal);
    else if (!terminal) buffer += jsonl_row(r);
    else {
      std::string line = jsonl_row(r);
      line.pop_back();
      buffer += printable(line) + "\n";
    }
    agents.insert(r.agent_id);
    ++rows;
    write_out(false);
  });
  write_out(true);
  if (file) {
    try {
      file->commit();
    } catch (const std::exception& e) {
      throw fail(e, " (is the disk full?)");
    }
  }
  discard(pass.listing);
  log.info("export written", {{"path", path}, {"rows", rows}, {"agents", agents.size()}, {"events_listed", pass.events},
                              {"users_api_requests", pass.users_requests}});
  std::cerr << "export: " << rows << " " << o.resource << " accesses by " << agents.size() << " agents written to "
            << path << "\n";
  if (pass.names_unavailable) {
    std::cerr << "export: WARNING: the Users API failed (" << pass.users_failure << ") for " << o.users_api_wait.count()
              << " s: the names of " << pass.names_unavailable << " agents are unavailable and the file says \""
              << kNameUnavailable << "\" in their place; exit 3. Run the export again later for the names.\n";
    return 3;
  }
  return 0;
}

}  // namespace zf::app
