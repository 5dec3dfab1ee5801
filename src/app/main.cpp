// zendesk-forwarder: Zendesk access logs -> normalized records -> sinks.
#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <pthread.h>
#include <string>
#include <thread>
#include <vector>

#include "app/app_config.h"
#include "app/forwarder.h"
#include "commands/export.h"
#include "commands/report.h"
#include "proof/verify.h"
#include "commands/webhook_admin.h"
#include "core/errors.h"
#include "core/time_format.h"
#include "emulator/emulator.h"
#include "core/durable_file.h"
#include "log/logger.h"

namespace {

constexpr const char* kUsage = R"(zendesk-forwarder - ship Zendesk access logs to Kafka, syslog or JSON lines

Usage:
  zendesk-forwarder run --config FILE [--once]
      Tail the account's access log forever (until SIGTERM/SIGINT), or with
      --once ship everything up to now and exit 0.
  zendesk-forwarder validate --config FILE
      Check the config (every key, every sink) without connecting anywhere.
  zendesk-forwarder verify --config FILE --since T [--until T] [--repair] [--ledger]
                    [--resume] [--state-dir DIR] [--report FILE] [--budget-share F]
                    [--metrics-file FILE] [--pushgateway URL] [--sink NAME]...
      Is every event Zendesk holds for [since, until) in the sinks? Lists the
      API's events (within F, default 0.5, of each pull source's request
      budget; a webhook source is verified with a pull source of its account),
      reads back the jsonl files and Kafka topics, and reports missing,
      duplicated and unknown ids (--report: as JSON). --sink: prove only the
      sinks named (a syslog sink cannot be read back). --repair ships the
      missing ones again (never into an exactly_once sink). --ledger
      compares the listing with the delivery ledger kept beside the
      checkpoint and reads the sinks only for the minutes that differ. T: a timestamp (2026-11-01T00:00:00Z) or a
      duration back from now (2d); --until defaults to 15m ago. The listing
      shows a progress bar on a terminal; when interrupted it keeps its state
      beside the checkpoint (or in --state-dir) and --resume continues it.
      --metrics-file / --pushgateway: the outcome as Prometheus metrics.
      Exit 0 only when the period is proved: nothing missing, and nothing
      that could not be verified (a sink that cannot be read back, a webhook
      source without API credentials for its account).
  zendesk-forwarder export --config FILE (--days N | --since T [--until T])
                    [--resource tickets|users|searches|all] [--agent ID|EMAIL]...
                    [--format csv|jsonl] [--output FILE|-] [--source NAME] [--resume]
                    [--users-api-wait D]
      Who accessed which tickets, user profiles or searches: one pass over
      the access log of the period (1 to 90 days; --until defaults to now),
      agents' names from the Users API, written as CSV (Agent ID, Agent
      name, Ticket accessed, Time accessed, then resource type, action,
      method, status, source IP, URL, event id) or JSON lines. Default
      output: agent_<resource>_access_logs_<since>-to-<until>.csv; the last
      columns are the agent's email and the account. A progress bar on a
      terminal; an interrupted export continues with --resume. Printed to a
      terminal (--output -), control characters in values are shown escaped.
      When the Users API keeps failing for D (default 2m) the export is
      written with those agents' names marked unavailable (the Users API
      failed) and exits 3.
  zendesk-forwarder report (--input EXPORT | --config FILE (--days N | --since T [--until T]))
                    [--html FILE] [--pdf FILE] [--paper a4|letter] [--top N]
                    [--working-hours 08-18] [--source NAME] [--findings FILE]
                    [--ticket ID] [--user ID] [--agent ID|EMAIL] [--csv FILE]
      A summary a compliance officer can read, from an export file (ours in
      CSV or JSON lines, or the CSV of Zendesk's script) or from the API for
      a period: who stands out (and why), top agents by distinct tickets and
      user profiles accessed, most-accessed tickets and profiles, searches,
      failed (4xx) accesses, access outside working hours (UTC, Monday to
      Friday). Text tables on stdout; --html writes one self-contained page
      with charts; --pdf prints that page to PDF with headless chromium.
      --findings FILE: who stands out as CSV, or as ECS alert records (one
      JSON a line) when FILE ends in .jsonl/.ndjson. --ticket, --user,
      --agent: every access of that ticket, that user's profile, or by that
      agent (on stdout, in the page, and with --csv FILE as CSV).
  zendesk-forwarder webhook register --config FILE --url https://HOST/PATH [--name N] [--secret-file F]
  zendesk-forwarder webhook status --config FILE [--name N]
      Create (or point at --url) the Zendesk webhook that pushes access events
      (subscribed to zen:event-type:access_log.created) with a pull source's
      credentials, and write its signing secret to F (mode 600; default
      ./zendesk-webhook-signing-secret); status shows it.
  zendesk-forwarder demo [--events N]
      Start the bundled Access Logs API emulator on loopback and forward its
      events as JSON lines to stdout, with a checkpoint in a temporary
      directory. Logs go to stderr.
  zendesk-forwarder --help | --version

Exit codes: 0 done, 1 fatal runtime error, 2 bad config or usage, 3 export written
with some agents' names unavailable (the Users API kept failing).
Docs: README.md, docs/FIELDS.md (record fields), config/*.yaml (examples).
)";

struct Args {
  std::string command;
  std::string config;
  bool once = false;
  size_t demo_events = 5000;
  std::string since, until = "15m", report, metrics_file, pushgateway, state_dir;
  bool repair = false, ledger = false, resume = false;
  std::string days, resource = "tickets", format = "csv", output, source;
  std::vector<std::string> agents, sinks;
  std::string input, html, top, working_hours;
  std::string ticket, user, findings, pdf, paper, lookup_csv, users_api_wait;
  std::string subcommand, url, name, secret_file;
  double budget_share = 0.5;
  bool budget_share_given = false;
};

// Where an option that takes text keeps it; nullptr for other options.
std::string* text_option(Args& args, const std::string& name) {
  const std::pair<const char*, std::string*> options[] = {
      {"--since", &args.since},       {"--until", &args.until},   {"--report", &args.report},
      {"--metrics-file", &args.metrics_file}, {"--pushgateway", &args.pushgateway}, {"--state-dir", &args.state_dir},
      {"--days", &args.days},         {"--resource", &args.resource}, {"--format", &args.format},
      {"--output", &args.output},     {"--source", &args.source}, {"--input", &args.input},
      {"--html", &args.html},         {"--top", &args.top},       {"--working-hours", &args.working_hours},
      {"--url", &args.url},           {"--name", &args.name},     {"--secret-file", &args.secret_file},
      {"--ticket", &args.ticket},     {"--user", &args.user},     {"--findings", &args.findings},
      {"--pdf", &args.pdf},           {"--paper", &args.paper},   {"--csv", &args.lookup_csv},
      {"--users-api-wait", &args.users_api_wait}};
  for (const auto& [option, value] : options)
    if (name == option) return value;
  return nullptr;
}

// A timestamp, or a duration back from now; nullopt when neither.
std::optional<int64_t> parse_point(const std::string& text) {
  if (auto ms = zf::parse_rfc3339_ms(text)) return *ms / 1000;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (auto d = zf::parse_duration(text)) return now - std::chrono::duration_cast<std::chrono::seconds>(*d).count();
  return std::nullopt;
}

int usage_error(const std::string& msg) {
  std::cerr << "zendesk-forwarder: " << msg << "\n\n" << kUsage;
  return 2;
}

// Signals are taken by one thread with sigwait, so no handler runs inside
// arbitrary code; every other thread inherits the blocked mask.
std::thread start_signal_thread(zf::StopSignal& stop, zf::Logger& log, sigset_t set) {
  return std::thread([&stop, &log, set] {
    int sig = 0;
    if (sigwait(&set, &sig) == 0 && sig != SIGUSR2) {
      log.info("signal received; stopping fetch, flushing sinks, committing the checkpoint",
               {{"signal", strsignal(sig)}});
      stop.request();
    }
  });
}

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR2);  // used only to release the signal thread at exit
  return set;
}

// The period of export and report: --days N back from now, or --since
// and --until (default now). Returns 0, or the usage error's exit code.
int period_of(const Args& args, int64_t& since_s, int64_t& until_s) {
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (!args.days.empty()) {
    int days = args.days.size() <= 2 && std::all_of(args.days.begin(), args.days.end(), ::isdigit) ? std::stoi(args.days) : 0;
    if (days < 1 || days > 90) return usage_error("--days needs a number of days from 1 to 90, got \"" + args.days + "\"");
    if (!args.since.empty()) return usage_error("give --days or --since, not both");
    since_s = now - days * 86400LL;
    until_s = now;
    return 0;
  }
  auto since = parse_point(args.since);
  auto until = args.until == "15m" ? std::optional<int64_t>(now) : parse_point(args.until);  // 15m: not given
  if (args.since.empty() || !since) return usage_error(args.command + " needs --days N or --since T");
  if (!until || *until <= *since) return usage_error("--until must be a timestamp or duration after --since");
  if (*until - *since > 90 * 86400LL) return usage_error("the API keeps 90 days: --since to --until spans more");
  since_s = *since;
  until_s = *until;
  return 0;
}

// Loads and validates the config; false (the error logged, naming the key)
// when it is not valid.
bool load(const std::string& path, zf::Logger& log, zf::app::AppConfig& config) {
  try {
    config = zf::app::load_config(zf::ConfigNode::load_file(path));
    return true;
  } catch (const zf::ConfigError& e) {
    log.error(e.what(), {{"key", e.key()}, {"config", path}});
    return false;
  }
}

// Runs `job` with the config's logging and the signal thread.
int run_with_config(const zf::app::AppConfig& config, zf::Logger& log, const std::function<int(zf::StopSignal&)>& job) {
  log.set_level(config.log_level);
  log.add_secrets(config.secrets);
  sigset_t set = stop_signals();
  zf::StopSignal stop;
  std::thread signals = start_signal_thread(stop, log, set);
  int code;
  try {
    code = job(stop);
  } catch (const zf::FatalError& e) {
    log.error(e.what());
    code = 1;
  } catch (const std::exception& e) {
    log.error(std::string("unexpected error: ") + e.what());
    code = 1;
  }
  pthread_kill(signals.native_handle(), SIGUSR2);
  signals.join();
  return code;
}

int run_demo(size_t events, zf::Logger& log) {
  zf::emulator::Options opts;
  opts.events = events;
  opts.span = std::chrono::hours(2);
  opts.agents = 25;  // named agents and end users: records carry names, and the report has a story
  opts.end_users = 300;
  zf::emulator::Emulator emulator(opts);
  emulator.start("127.0.0.1", 0);
  auto dir = std::filesystem::temp_directory_path() / ("zendesk-forwarder-demo-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string yaml = "zendesk:\n"
                     "  base_url: " + emulator.base_url() + "\n"
                     "  auth: {type: api_token, email: " + opts.email + ", token: " + opts.api_token + "}\n"
                     "  start: 3h\n"
                     "  settle_delay: 0s\n"
                     "  late_read_delay: 1m\n"
                     "  enrich: {users: true}\n"
                     "checkpoint: {path: " + (dir / "checkpoint.json").string() + "}\n"
                     "sinks:\n"
                     "  - {type: jsonl, path: \"-\"}\n";
  log.info("demo: emulator serving on loopback; forwarding its access log to stdout",
           {{"emulator", emulator.base_url()}, {"events", events}});
  auto config = zf::app::load_config(zf::ConfigNode::load_string(yaml, "<demo config>"));
  int code = run_with_config(config, log, [&](zf::StopSignal& stop) { return zf::app::run_forwarder(config, true, log, stop); });
  log.info("demo finished", {{"events_in_emulator", emulator.ids().size()},
                             {"events_served", emulator.served_ids().size()}});
  if (code == 0) {
    // The story the records tell: who accessed what (on stderr: stdout
    // stays JSON lines).
    zf::app::ExportOptions who;
    who.until_s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    who.since_s = who.until_s - 3 * 3600;
    who.resource = "all";
    std::vector<zf::app::AccessRow> rows;
    code = run_with_config(config, log, [&](zf::StopSignal& stop) {
      rows = zf::app::collect_accesses(config, who, log, stop);
      return 0;
    });
    zf::app::ReportOptions ro;
    ro.top = 5;
    ro.title = "Who accessed what in the emulator's account (zendesk-forwarder report)";
    std::cerr << "\n" << zf::app::report_text(zf::app::build_report(rows, ro))
              << "The same as an HTML page with charts: zendesk-forwarder report --config FILE --days 1 --html report.html\n";
  }
  std::filesystem::remove_all(dir);
  return code;
}

}  // namespace

// jemalloc's settings (read when the executable links it; MALLOC_CONF still
// overrides). Pages are fetched on one thread and freed on another, so by
// default jemalloc would keep a catch-up's freed pages as its own for good:
// a thread returns them a second after they are freed (measured at 1,000
// accounts: steady RSS 183 -> 123 MiB, peak 366 -> 332 MiB).
extern "C" const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";

int main(int argc, char** argv) {
  std::vector<std::string> argl(argv + 1, argv + argc);
  Args args;
  for (size_t i = 0; i < argl.size(); ++i) {
    const std::string& a = argl[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (a == "--version") {
      std::cout << "zendesk-forwarder " << ZF_VERSION << "\n";
      return 0;
    }
    if (a == "--config" || a == "-c") {
      if (i + 1 >= argl.size()) return usage_error("--config needs a file path");
      args.config = argl[++i];
    } else if (a == "--once") {
      args.once = true;
    } else if (std::string* value = text_option(args, a); value || a == "--agent" || a == "--sink" || a == "--budget-share") {
      if (i + 1 >= argl.size()) return usage_error(a + " needs a value");
      const std::string& v = argl[++i];
      if (value) *value = v;
      if (a == "--agent") args.agents.push_back(v);
      if (a == "--sink") args.sinks.push_back(v);
      if (a == "--budget-share") {
        char* end = nullptr;
        args.budget_share = std::strtod(v.c_str(), &end);
        args.budget_share_given = true;
        if (*end || !(args.budget_share > 0 && args.budget_share <= 1))
          return usage_error("--budget-share needs a fraction above 0 and at most 1, got \"" + v + "\"");
      }
    } else if (a == "--repair") {
      args.repair = true;
    } else if (a == "--ledger") {
      args.ledger = true;
    } else if (a == "--resume") {
      args.resume = true;
    } else if (a == "--events") {
      const std::string n = i + 1 < argl.size() ? argl[++i] : "";
      if (n.empty() || n.size() > 9 || !std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::isdigit(c); }) ||
          std::stoul(n) == 0)
        return usage_error("--events needs a number from 1 to 999999999, got \"" + n + "\"");
      args.demo_events = std::stoul(n);
    } else if (args.command.empty() && a.rfind("-", 0) != 0) {
      args.command = a;
    } else if (args.command == "webhook" && args.subcommand.empty() && a.rfind("-", 0) != 0) {
      args.subcommand = a;
    } else {
      return usage_error("unknown argument " + a);
    }
  }
  std::signal(SIGPIPE, SIG_IGN);
  // Signals are blocked just before the first thread starts, so that every
  // thread inherits the mask and only the signal thread sees SIGTERM/SIGINT.
  // Until then (loading and validating the config) they end the process.
  sigset_t set = stop_signals();
  zf::Logger log(std::cerr);
  if (args.command == "demo") {
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    try {
      return run_demo(args.demo_events, log);
    } catch (const std::exception& e) {
      log.error(std::string("demo failed: ") + e.what());
      return 1;
    }
  }
  if (args.command == "report") {
    zf::app::ReportOptions ro;
    if (!args.top.empty()) {
      if (args.top.size() > 4 || !std::all_of(args.top.begin(), args.top.end(), ::isdigit) || std::stoi(args.top) < 1)
        return usage_error("--top needs a number from 1 to 9999, got \"" + args.top + "\"");
      ro.top = static_cast<size_t>(std::stoi(args.top));
    }
    if (!args.working_hours.empty()) {
      int from = -1, to = -1;
      char end = 0;
      if (std::sscanf(args.working_hours.c_str(), "%d-%d%c", &from, &to, &end) != 2 || from < 0 || to > 24 || from >= to)
        return usage_error("--working-hours needs hours such as 08-18 (UTC), got \"" + args.working_hours + "\"");
      ro.work_start_hour = from;
      ro.work_end_hour = to;
    }
    if (!args.paper.empty() && args.paper != "a4" && args.paper != "letter")
      return usage_error("--paper is a4 or letter, got \"" + args.paper + "\"");
    if (!args.paper.empty()) ro.paper = args.paper;
    if (args.agents.size() > 1) return usage_error("report takes one --agent");
    ro.lookup = {args.ticket, args.user, args.agents.empty() ? "" : args.agents.front()};
    if (!args.lookup_csv.empty() && !ro.lookup.any()) return usage_error("--csv writes the rows of --ticket, --user or --agent");
    if (args.input.empty() == args.config.empty())
      return usage_error("report needs --input EXPORT_FILE or --config FILE with a period (not both)");
    std::vector<zf::app::AccessRow> rows;
    if (!args.input.empty()) {
      try {
        zf::app::ExportFile file = zf::app::read_export(args.input);
        rows = std::move(file.rows);
        ro.columns = file.columns;
        ro.account = file.account;
        ro.period_from_s = file.since_s;
        ro.period_to_s = file.until_s;
      } catch (const zf::FatalError& e) {
        log.error(e.what());
        return 1;
      }
      ro.title = ro.account.empty() ? zf::app::report_title(std::filesystem::path(args.input).filename().string() +
                                                            " (account not in this input)")
                                    : zf::app::report_title(ro.account);
    } else {
      zf::app::AppConfig config;
      if (!load(args.config, log, config)) return 2;
      zf::app::ExportOptions eo;
      if (int bad = period_of(args, eo.since_s, eo.until_s)) return bad;
      eo.resource = "all";
      eo.source = args.source;
      try {
        ro.account = zf::app::pull_source(config, args.source).account;  // the chosen source's, not the first's
      } catch (const zf::FatalError& e) {
        log.error(e.what());
        return 1;
      }
      pthread_sigmask(SIG_BLOCK, &set, nullptr);
      int code = run_with_config(config, log, [&](zf::StopSignal& stop) {
        rows = zf::app::collect_accesses(config, eo, log, stop);
        return 0;
      });
      if (code != 0) return code;
      ro.title = zf::app::report_title(ro.account);
      ro.period_from_s = eo.since_s;
      ro.period_to_s = eo.until_s;
    }
    ro.generated_s =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    zf::app::Report report = zf::app::build_report(rows, ro);
    std::cout << zf::app::report_text(report);
    auto write = [&](const std::string& path, const std::string& data, const char* what) {
      try {
        zf::replace_file(path, data);
      } catch (const std::exception& e) {
        log.error(std::string("cannot write the ") + what, {{"path", path}, {"error", e.what()}});
        return false;
      }
      std::cerr << "report: " << what << " written to " << path << "\n";
      return true;
    };
    if (!args.findings.empty()) {
      bool ecs = args.findings.ends_with(".jsonl") || args.findings.ends_with(".ndjson");
      if (!write(args.findings,
                 ecs ? zf::app::findings_ecs(report.findings, ro.account) : zf::app::findings_csv(report.findings),
                 ecs ? "findings (ECS alerts)" : "findings (CSV)"))
        return 1;
    }
    if (!args.lookup_csv.empty() && !write(args.lookup_csv, zf::app::lookup_csv(report.lookups), "lookup CSV")) return 1;
    std::string html = args.html.empty() && args.pdf.empty() ? "" : zf::app::report_html(report);
    if (!args.html.empty() && !write(args.html, html, "HTML")) return 1;
    if (!args.pdf.empty()) {
      try {
        zf::app::print_pdf(html, args.pdf);
      } catch (const zf::FatalError& e) {
        log.error(e.what());
        return 1;
      }
      std::cerr << "report: PDF written to " << args.pdf << "\n";
    }
    return 0;
  }
  if (args.command == "webhook") {
    if (args.subcommand != "register" && args.subcommand != "status")
      return usage_error("webhook needs register or status, got \"" + args.subcommand + "\"");
    if (args.config.empty()) return usage_error("webhook " + args.subcommand + " needs --config FILE");
    if (args.subcommand == "register" && args.url.empty()) return usage_error("webhook register needs --url https://...");
    zf::app::AppConfig config;
    if (!load(args.config, log, config)) return 2;
    log.add_secrets(config.secrets);
    zf::app::WebhookAdminOptions wo;
    wo.action = args.subcommand;
    wo.url = args.url;
    wo.source = args.source;
    if (!args.name.empty()) wo.name = args.name;
    if (!args.secret_file.empty()) wo.secret_file = args.secret_file;
    try {
      return zf::app::run_webhook_admin(config, wo, log);
    } catch (const zf::FatalError& e) {
      log.error(e.what());
      return 1;
    }
  }
  if (args.command != "run" && args.command != "validate" && args.command != "verify" && args.command != "export")
    return usage_error(args.command.empty() ? "a command is required" : "unknown command " + args.command);
  if (args.config.empty()) return usage_error(args.command + " needs --config FILE");

  zf::app::AppConfig config;
  if (!load(args.config, log, config)) return 2;
  if (args.command == "validate") {
    for (const auto& w : config.warnings) std::cout << "warning: " << w << "\n";
    std::cout << "config " << args.config << " is valid: " << config.sinks.size() << " sink(s); sources read from "
              << config.sources_form << ":\n";
    for (const auto& s : config.sources)
      std::cout << "  " << s->name << ": " << zf::source::type_of(*s).describe(*s) << "\n";
    return 0;
  }
  for (const auto& w : config.warnings) log.warn(w, {{"config", args.config}});
  if (args.command == "export") {
    zf::app::ExportOptions options;
    if (int bad = period_of(args, options.since_s, options.until_s)) return bad;
    if (args.resource != "tickets" && args.resource != "users" && args.resource != "searches" && args.resource != "all")
      return usage_error("--resource is tickets, users, searches or all, got \"" + args.resource + "\"");
    if (args.format != "csv" && args.format != "jsonl")
      return usage_error("--format is csv or jsonl, got \"" + args.format + "\"");
    options.resource = args.resource;
    options.format = args.format;
    options.agents = args.agents;
    options.output = args.output;
    options.source = args.source;
    options.resume = args.resume;
    options.state_dir = args.state_dir;
    if (!args.users_api_wait.empty()) {
      auto d = zf::parse_duration(args.users_api_wait);
      if (!d || d->count() < 1000)
        return usage_error("--users-api-wait needs a duration of at least 1s (such as 2m), got \"" + args.users_api_wait + "\"");
      options.users_api_wait = std::chrono::duration_cast<std::chrono::seconds>(*d);
    }
    if (args.budget_share_given) options.budget_share = args.budget_share;
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return run_with_config(config, log, [&](zf::StopSignal& stop) { return zf::app::run_export(config, options, log, stop); });
  }
  if (args.command == "verify") {
    auto since = parse_point(args.since), until = parse_point(args.until);
    if (args.since.empty() || !since) return usage_error("verify needs --since: a timestamp or a duration back from now");
    if (!until || *until <= *since) return usage_error("--until must be a timestamp or duration after --since");
    zf::app::VerifyOptions options;
    // The ledger counts whole minutes of event time.
    options.since_s = args.ledger ? *since - *since % 60 : *since;
    options.until_s = args.ledger ? *until - *until % 60 : *until;
    options.repair = args.repair;
    options.ledger = args.ledger;
    options.resume = args.resume;
    options.state_dir = args.state_dir;
    options.report_path = args.report;
    options.budget_share = args.budget_share;
    options.metrics_file = args.metrics_file;
    options.pushgateway_url = args.pushgateway;
    options.sinks = args.sinks;
    if (std::string why = zf::app::verify_refusal(config, options); !why.empty()) {
      log.error(why, {{"config", args.config}});
      return 2;
    }
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return run_with_config(config, log, [&](zf::StopSignal& stop) { return zf::app::run_verify(config, options, log, stop); });
  }
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return run_with_config(config, log, [&](zf::StopSignal& stop) { return zf::app::run_forwarder(config, args.once, log, stop); });
}
