#include "app/app_config.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include <cctype>
#include <cstdint>

#include "core/errors.h"

namespace zf::app {

namespace {

// Names go into metric labels, log fields and file names.
bool is_source_name(const std::string& n) {
  return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](unsigned char ch) {
    return std::islower(ch) || std::isdigit(ch) || ch == '-' || ch == '_';
  });
}

// One entry of the sources, before it is read: from `sources:` (file "")
// or from a file of `sources_from:`.
struct RawEntry {
  YAML::Node yaml;
  std::string file;   // as the user would find it, e.g. accounts/acme.yaml
  size_t index = 0;   // in `sources:` or in its file
};

// `{source}` in a checkpoint path is the source's name: one line in
// `defaults:` gives each of many accounts its own file.
std::string expand_source(std::string path, const std::string& name) {
  for (size_t at = path.find("{source}"); at != std::string::npos; at = path.find("{source}", at + name.size()))
    path.replace(at, 8, name);
  return path;
}

void read_entries_file(const std::filesystem::path& file, const std::string& shown, std::vector<RawEntry>& out) {
  YAML::Node doc = ConfigNode::parse_file(file.string(), shown);
  if (!doc || doc.IsNull()) return;  // an empty file: an account switched off by emptying it
  if (doc.IsMap()) {
    out.push_back({doc, shown, 0});
    return;
  }
  if (!doc.IsSequence()) throw ConfigError(shown, "expected one source (a mapping) or a list of sources");
  for (size_t i = 0; i < doc.size(); ++i) {
    if (!doc[i].IsMap()) throw ConfigError(shown + " [" + std::to_string(i) + "]", "expected a mapping (one source)");
    out.push_back({doc[i], shown, i});
  }
}

// sources_from: files or directories of *.yaml (each file one source or a
// list), read in name order; relative paths are from the config file's
// directory. Hidden names are skipped: a Kubernetes ConfigMap volume holds
// ..data and ..<timestamp> beside the files.
std::vector<RawEntry> read_sources_from(const ConfigNode& root) {
  std::vector<RawEntry> out;
  namespace fs = std::filesystem;
  fs::path base = fs::path(root.origin()).parent_path();
  for (const std::string& where : root.get_string_list("sources_from")) {
    if (where.empty()) root.fail("sources_from", "is empty: give a file or directory of sources");
    fs::path p = fs::path(where).is_absolute() ? fs::path(where) : base / where;
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> names;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        std::string n = e.path().filename().string();
        std::string ext = e.path().extension().string();
        if (n.empty() || n[0] == '.' || (ext != ".yaml" && ext != ".yml") || !fs::is_regular_file(e.path(), ec)) continue;
        names.push_back(n);
      }
      if (ec) root.fail("sources_from", "cannot list directory " + p.string() + ": " + ec.message());
      std::sort(names.begin(), names.end());
      for (const auto& n : names) read_entries_file(p / n, (fs::path(where) / n).string(), out);
    } else if (fs::exists(p, ec)) {
      read_entries_file(p, where, out);
    } else {
      root.fail("sources_from", "no such file or directory: " + p.string());
    }
  }
  return out;
}

// `defaults:` split by the type it applies to (source_types.h); a key no
// type takes, or a key for a type the config has no source of, is refused
// by name. Type and checkpoint go to every type.
using SourceDefaults = std::map<std::string, YAML::Node>;  // type -> its defaults

SourceDefaults read_defaults(const ConfigNode& root, const std::vector<RawEntry>& entries) {
  SourceDefaults d;
  for (const auto& t : source::source_types()) d[t.name] = YAML::Node(YAML::NodeType::Map);
  const YAML::Node all = root.raw("defaults");
  if (!all || all.IsNull()) return d;
  if (!all.IsMap()) root.fail("defaults", "expected a mapping of source keys (e.g. rate_limit:, checkpoint:)");
  std::set<std::string> present;  // the types the entries have
  for (const auto& e : entries) {
    YAML::Node t = e.yaml["type"] ? e.yaml["type"] : all["type"];
    if (t && t.IsScalar()) present.insert(t.Scalar());
  }
  for (auto it = all.begin(); it != all.end(); ++it) {
    std::string k = it->first.Scalar();
    if (k == "name") throw ConfigError("defaults.name", "each source names itself; set name in each entry");
    std::vector<const source::SourceType*> takers;
    for (const auto& t : source::source_types())
      if (k == "type" || k == "checkpoint" || (t.default_keys && t.default_keys->count(k))) takers.push_back(&t);
    if (takers.empty())  // nobody lists it: the types that take the rest
      for (const auto& t : source::source_types())
        if (!t.default_keys) takers.push_back(&t);
    bool used = false;
    for (const auto* t : takers) {
      d[t->name][k] = it->second;
      used = used || present.count(t->name);
    }
    if (!used)
      throw ConfigError("defaults." + k, "is a " + (takers.empty() ? std::string("no type's") : takers[0]->name) +
                                             " setting and no source of that type takes it (a misspelt key?)");
  }
  return d;
}

void read_sources(const ConfigNode& root, AppConfig& c) {
  if (root.has("zendesk")) {
    if (root.has("sources"))
      root.fail("sources", "set either sources (a list) or the zendesk shorthand for one source, not both");
    for (const char* key : {"defaults", "sources_from"})
      if (root.has(key)) root.fail(key, "applies to the sources list; the zendesk shorthand is one source");
    auto s = std::make_shared<PullSourceConfig>();
    s->name = "zendesk";
    ConfigNotes notes{c.secrets, c.warnings};
    read_pull_source(root.child("zendesk"), *s, notes);
    if (!s->dedup_with.empty())
      root.child("zendesk").fail("dedup_with", "needs a zendesk_webhook source beside it: use the sources list");
    s->checkpoint_path = root.child("checkpoint").require_string("path");
    c.sources.push_back(std::move(s));
    c.sources_form = "zendesk (shorthand for one zendesk_pull source named \"zendesk\")";
    return;
  }
  if (!root.has("sources") && !root.has("sources_from"))
    root.fail("sources", "is required: a list of sources (or sources_from: a file or directory of them), or the "
                         "zendesk section for one account");
  if (root.has("checkpoint"))
    root.fail("checkpoint", "belongs to each entry of sources (each source has its own checkpoint; for many, "
                            "defaults: {checkpoint: {path: /var/lib/zendesk-forwarder/{source}.json}})");
  std::vector<RawEntry> raw;
  if (root.has("sources")) {
    YAML::Node seq = root.raw("sources");
    if (!seq.IsSequence()) root.fail("sources", "expected a list");
    for (size_t i = 0; i < seq.size(); ++i) {
      if (!seq[i].IsMap()) throw ConfigError("sources[" + std::to_string(i) + "]", "expected a mapping");
      raw.push_back({seq[i], "", i});
    }
    if (raw.empty() && !root.has("sources_from")) root.fail("sources", "is empty: list at least one source");
  }
  size_t inline_count = raw.size();
  for (auto& e : read_sources_from(root)) raw.push_back(std::move(e));
  if (raw.empty()) root.fail("sources_from", "holds no source: list at least one");
  SourceDefaults defaults = read_defaults(root, raw);

  // Where each name was first given, for the message naming both.
  std::unordered_map<std::string, std::string> name_owner;
  std::vector<std::pair<std::string, ConfigNode>> read;  // name, its merged entry
  read.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    const RawEntry& e = raw[i];
    // Inline entries keep their index; an entry of a file is named by its
    // name (an index across many files would help no one find it).
    std::string path = "sources[" + std::to_string(e.index) + "]";
    if (i >= inline_count) {
      const YAML::Node& own = e.yaml;
      YAML::Node n = own["name"];
      std::string name = n && n.IsScalar() ? n.Scalar() : "";
      if (name.empty() || !is_source_name(name))
        throw ConfigError(e.file + " [" + std::to_string(e.index) + "]: name",
                          name.empty() ? "is required" : "expected lower-case letters, digits, '-' or '_' (at most 64)");
      path = "sources[" + name + "]";
    }
    YAML::Node t = e.yaml["type"] ? e.yaml["type"] : root.raw("defaults")["type"];
    const source::SourceType* type = t && t.IsScalar() ? source::find_source_type(t.Scalar()) : nullptr;
    ConfigNode item = root.adopt(e.yaml, path, e.file, type ? defaults.at(type->name) : YAML::Node());
    std::string type_name = item.require_string("type");
    if (!type) {
      std::string known;
      for (const auto& k : source::source_types()) known += (known.empty() ? "" : ", ") + k.name;
      item.fail("type", "unknown source type " + item.shown("type", type_name) + "; known types: " + known);
    }
    std::string name = item.require_string("name");
    if (!is_source_name(name))
      item.fail("name", "expected lower-case letters, digits, '-' or '_' (at most 64), got " + item.shown("name", name));
    std::string where = path + (e.file.empty() ? "" : " (" + e.file + ")");
    auto [owner, fresh] = name_owner.emplace(name, where);
    if (!fresh) item.fail("name", "\"" + name + "\" is already the name of another source (" + owner->second + ")");
    ConfigNotes notes{c.secrets, c.warnings};
    std::shared_ptr<source::SourceEntry> entry = type->read(item, notes);
    entry->name = name;
    entry->checkpoint_path = expand_source(entry->checkpoint_path, name);
    c.sources.push_back(std::move(entry));
    read.emplace_back(name, item);
  }
  // Two sources writing one file would overwrite each other's position.
  // Compared as the files they resolve to: cp.json, ./cp.json, $PWD/cp.json
  // and a symlinked directory's path are one file.
  auto same_file = [](const std::string& p) {
    std::error_code ec;
    auto resolved = std::filesystem::weakly_canonical(std::filesystem::absolute(p), ec);
    return (ec ? std::filesystem::path(p).lexically_normal() : resolved).string();
  };
  std::unordered_map<std::string, std::string> checkpoint_owner;
  for (const auto& s : c.sources) checkpoint_owner.emplace(same_file(s->checkpoint_path), s->name);
  std::unordered_map<std::string, const ConfigNode*> node_of;
  for (const auto& [name, item] : read) node_of.emplace(name, &item);
  auto check_own = [&](const std::string& name, const std::string& path) {
    const std::string& owner = checkpoint_owner.at(same_file(path));
    if (owner != name)
      node_of.at(name)->child("checkpoint").fail(
          "path", "is also source \"" + owner + "\"'s checkpoint (" + path +
                      "); give each source its own file (with many, put {source} in the path: it becomes the name)");
  };
  for (const auto& s : c.sources) check_own(s->name, s->checkpoint_path);
  // The message's order follows the entries; check in that order.
  for (const auto& s : c.sources)
    if (const auto& check = source::type_of(*s).check) check(*s, c.sources, *node_of.at(s->name));
  c.sources_form = "sources (" + std::to_string(c.sources.size()) + ")";
}

}  // namespace

AppConfig load_config(const ConfigNode& root) {
  AppConfig c;
  read_sources(root, c);

  ConfigNode p = root.child("pipeline");
  c.max_inflight_batches =
      static_cast<size_t>(p.get_int("max_inflight_batches", 1, 256, static_cast<int64_t>(c.max_inflight_batches)));
  c.sink_retry_initial = p.get_duration("sink_retry_initial", std::chrono::milliseconds(10), std::chrono::minutes(10),
                                        c.sink_retry_initial);
  c.sink_retry_max = p.get_duration("sink_retry_max", std::chrono::milliseconds(10), std::chrono::hours(1), c.sink_retry_max);
  c.shutdown_timeout = p.get_duration("shutdown_timeout", std::chrono::milliseconds(100), std::chrono::minutes(10),
                                      c.shutdown_timeout);
  c.progress_interval = p.get_duration("progress_interval", std::chrono::milliseconds(100), std::chrono::hours(1),
                                       c.progress_interval);
  c.workers = static_cast<size_t>(p.get_int("workers", 1, 64, static_cast<int64_t>(c.workers)));
  c.memory_limit_bytes = static_cast<size_t>(p.get_int("memory_limit_mib", 16, 65536,
                                                       static_cast<int64_t>(c.memory_limit_bytes >> 20)))
                         << 20;
  if (p.has("startup_spread"))
    c.startup_spread = p.get_duration("startup_spread", std::chrono::milliseconds(0), std::chrono::minutes(10),
                                      std::chrono::milliseconds(0));

  c.sinks = sinks::configure_all(root);
  // Exactly once and coordination move positions: every source must have one.
  const bool every_source_keeps_position = std::all_of(
      c.sources.begin(), c.sources.end(), [](const auto& s) { return source::type_of(*s).keeps_position; });
  for (size_t i = 0; i < c.sinks.size(); ++i) {
    if (!c.sinks[i].read_position) continue;
    // The transaction holds one sink's records and one source's position.
    ConfigNode sink = root.items("sinks")[i];
    if (c.sinks.size() != 1)
      sink.fail("exactly_once", "needs this kafka sink to be the only sink: another sink's deliveries would be "
                                "outside its transactions");
    if (!every_source_keeps_position)
      sink.fail("exactly_once", "needs zendesk_pull sources only (their positions are what the transactions "
                                "store; a webhook source keeps none)");
  }

  // Coordination (#30): the accounts move between replicas, so everything
  // a new owner needs must be where every replica reads it.
  ConfigNode co = root.child("coordination");
  if (!co.is_null()) {
    c.coordination_shared_checkpoints = co.get_bool("shared_checkpoints", false);
    c.coordination = coord::parse_coordination(co);
  }
  if (c.coordination.enabled) {
    if (!every_source_keeps_position)
      co.fail("enabled", "needs zendesk_pull sources only: a zendesk_webhook source is not coordinated; run it in a "
                         "single-replica deployment of its own (docs/KAFKA.md, Coordination)");
    bool positions_in_kafka =
        std::any_of(c.sinks.begin(), c.sinks.end(), [](const auto& s) { return static_cast<bool>(s.read_position); });
    if (!positions_in_kafka && !c.coordination_shared_checkpoints)
      co.fail("enabled", "needs the positions where the next owner of an account finds them: a kafka sink with "
                         "exactly_once: true (positions in its checkpoint topic), or shared_checkpoints: true with "
                         "every source's checkpoint_path on a volume all replicas mount (ReadWriteMany)");
    for (size_t i = 0; i < c.sinks.size(); ++i)
      if (c.sinks[i].read_position && root.items("sinks")[i].has("transactional_id"))
        root.items("sinks")[i].fail("transactional_id",
                                    "would be every account's under coordination.enabled: their producers would fence "
                                    "each other; leave it unset (each account then gets zendesk-forwarder-<source>)");
    if (positions_in_kafka && c.coordination_shared_checkpoints)
      co.fail("shared_checkpoints", "is for sinks without exactly_once; with an exactly_once kafka sink the positions "
                                    "live in its checkpoint topic");
  }

  ConfigNode m = root.child("metrics");
  c.health.listen = m.get_string("listen", "");
  if (!c.health.listen.empty()) {
    size_t colon = c.health.listen.rfind(':');
    std::string port = colon == std::string::npos ? "" : c.health.listen.substr(colon + 1);
    bool digits = !port.empty() && port.size() <= 5 &&
                  std::all_of(port.begin(), port.end(), [](unsigned char ch) { return std::isdigit(ch); });
    if (!digits || std::stol(port) > 65535)
      m.fail("listen", "expected host:port with a port from 0 to 65535, e.g. 127.0.0.1:9464, got " +
                           m.shown("listen", c.health.listen));
  }
  c.health.metrics_token = m.get_secret("auth_token").value_or("");
  if (m.has("per_source_histograms")) c.health.per_source_histograms = m.get_bool("per_source_histograms", true);
  ConfigNode ready = m.child("readiness");
  c.health.max_fetch_age = ready.get_duration("max_fetch_age", std::chrono::seconds(1), std::chrono::hours(24), c.health.max_fetch_age);
  c.health.max_delivery_age =
      ready.get_duration("max_delivery_age", std::chrono::seconds(1), std::chrono::hours(24), c.health.max_delivery_age);

  ConfigNode log = root.child("log");
  std::string level = log.get_enum("level", {"debug", "info", "warn", "error"}, "info");
  c.log_level = *parse_log_level(level);

  root.reject_unknown_keys();
  auto more = root.secrets();
  c.secrets.insert(c.secrets.end(), more.begin(), more.end());
  return c;
}

const PullSourceConfig& pull_source(const AppConfig& config, const std::string& name) {
  std::string names;
  auto pulls = sources_of<PullSourceConfig>(config);
  for (const auto* s : pulls) {
    if (name.empty() ? pulls.size() == 1 : s->name == name) return *s;
    names += (names.empty() ? "" : ", ") + s->name;
  }
  if (pulls.empty())
    throw FatalError("this command reads an account through a zendesk_pull source's credentials; the config has none");
  throw FatalError(name.empty() ? "the config has several pull sources (" + names + "): say which with --source NAME"
                                : "no pull source named \"" + name + "\" in the config (it has " + names + ")");
}

}  // namespace zf::app
