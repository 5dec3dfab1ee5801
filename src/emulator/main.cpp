// zendesk-emulator: the Access Logs API emulator as a process, for shell
// tests, benchmarks and manual experiments.
#include <csignal>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <pthread.h>
#include <sstream>
#include <string>
#include <vector>

#include "config/config_node.h"
#include "emulator/accounts.h"
#include "emulator/emulator.h"

namespace {

constexpr const char* kUsage = R"(zendesk-emulator - the Zendesk Access Logs API on loopback, for tests

Options (defaults in brackets):
  --host H [127.0.0.1]   --port N [0 = pick]   --port-file F (write the bound port)
  --seed N [1]           --events N [10000]    --span D [6h]   --end-gap D [120s]
  --live-rate R [0]      --late-fraction F [0] --late-max D [300s]
  --descending           --rate-limit N [50, 0 = off]          --rate-window D [60s]
  --reset-format rfc3339|http-date|epoch|delta|retry-after|none|garbage [rfc3339]
  --email E  --api-token T  --password P  --bearer B
  --force-status 401|403|404|500
  --fault-rate F [0]     --faults 5xx,drop,slow,truncate,malformed   --slow-delay D [2s]
  --no-awkward           --gzip (compress pages, slow)
  --agents N [0 = actors are random ids]   --end-users N [0]   --users-rate-limit N [700]
      People for the Users API (GET /api/v2/users, /api/v2/users/show_many).
  --users-fault 500|503|429|garbage   every Users API request fails this way
  --hostile-names   the first six agents' names carry terminal escapes, C1 and
      bidi controls, zero-width characters, markup and 300 characters
  --push-url URL  --push-secret S   Push live events to a webhook, as Zendesk does
      (also on when a webhook subscribed to access_log.created is created).
  --push-batch N [100] --push-linger D [100ms]   events per request, wait for more
  --push-drop F --push-corrupt F --push-replay F --push-duplicate F [0]
      shares of requests never sent, signed wrongly, followed by an old one
      re-sent, sent twice   --push-retries N [3] (409; 429/503 with Retry-After <= 60s)
      (POST /_emulator/config {"push": {"late": F, "late_delay_ms": N}}: a share of requests
      held back N ms before their first attempt)
  --refuse-subscription 400|422   an account without the access-log webhook event:
      creating or updating a webhook subscribed to access_log.created answers this
Many accounts (one process; each its own credentials, data, budget and log):
  --accounts N           serve N accounts; account i's secrets are the ones above
      with "-i" appended (--api-token T: account 7's token is T-7), told apart by
      the Authorization header. --events, --span, --end-gap, --seed, --rate-limit,
      --rate-window, --live-rate and --no-awkward apply to each account; the
      single-account fault, push, user and ordering options are refused.
  --history-rate R       history events per second of --span per account (instead of --events)
  --hot-accounts S [0]   hot accounts: a share (1%, at least one) or a count
  --hot-rate R [0]       live events per second of each hot account (--live-rate: the others);
      the live tail starts where the history ends (--end-gap before the start)
  --hot-history-rate R   history rate of hot accounts [--history-rate]
  --threads N [accounts + 16]  HTTP workers (one per kept-alive connection)
  Admin per account: /_emulator/ids?account=i, /_emulator/events?account=i,
  /_emulator/stats?account=i (without: totals); /_emulator/accounts: every
  account's counts, first page, history served, most requests in a window.
Durations: 500ms, 6s, 10m, 2h. Admin (no auth, no limit): GET /_emulator/ids,
/_emulator/served_ids, /_emulator/events ("id ts_ms listed_ms" lines),
/_emulator/stats, /_emulator/users, /_emulator/pushes; POST /_emulator/config (JSON).
)";

// Options of the single-account emulator that the many-accounts one does
// not emulate: refused rather than ignored.
const std::set<std::string> kSingleAccountOnly = {
    "--late-fraction", "--late-max", "--descending", "--reset-format", "--force-status", "--fault-rate",
    "--faults", "--slow-delay", "--gzip", "--agents", "--end-users", "--users-rate-limit",
    "--refuse-subscription", "--hostile-names", "--users-fault", "--push-url", "--push-secret", "--push-batch",
    "--push-linger", "--push-drop", "--push-corrupt", "--push-replay", "--push-duplicate", "--push-retries"};

void write_port_file(const std::string& port_file, uint16_t bound) {
  if (port_file.empty()) return;
  std::ofstream(port_file + ".tmp") << bound << "\n";
  std::rename((port_file + ".tmp").c_str(), port_file.c_str());
}

int serve_accounts(const zf::emulator::AccountsOptions& m, const std::string& host, int port,
                   const std::string& port_file, sigset_t& set) {
  std::unique_ptr<zf::emulator::AccountsEmulator> emulator;
  uint16_t bound;
  try {
    emulator = std::make_unique<zf::emulator::AccountsEmulator>(m);
    bound = emulator->start(host, static_cast<uint16_t>(port));
  } catch (const std::exception& e) {
    std::cerr << "zendesk-emulator: " << e.what() << "\n";
    return 1;
  }
  size_t hot = 0;
  for (size_t i = 0; i < emulator->accounts(); ++i) hot += emulator->hot(i);
  std::cerr << "zendesk-emulator: serving " << m.accounts << " accounts (" << hot << " hot at " << m.hot_rate
            << "/s, the others at " << m.live_rate << "/s; account 0 has " << emulator->history_events(0)
            << " history events) on " << emulator->base_url() << "\n";
  write_port_file(port_file, bound);
  int sig = 0;
  sigwait(&set, &sig);
  emulator->stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  zf::emulator::Options o;
  std::string host = "127.0.0.1", port_file;
  int port = 0;
  bool many = false;
  zf::emulator::AccountsOptions m;
  std::string hot_accounts = "0", single_only;
  try {
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= args.size()) throw std::invalid_argument(a + " needs a value");
        return args[++i];
      };
      auto duration = [&]() {
        std::string v = value();
        auto d = zf::parse_duration(v);
        if (!d) throw std::invalid_argument(a + ": not a duration: " + v);
        return *d;
      };
      if (kSingleAccountOnly.count(a)) single_only = a;
      if (a == "--help" || a == "-h") {
        std::cout << kUsage;
        return 0;
      } else if (a == "--accounts") many = true, m.accounts = std::stoull(value());
      else if (a == "--history-rate") m.history_rate = std::stod(value());
      else if (a == "--hot-history-rate") m.hot_history_rate = std::stod(value());
      else if (a == "--hot-accounts") hot_accounts = value();
      else if (a == "--hot-rate") m.hot_rate = std::stod(value());
      else if (a == "--threads") m.threads = std::stoull(value());
      else if (a == "--host") host = value();
      else if (a == "--port") port = std::stoi(value());
      else if (a == "--port-file") port_file = value();
      else if (a == "--seed") o.seed = std::stoull(value());
      else if (a == "--events") o.events = std::stoull(value());
      else if (a == "--span") o.span = std::chrono::duration_cast<std::chrono::seconds>(duration());
      else if (a == "--end-gap") o.end_gap = std::chrono::duration_cast<std::chrono::seconds>(duration());
      else if (a == "--live-rate") o.live_rate = std::stod(value());
      else if (a == "--late-fraction") o.late_fraction = std::stod(value());
      else if (a == "--late-max") o.late_max = std::chrono::duration_cast<std::chrono::seconds>(duration());
      else if (a == "--descending") o.descending = true;
      else if (a == "--rate-limit") o.rate_limit = std::stoi(value());
      else if (a == "--rate-window") o.rate_window = duration();
      else if (a == "--reset-format") o.reset_format = zf::emulator::parse_reset_format(value());
      else if (a == "--email") o.email = value();
      else if (a == "--api-token") o.api_token = value();
      else if (a == "--password") o.password = value();
      else if (a == "--bearer") o.bearer = value();
      else if (a == "--force-status") o.force_status = std::stoi(value());
      else if (a == "--fault-rate") o.fault_rate = std::stod(value());
      else if (a == "--faults") {
        std::stringstream ss(value());
        std::string f;
        while (std::getline(ss, f, ',')) o.faults.push_back(zf::emulator::parse_fault(f));
      } else if (a == "--slow-delay") o.slow_delay = duration();
      else if (a == "--no-awkward") o.awkward = false;
      else if (a == "--gzip") o.gzip = true;
      else if (a == "--agents") o.agents = std::stoull(value());
      else if (a == "--end-users") o.end_users = std::stoull(value());
      else if (a == "--users-rate-limit") o.users_rate_limit = std::stoi(value());
      else if (a == "--refuse-subscription") o.refuse_subscription = std::stoi(value());
      else if (a == "--hostile-names") o.hostile_names = true;
      else if (a == "--users-fault") {
        o.users_fault = value();
        if (o.users_fault != "500" && o.users_fault != "503" && o.users_fault != "429" && o.users_fault != "garbage")
          throw std::invalid_argument("--users-fault is 500, 503, 429 or garbage");
      }
      else if (a == "--push-url") o.push.url = value();
      else if (a == "--push-secret") o.push.secret = value();
      else if (a == "--push-batch") o.push.batch = std::max<size_t>(1, std::stoull(value()));
      else if (a == "--push-linger") o.push.linger = duration();
      else if (a == "--push-drop") o.push.drop = std::stod(value());
      else if (a == "--push-corrupt") o.push.corrupt = std::stod(value());
      else if (a == "--push-replay") o.push.replay = std::stod(value());
      else if (a == "--push-duplicate") o.push.duplicate = std::stod(value());
      else if (a == "--push-retries") o.push.retries = std::stoi(value());
      else throw std::invalid_argument("unknown option " + a);
    }
    if (many) {
      if (!single_only.empty()) throw std::invalid_argument(single_only + " is not emulated with --accounts");
      m.seed = o.seed, m.events = o.events, m.span = o.span, m.end_gap = o.end_gap, m.live_rate = o.live_rate;
      m.rate_limit = o.rate_limit, m.rate_window = o.rate_window, m.awkward = o.awkward;
      m.email = o.email, m.api_token = o.api_token, m.password = o.password, m.bearer = o.bearer;
      m.hot_accounts = zf::emulator::parse_hot_accounts(hot_accounts, m.accounts);
    }
  } catch (const std::exception& e) {
    std::cerr << "zendesk-emulator: " << e.what() << "\n\n" << kUsage;
    return 2;
  }

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (many) return serve_accounts(m, host, port, port_file, set);
  zf::emulator::Emulator emulator(o);
  uint16_t bound;
  try {
    bound = emulator.start(host, static_cast<uint16_t>(port));
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  std::cerr << "zendesk-emulator: serving " << o.events << " events on " << emulator.base_url() << "\n";
  write_port_file(port_file, bound);
  int sig = 0;
  sigwait(&set, &sig);
  emulator.stop();
  return 0;
}
