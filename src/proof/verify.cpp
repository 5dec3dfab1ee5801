#include "proof/verify.h"

#include "proof/api_listing.h"
#include "log/progress.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include <curl/curl.h>

#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "core/durable_file.h"
#include "core/errors.h"
#include "core/time_format.h"
#include "metrics/metrics.h"
#include "normalize/normalizer.h"
#include "pipeline/committer.h"
#include "pipeline/delivery.h"
#include "pipeline/pipeline.h"
#include "proof/delivery_ledger.h"
#include "proof/raw_event.h"
#include "proof/record_key.h"

namespace zf::app {

namespace {

namespace fs = std::filesystem;

}  // namespace

namespace {

// An event of the listing: its minute of event time (the ledger's unit)
// and where its line starts in the spool (to ship it again).
struct ApiEvent {
  int64_t bucket = 0;
  uint64_t offset = 0;
};

std::map<std::string, ApiEvent> read_listing(const Listing& listing) {
  std::map<std::string, ApiEvent> events;
  std::ifstream in(listing.spool_path, std::ios::binary);
  simdjson::dom::parser parser;
  std::string line;
  uint64_t offset = 0;
  for (; std::getline(in, line); offset += line.size() + 1) {
    simdjson::dom::element e;
    if (parser.parse(line).get(e)) continue;
    if (auto id = proof::raw_id(e)) events[std::string(*id)] = {proof::raw_ledger_bucket(e), offset};
  }
  return events;
}

// The spooled JSON of the events at `offsets`.
std::vector<std::string> read_events(const Listing& listing, const std::vector<uint64_t>& offsets) {
  std::ifstream in(listing.spool_path, std::ios::binary);
  std::vector<std::string> events;
  std::string line;
  for (uint64_t at : offsets) {
    in.seekg(static_cast<std::streamoff>(at));
    if (!std::getline(in, line)) throw FatalError("the listing spool " + listing.spool_path + " was cut short");
    events.push_back(line);
  }
  return events;
}

// Hands the events it was given to the pipeline, in pages; remembers nothing.
class RepairSource final : public Source {
 public:
  explicit RepairSource(std::vector<std::string> events) : events_(std::move(events)) {}
  std::optional<SourcePage> next(bool) override {
    if (next_ >= events_.size()) return std::nullopt;
    size_t n = std::min<size_t>(1000, events_.size() - next_);
    body_ = "[";
    for (size_t i = 0; i < n; ++i) body_ += (i ? "," : "") + events_[next_ + i];
    body_ += "]";
    next_ += n;
    SourcePage page;
    for (simdjson::dom::element e : parser_.parse(body_).get_array()) page.events.push_back(e);
    page.listed = n;
    page.token = next_;
    return page;
  }
  CommitCost commit(uint64_t) override { return {}; }

 private:
  std::vector<std::string> events_;
  size_t next_ = 0;
  std::string body_;
  simdjson::dom::parser parser_;
};

// Ships `events` to one sink through the normal pipeline; true when every
// one was acknowledged.
bool repair(const sinks::ConfiguredSink& sink, const PullSourceConfig& c, const AppConfig& config,
            std::vector<std::string> events, ProcessMetrics& process, Logger& log, StopSignal& stop) {
  std::vector<pipeline::NamedSink> owned;
  owned.push_back({sink.name, sink.build(SinkContext{sink.name, log, process.registry()})});
  Metrics metrics(process, c.name + "-repair", c.account);
  RepairSource source(std::move(events));
  pipeline::Committer committer([&source](uint64_t t) { return source.commit(t); }, "repair", log, metrics);
  pipeline::Delivery delivery(pipeline::refs(owned), config.max_inflight_batches, config.sink_retry_initial,
                              config.sink_retry_max, log, metrics,
                              [&committer](const pipeline::Commit& commit) { committer.submit(commit); });
  normalize::Normalizer normalizer({c.account, c.keep_original, sink.encoding == encode::Encoding::EcsJson});
  pipeline::BatchNumbers numbers;
  pipeline::Pipeline loop(source, normalizer, delivery, numbers, log, metrics, stop,
                          {true, c.account, config.shutdown_timeout, config.progress_interval});
  pipeline::RunResult result = loop.run();
  delivery.stop_retries();
  pipeline::close_all(owned, config.shutdown_timeout);
  committer.finish();
  if (!result.ok) log.error("verify: repair failed", {{"sink", sink.name}, {"error", result.error}});
  return result.ok && result.drained;
}

// The report as Prometheus text: when verify last ran, for which period,
// and what it found, per source and sink (alerts: deploy/prometheus).
std::string metrics_text(const nlohmann::json& report, int64_t until_s) {
  prometheus::Registry registry;
  auto gauge = [&registry](const char* name, const char* help) -> prometheus::Family<prometheus::Gauge>& {
    return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
  };
  auto& last_run = gauge("zendesk_forwarder_verify_last_run_timestamp_seconds", "When zendesk-forwarder verify last finished.");
  auto& period_end = gauge("zendesk_forwarder_verify_period_end_timestamp_seconds", "End of the period the last verify covered.");
  auto& api_events = gauge("zendesk_forwarder_verify_api_events", "Events the API listed for the verified period.");
  auto& missing = gauge("zendesk_forwarder_verify_missing_events",
                        "Events the API holds that the sink does not (before any repair).");
  auto& duplicated = gauge("zendesk_forwarder_verify_duplicated_events", "Event ids the sink holds more than once.");
  auto& unverified = gauge("zendesk_forwarder_verify_unverified",
                           "1 for each source, or source and sink, the last verify could not verify (no API "
                           "credentials for a webhook's account, a sink that cannot be read back): nothing proves it.");
  last_run.Add({}).Set(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  for (const auto& u : report["unverified"]) {
    prometheus::Labels l;
    for (const char* key : {"source", "account", "sink"})
      if (u.contains(key)) l[key] = u[key].get<std::string>();
    unverified.Add(l).Set(1);
  }
  for (const auto& src : report["sources"]) {
    prometheus::Labels l = {{"source", src["source"]}, {"account", src["account"]}};
    period_end.Add(l).Set(static_cast<double>(until_s));
    api_events.Add(l).Set(src["api_events"].get<double>());
    for (const auto& s : src["sinks"]) {
      if (!s["readable"].get<bool>()) continue;
      prometheus::Labels ls = l;
      ls["sink"] = s["name"];
      missing.Add(ls).Set(static_cast<double>(s["missing"].size()));
      duplicated.Add(ls).Set(static_cast<double>(s["duplicated"].size()));
    }
  }
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

// PUT to a Pushgateway: replaces the job's previous metrics.
std::string push_metrics(const std::string& base_url, const std::string& text) {
  CURL* curl = curl_easy_init();
  if (!curl) return "libcurl could not start";
  std::string url = base_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/metrics/job/zendesk-forwarder-verify";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(text.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: text/plain; version=0.0.4");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) return std::string(curl_easy_strerror(rc));
  if (status / 100 != 2) return "HTTP " + std::to_string(status);
  return "";
}

bool chosen(const VerifyOptions& o, const sinks::ConfiguredSink& sink) {
  return o.sinks.empty() || std::find(o.sinks.begin(), o.sinks.end(), sink.name) != o.sinks.end();
}

// The ledger kept beside a checkpoint (through a symlinked checkpoint, beside
// the file it names); empty when there is none.
source::Ledger ledger_beside(const std::string& checkpoint_path) {
  std::error_code ec;
  std::string cp = fs::is_symlink(checkpoint_path, ec) ? fs::canonical(checkpoint_path, ec).string() : checkpoint_path;
  return source::DeliveryLedger::read(cp + ".ledger");
}

}  // namespace

std::string verify_refusal(const AppConfig& config, const VerifyOptions& o) {
  for (const auto& name : o.sinks) {
    bool known = std::any_of(config.sinks.begin(), config.sinks.end(), [&](const auto& s) { return s.name == name; });
    if (known) continue;
    std::string names;
    for (const auto& s : config.sinks) names += (names.empty() ? "" : ", ") + s.name;
    return "--sink " + name + ": the config has no sink of that name (its sinks: " + names + ")";
  }
  if (o.repair)
    for (const auto& sink : config.sinks)
      if (chosen(o, sink) && sink.read_position)
        return "verify --repair cannot ship into sink \"" + sink.name +
               "\": it is exactly_once, and each of its transactions carries the shipping sources' positions, "
               "which a repair has none of (it would write an empty position to the checkpoint topic, and under the "
               "forwarder's transactional_id fence the running forwarder). Run verify without --repair to find what "
               "is missing, then repair with a copy of the config whose sink \"" + sink.name +
               "\" has exactly_once off (same brokers and topic: read_committed consumers see its records, and the "
               "running forwarder is not disturbed)";
  return "";
}

int run_verify(const AppConfig& config, const VerifyOptions& o, Logger& log, StopSignal& stop) {
  ProcessMetrics process(ZF_VERSION);
  nlohmann::json report = {{"since", format_utc_seconds(o.since_s)}, {"until", format_utc_seconds(o.until_s)},
                           {"sources", nlohmann::json::array()}, {"push_sources", nlohmann::json::array()},
                           {"unverified", nlohmann::json::array()}};
  if (!o.sinks.empty()) report["sinks_chosen"] = o.sinks;
  bool complete = true;
  // What could not be proved, each said in the report, the log and on
  // stdout; any of it makes the exit code 1.
  auto unverified = [&](const std::string& what, const std::string& why, nlohmann::json labels) {
    complete = false;
    labels["what"] = what;
    labels["why"] = why;
    report["unverified"].push_back(labels);
    log.error("verify: cannot prove " + what + ": " + why);
  };

  // Pushed events are proved as pulled ones are: the account's Access Logs
  // API lists them too, and a sink holds them under the account whichever
  // source shipped them. So a zendesk_pull source of the account (the
  // credentials) lists the period once, and its comparison covers every
  // record of the account, pushed or pulled. A webhook source alone has no
  // credentials to list with: nothing proves its deliveries.
  std::map<std::string, std::vector<const WebhookSourceConfig*>> covers;  // pull source name -> webhook sources
  const auto pulls = sources_of<PullSourceConfig>(config);
  for (const auto* webhook : sources_of<WebhookSourceConfig>(config)) {
    const WebhookSourceConfig& w = *webhook;
    const PullSourceConfig* by = nullptr;
    for (const auto* c : pulls)
      if (c->account == w.account && (!by || c->dedup_with == w.name)) by = c;
    nlohmann::json entry = {{"source", w.name}, {"type", "zendesk_webhook"}, {"account", w.account}};
    if (by) {
      covers[by->name].push_back(&w);
      entry["verified_with"] = by->name;
    } else {
      std::string why = "cannot verify: no API credentials for account " + w.account + " (zendesk_webhook source " +
                        w.name + " has none; ";
      auto dedup = std::find_if(pulls.begin(), pulls.end(), [&](const auto* c) { return c->dedup_with == w.name; });
      why += dedup != pulls.end()
                 ? "its dedup_with source " + (*dedup)->name + " reads account " + (*dedup)->account +
                       ": spell the account the same in both)"
                 : "add a zendesk_pull source of this account, e.g. with dedup_with: " + w.name +
                       ", to the config verify runs with)";
      entry["error"] = why;
      unverified("source " + w.name, why, {{"source", w.name}, {"account", w.account}});
    }
    report["push_sources"].push_back(entry);
  }

  for (const auto* pull : pulls) {
    const PullSourceConfig& c = *pull;
    struct Holding {
      const sinks::ConfiguredSink* sink;
      nlohmann::json report;
      std::map<std::string, size_t> held;     // id -> copies stamped within the period
      std::map<std::string, size_t> outside;  // stamped outside it (e.g. an ingest-time fallback)
      size_t unparsed = 0;
      size_t other_accounts = 0;  // records of another account (a sink several sources share)
      bool readable = false;
    };
    ListingOptions lo{o.since_s, o.until_s, o.budget_share, /*keep_events=*/o.repair, o.resume, o.state_dir};
    Progress progress("verify: listing " + c.name, std::cerr, stderr_is_terminal(), log);
    Listing listing = list_api_events(c, lo, process, log, stop, progress);
    std::map<std::string, ApiEvent> api = read_listing(listing);
    std::vector<std::string> pushed_by;
    for (const auto* w : covers[c.name]) pushed_by.push_back(w->name);
    // With --ledger, the minutes where the listing agrees with what the
    // forwarder recorded as delivered need no sink read. What the account's
    // webhook sources delivered counts too, where they keep a ledger.
    std::optional<std::set<int64_t>> suspect;  // the minutes to check in the sinks; nullopt = all
    nlohmann::json ledger_report;
    if (o.ledger) {
      source::Ledger recorded = ledger_beside(c.checkpoint_path), listed;
      for (const auto* w : covers[c.name])
        for (const auto& [bucket, b] : ledger_beside(w->checkpoint_path)) recorded[bucket].merge(b);
      for (const auto& [id, ev] : api) listed[ev.bucket].add(id);
      int64_t from = source::ledger_bucket_of(o.since_s * 1000), to = source::ledger_bucket_of(o.until_s * 1000);
      suspect.emplace();
      for (auto it = recorded.lower_bound(from); it != recorded.end() && it->first < to; ++it)
        if (listed[it->first] != it->second) suspect->insert(it->first);
      for (const auto& [bucket, b] : listed)
        if (recorded[bucket] != b) suspect->insert(bucket);
      ledger_report = {{"minutes_listed", listed.size()}, {"minutes_differing", suspect->size()}};
      log.info("verify: API listing compared with the delivery ledger", ledger_report);
    }
    auto in_scope = [&](int64_t bucket) { return !suspect || suspect->count(bucket); };
    // Events without a usable time of their own are stamped with the read
    // time in the sinks: when those differ, every record may be one.
    bool any_time = suspect && suspect->count(source::kLedgerNoTime);
    std::vector<Holding> holdings;
    for (const auto& sink : config.sinks) {
      if (!chosen(o, sink)) continue;
      Holding& h = holdings.emplace_back();
      h.sink = &sink;
      h.report = {{"name", sink.name}, {"type", sink.type}, {"readable", false}};
      if (suspect && suspect->empty()) {
        h.readable = true;
        h.report["verified_by"] = "ledger: every minute agrees with what every sink acknowledged; not read";
        continue;
      }
      if (!sink.read_back) {
        std::string why = "a " + sink.type + " sink cannot be read back: check the receiver's own store, or leave "
                          "it out of the proof with --sink (naming the sinks to prove)";
        h.report["note"] = why;
        unverified("sink " + sink.name + " for source " + c.name, why,
                   {{"source", c.name}, {"account", c.account}, {"sink", sink.name}});
        continue;
      }
      simdjson::dom::parser parser;
      try {
        sink.read_back(c.account, [&](std::string_view record) {
          auto key = proof::key_of(sink.encoding, record, parser);
          if (!key) ++h.unparsed;
          else if (!key->account.empty() && key->account != c.account) ++h.other_accounts;
          else if (!any_time && !in_scope(source::ledger_bucket_of(key->time_ms))) return;
          else if (key->time_ms >= o.since_s * 1000 && key->time_ms < o.until_s * 1000) ++h.held[key->id];
          else ++h.outside[key->id];
        });
        h.readable = true;
      } catch (const std::exception& e) {
        h.report["error"] = e.what();
        unverified("sink " + sink.name + " for source " + c.name, std::string("cannot read it back: ") + e.what(),
                   {{"source", c.name}, {"account", c.account}, {"sink", sink.name}});
      }
    }
    nlohmann::json src = {{"source", c.name}, {"account", c.account}, {"api_events", api.size()},
                          {"sinks", nlohmann::json::array()}};
    if (!pushed_by.empty()) src["covers_push_sources"] = pushed_by;
    if (o.ledger) src["ledger"] = ledger_report;
    for (Holding& h : holdings) {
      const sinks::ConfiguredSink& sink = *h.sink;
      nlohmann::json& s = h.report;
      if (!h.readable) {
        src["sinks"].push_back(s);
        continue;
      }
      auto& held = h.held;
      for (const auto& [id, n] : h.outside)
        if (api.count(id)) held[id] += n;  // an API event the sink stamped otherwise
      std::vector<std::string> missing, unknown;
      nlohmann::json duplicated = nlohmann::json::object();
      for (const auto& [id, ev] : api)
        if (in_scope(ev.bucket) && !held.count(id)) missing.push_back(id);
      for (const auto& [id, n] : held) {
        if (n > 1) duplicated[id] = n;
        if (!api.count(id)) unknown.push_back(id);
      }
      s["readable"] = true;
      s["delivered"] = api.size() - missing.size();
      s["missing"] = missing;
      s["duplicated"] = duplicated;
      s["unknown"] = unknown;
      s["unparsed_records"] = h.unparsed;
      if (h.other_accounts) s["other_account_records"] = h.other_accounts;
      log.info("verify: sink compared", {{"sink", sink.name}, {"source", c.name}, {"api_events", api.size()},
                                         {"delivered", api.size() - missing.size()}, {"missing", missing.size()},
                                         {"duplicated", duplicated.size()}, {"unknown", unknown.size()}});
      if (!missing.empty() && o.repair) {
        std::vector<uint64_t> offsets;
        for (const auto& id : missing) offsets.push_back(api.at(id).offset);
        bool ok = repair(sink, c, config, read_events(listing, offsets), process, log, stop);
        s["repaired"] = ok ? missing.size() : 0;
        log.info(ok ? "verify: missing events shipped again" : "verify: repair did not complete",
                 {{"sink", sink.name}, {"events", missing.size()}});
        if (!ok) complete = false;
      } else if (!missing.empty()) {
        complete = false;
      }
      src["sinks"].push_back(s);
    }
    report["sources"].push_back(src);
    discard(listing);
  }
  report["complete"] = complete;
  if (!o.report_path.empty()) {
    std::ofstream out(o.report_path);
    out << report.dump(2) << "\n";
    if (!out) log.error("verify: cannot write the report", {{"path", o.report_path}});
  }
  if (!o.metrics_file.empty() || !o.pushgateway_url.empty()) {
    std::string text = metrics_text(report, o.until_s);
    if (!o.metrics_file.empty()) {
      // Whole or not at all: a textfile collector may read it any time.
      try {
        ReplacingFile file(o.metrics_file, ".tmp", 0644);  // the collector may run as another user
        file.write(text);
        file.commit();
      } catch (const std::exception& e) {
        log.error("verify: cannot write the metrics file", {{"path", o.metrics_file}, {"error", e.what()}});
      }
    }
    if (!o.pushgateway_url.empty()) {
      std::string error = push_metrics(o.pushgateway_url, text);
      if (!error.empty()) log.error("verify: cannot push the metrics", {{"url", o.pushgateway_url}, {"error", error}});
    }
  }
  // The human summary, one line per sink and push source, on stdout.
  for (const auto& w : report["push_sources"]) {
    std::cout << w["source"].get<std::string>() << " (zendesk_webhook): ";
    if (w.contains("error")) std::cout << "not verified, " << w["error"].get<std::string>() << "\n";
    else std::cout << "its deliveries are verified with " << w["verified_with"].get<std::string>()
                   << "'s API listing of account " << w["account"].get<std::string>() << " (below)\n";
  }
  for (const auto& src : report["sources"])
    for (const auto& s : src["sinks"]) {
      std::cout << src["source"].get<std::string>() << " -> " << s["name"].get<std::string>() << ": ";
      if (!s["readable"].get<bool>()) {
        std::cout << "not verified (" << s.value("note", s.value("error", "")) << ")\n";
        continue;
      }
      if (s.contains("verified_by")) {
        std::cout << src["api_events"] << " at the API, all acknowledged by every sink per the ledger (not read)\n";
        continue;
      }
      std::cout << src["api_events"] << " at the API, " << s["delivered"] << " delivered, " << s["missing"].size()
                << " missing, " << s["duplicated"].size() << " duplicated, " << s["unknown"].size() << " unknown"
                << (s.contains("repaired") ? ", " + s["repaired"].dump() + " repaired" : "") << "\n";
    }
  if (!complete) {
    size_t missing = 0;
    for (const auto& src : report["sources"])
      for (const auto& s : src["sinks"])
        if (s.contains("missing")) missing += s["missing"].size() - s.value("repaired", size_t{0});
    std::cout << "the period is not proved:";
    if (missing) std::cout << " " << missing << " events missing" << (report["unverified"].empty() ? "" : ",");
    if (!report["unverified"].empty()) std::cout << " " << report["unverified"].size() << " thing(s) not verified";
    std::cout << " (above)\n";
  }
  return complete ? 0 : 1;
}

}  // namespace zf::app
