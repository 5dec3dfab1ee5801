#include "config/config_node.h"

#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

namespace zf {

std::optional<Duration> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > 12) return std::nullopt;
  int64_t n = std::stoll(text.substr(0, i));  // at most 12 digits: fits
  std::string unit = text.substr(i);
  int64_t ms_per;
  if (unit.empty() || unit == "s") ms_per = 1000;
  else if (unit == "ms") ms_per = 1;
  else if (unit == "m") ms_per = 60'000;
  else if (unit == "h") ms_per = 3'600'000;
  else if (unit == "d") ms_per = 86'400'000;
  else return std::nullopt;
  int64_t ms = 0;
  if (__builtin_mul_overflow(n, ms_per, &ms)) return std::nullopt;
  return Duration(ms);
}

std::string read_bounded(const std::string& path, size_t max_bytes, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + what + " " + path + " (does it exist, and is it readable?)");
  std::string data(max_bytes + 1, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(in.gcount()));
  if (data.size() > max_bytes)
    throw std::runtime_error(what + " " + path + " is larger than " + std::to_string(max_bytes / 1024) +
                             " KiB; is it the right file?");
  return data;
}

namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr size_t kMaxSecretBytes = 64 << 10;
// A config has a few hundred values; aliases can make a tiny file expand to
// billions ("billion laughs"), so every walk of the tree is bounded.
constexpr size_t kMaxConfigValues = 100'000;
// An alias inside its own anchor ("&a [*a]") is a cycle: without a depth
// bound the walk overflows the stack long before the value count stops it.
constexpr size_t kMaxConfigDepth = 64;

// YAML parsers keep one value of a key given twice and drop the other
// silently; a config where `poll_interval:` appears twice is a mistake to
// name. Keys must be plain names.
void check_keys(const YAML::Node& node, const std::string& path, size_t& visited, size_t depth = 0) {
  if (depth > kMaxConfigDepth)
    throw ConfigError(path, "nested deeper than " + std::to_string(kMaxConfigDepth) +
                                " levels (a YAML alias inside its own anchor?)");
  if (++visited > kMaxConfigValues)
    throw ConfigError(path.empty() ? "config" : path,
                      "the config expands to more than " + std::to_string(kMaxConfigValues) +
                          " values (YAML aliases repeating each other?); write the values out");
  if (node.IsSequence())
    for (size_t i = 0; i < node.size(); ++i) check_keys(node[i], path + "[" + std::to_string(i) + "]", visited, depth + 1);
  if (!node.IsMap()) return;
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar())
      throw ConfigError(path.empty() ? "config" : path,
                        "a key at line " + std::to_string(it->first.Mark().line + 1) +
                            " is a list or mapping; keys must be plain names");
    std::string k = it->first.Scalar();
    std::string p = path.empty() ? k : path + "." + k;
    if (!seen.insert(k).second)
      throw ConfigError(p, "given twice (again at line " + std::to_string(it->first.Mark().line + 1) +
                               "); keep one of them");
    check_keys(it->second, p, visited, depth + 1);
  }
}

}  // namespace

ConfigNode::ConfigNode(YAML::Node node, std::string path, std::shared_ptr<Shared> shared)
    : node_(std::move(node)), path_(std::move(path)), shared_(std::move(shared)) {}

namespace {
// The config itself must be a mapping of sections, and its key errors name
// the key alone; a file it includes may hold any node, and its key errors
// name that file too (its keys are not the config's).
enum class Document { Config, Included };

YAML::Node parse_checked(const std::string& yaml, const std::string& origin, Document document) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw ConfigError(origin, "not valid YAML: " + e.msg + " (line " + std::to_string(e.mark.line + 1) +
                                  ", column " + std::to_string(e.mark.column + 1) + ")");
  }
  if (document == Document::Config && !root.IsMap())
    throw ConfigError(origin, "the top level must be a mapping of sections (zendesk:, sinks:, ...)");
  size_t visited = 0;
  try {
    check_keys(root, "", visited);
  } catch (const ConfigError& e) {
    if (document == Document::Config || origin == "<string>" || origin.empty()) throw;
    throw ConfigError(e.key() + " (" + origin + ")", std::string(e.what()).substr(e.key().size() + 10));
  }
  return root;
}

// A config file's text, bounded; a failure names it as `shown_as`.
std::string config_text(const std::string& path, const std::string& shown_as) {
  try {
    return read_bounded(path, kMaxConfigBytes, "config file");
  } catch (const std::runtime_error& e) {
    throw ConfigError(shown_as, e.what());
  }
}
}  // namespace

ConfigNode ConfigNode::load_string(const std::string& yaml, const std::string& origin) {
  YAML::Node root = parse_checked(yaml, origin, Document::Config);
  auto shared = std::make_shared<Shared>();
  shared->origin = origin;
  return ConfigNode(root, "", shared);
}

ConfigNode ConfigNode::load_file(const std::string& path) { return load_string(config_text(path, path), path); }

YAML::Node ConfigNode::parse_file(const std::string& path, const std::string& shown_as) {
  return parse_checked(config_text(path, shown_as), shown_as, Document::Included);
}

YAML::Node ConfigNode::raw(const std::string& key) const {
  if (!has(key)) return YAML::Node();
  // Everything below is the caller's to check: the walk for unknown keys
  // stops here.
  std::function<void(const YAML::Node&, const std::string&)> mark = [&](const YAML::Node& n, const std::string& p) {
    shared_->used.insert(p);
    if (n.IsMap())
      for (auto it = n.begin(); it != n.end(); ++it) mark(it->second, p + "." + it->first.Scalar());
  };
  mark(node_[key], key_path(key));
  return node_[key];
}

namespace {
// A deep copy of `own` with `defaults` beneath it; `record` is called with
// the relative path of every value taken from defaults.
template <typename Record>
YAML::Node merge_under(const YAML::Node& own, const YAML::Node& defaults, const std::string& rel, Record& record) {
  if (!own || own.IsNull()) {
    if (!defaults || defaults.IsNull()) return YAML::Clone(own ? own : defaults);
    std::function<void(const YAML::Node&, const std::string&)> mark = [&](const YAML::Node& n, const std::string& p) {
      record(p);
      if (n.IsMap())
        for (auto it = n.begin(); it != n.end(); ++it) mark(it->second, p + "." + it->first.Scalar());
    };
    mark(defaults, rel);
    return YAML::Clone(defaults);
  }
  if (!own.IsMap() || !defaults || !defaults.IsMap()) return YAML::Clone(own);
  YAML::Node out = YAML::Clone(own);
  for (auto it = defaults.begin(); it != defaults.end(); ++it) {
    std::string k = it->first.Scalar();
    std::string p = rel.empty() ? k : rel + "." + k;
    out[k] = merge_under(own[k], it->second, p, record);
  }
  return out;
}
}  // namespace

ConfigNode ConfigNode::adopt(const YAML::Node& own, const std::string& path, const std::string& file,
                             const YAML::Node& defaults, const std::string& defaults_path) const {
  std::string shown = path + (file.empty() ? "" : " (" + file + ")");
  auto record = [&](const std::string& rel) {
    shared_->inherited[path + "." + rel] = defaults_path + "." + rel + " (for " + shown + ")";
  };
  YAML::Node merged = merge_under(own, defaults, "", record);
  ConfigNode n(merged, path, shared_);
  n.entry_path_ = path;
  n.entry_file_ = file;
  return n;
}

std::string ConfigNode::shown_key(const std::string& full) const {
  if (auto it = shared_->inherited.find(full); it != shared_->inherited.end()) return it->second;
  if (entry_file_.empty() || full.compare(0, entry_path_.size(), entry_path_) != 0) return full;
  std::string shown = entry_path_ + " (" + entry_file_ + ")";
  return full.size() > entry_path_.size() ? shown + ": " + full.substr(entry_path_.size() + 1) : shown;
}

std::string ConfigNode::key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

void ConfigNode::fail(const std::string& key, const std::string& problem) const {
  throw ConfigError(shown_key(key.empty() ? path_ : key_path(key)), problem);
}

bool ConfigNode::has(const std::string& key) const { return node_ && node_.IsMap() && node_[key]; }

ConfigNode ConfigNode::child(const std::string& key) const {
  YAML::Node sub;
  if (has(key)) {
    sub = node_[key];
    if (!sub.IsMap() && !sub.IsNull()) fail(key, "expected a mapping of keys");
    shared_->used.insert(key_path(key));
  }
  ConfigNode n(sub, key_path(key), shared_);
  n.entry_path_ = entry_path_;
  n.entry_file_ = entry_file_;
  return n;
}

std::vector<ConfigNode> ConfigNode::items(const std::string& key) const {
  std::vector<ConfigNode> out;
  if (!has(key)) return out;
  YAML::Node seq = node_[key];
  shared_->used.insert(key_path(key));
  if (!seq.IsSequence()) fail(key, "expected a list");
  for (size_t i = 0; i < seq.size(); ++i) {
    std::string p = key_path(key) + "[" + std::to_string(i) + "]";
    if (!seq[i].IsMap()) throw ConfigError(p, "expected a mapping");
    shared_->used.insert(p);
    ConfigNode n(seq[i], p, shared_);
    n.entry_path_ = entry_path_;
    n.entry_file_ = entry_file_;
    out.push_back(std::move(n));
  }
  return out;
}

std::optional<YAML::Node> ConfigNode::scalar(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  YAML::Node v = node_[key];
  shared_->used.insert(key_path(key));
  if (v.IsNull()) return std::nullopt;
  if (!v.IsScalar()) fail(key, "expected a single value, not a list or mapping");
  return v;
}

std::string ConfigNode::interpolate(const std::string& raw, const std::string& key) const {
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 2;
      continue;
    }
    if (raw.compare(i, 2, "${") == 0) {
      size_t close = raw.find('}', i + 2);
      if (close == std::string::npos) fail(key, "unterminated ${...} reference");
      std::string name = raw.substr(i + 2, close - i - 2);
      const char* value = std::getenv(name.c_str());
      if (!value) fail(key, "refers to environment variable " + name + ", which is not set");
      out += value;
      i = close;
      continue;
    }
    out += raw[i];
  }
  return out;
}

std::string ConfigNode::shown(const std::string& key, const std::string& value) const {
  // A value that came from ${ENV} may be a secret put under the wrong key:
  // name the reference, never the value.
  if (has(key) && node_[key].IsScalar() && node_[key].Scalar().find("${") != std::string::npos)
    return node_[key].Scalar() + " (from the environment; value not shown)";
  return "\"" + value + "\"";
}

std::optional<std::string> ConfigNode::find_string(const std::string& key) const {
  auto v = scalar(key);
  if (!v) return std::nullopt;
  return interpolate(v->Scalar(), key);
}

std::string ConfigNode::require_string(const std::string& key) const {
  auto v = find_string(key);
  if (!v || v->empty()) fail(key, "is required");
  return *v;
}

std::string ConfigNode::get_string(const std::string& key, const std::string& fallback) const {
  return find_string(key).value_or(fallback);
}

std::string ConfigNode::get_enum(const std::string& key, const std::vector<std::string>& allowed,
                                 const std::string& fallback) const {
  std::string v = get_string(key, fallback);
  for (const auto& a : allowed)
    if (a == v) return v;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  fail(key, "expected one of " + list + ", got " + shown(key, v));
}

namespace {
// The whole of `text` as a number (std::stoll or std::stod), or nullopt.
template <typename T, typename Parse>
std::optional<T> parse_whole(const std::string& text, Parse parse) {
  size_t used = 0;
  T n{};
  try {
    n = parse(text, &used);
  } catch (...) {
    return std::nullopt;
  }
  if (used == 0 || used != text.size()) return std::nullopt;
  return n;
}
}  // namespace

int64_t ConfigNode::get_int(const std::string& key, int64_t min, int64_t max, int64_t fallback) const {
  auto v = find_string(key);
  if (!v) return fallback;
  auto n = parse_whole<int64_t>(*v, [](const std::string& s, size_t* used) { return std::stoll(s, used); });
  if (!n) fail(key, "expected a whole number, got " + shown(key, *v));
  if (*n < min || *n > max)
    fail(key, "expected a number from " + std::to_string(min) + " to " + std::to_string(max) + ", got " +
                  shown(key, *v));
  return *n;
}

double ConfigNode::get_double(const std::string& key, double min, double max, double fallback) const {
  auto v = find_string(key);
  if (!v) return fallback;
  auto d = parse_whole<double>(*v, [](const std::string& s, size_t* used) { return std::stod(s, used); });
  if (!d) fail(key, "expected a number, got " + shown(key, *v));
  if (!(*d >= min && *d <= max))  // NaN too
    fail(key, "expected a number from " + std::to_string(min) + " to " + std::to_string(max) + ", got " +
                  shown(key, *v));
  return *d;
}

bool ConfigNode::get_bool(const std::string& key, bool fallback) const {
  auto v = find_string(key);
  if (!v) return fallback;
  if (*v == "true" || *v == "yes" || *v == "on") return true;
  if (*v == "false" || *v == "no" || *v == "off") return false;
  fail(key, "expected true or false, got " + shown(key, *v));
}

Duration ConfigNode::get_duration(const std::string& key, Duration min, Duration max, Duration fallback) const {
  auto v = find_string(key);
  if (!v) return fallback;
  auto d = parse_duration(*v);
  if (!d) fail(key, "expected a duration such as 500ms, 30s, 10m, 2h or 7d (at most 12 digits), got " + shown(key, *v));
  if (!(*d >= min && *d <= max))  // NaN too
    fail(key, "expected a duration from " + std::to_string(min.count()) + "ms to " + std::to_string(max.count()) +
                  "ms, got " + shown(key, *v));
  return *d;
}

std::vector<std::string> ConfigNode::get_string_list(const std::string& key) const {
  std::vector<std::string> out;
  if (!has(key)) return out;
  YAML::Node seq = node_[key];
  shared_->used.insert(key_path(key));
  if (seq.IsScalar()) return {interpolate(seq.Scalar(), key)};
  if (!seq.IsSequence()) fail(key, "expected a list of values");
  for (size_t i = 0; i < seq.size(); ++i) {
    if (!seq[i].IsScalar()) fail(key, "expected a list of plain values");
    out.push_back(interpolate(seq[i].Scalar(), key));
  }
  return out;
}

std::map<std::string, std::string> ConfigNode::get_string_map(const std::string& key) const {
  std::map<std::string, std::string> out;
  if (!has(key)) return out;
  YAML::Node map = node_[key];
  shared_->used.insert(key_path(key));
  if (map.IsNull()) return out;
  if (!map.IsMap()) fail(key, "expected a mapping of name: value");
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string name = it->first.Scalar();
    if (!it->second.IsScalar()) fail(key + "." + name, "expected a single value");
    out[name] = interpolate(it->second.Scalar(), key + "." + name);
    shared_->used.insert(key_path(key) + "." + name);
  }
  return out;
}

std::optional<std::string> ConfigNode::get_secret(const std::string& key) const {
  auto inline_value = find_string(key);
  auto file = find_string(key + "_file");
  if (inline_value && file) fail(key, "set either " + key + " or " + key + "_file, not both");
  std::optional<std::string> value = inline_value;
  if (file) {
    std::string s;
    try {
      s = read_bounded(*file, kMaxSecretBytes, "secret file");
    } catch (const std::runtime_error& e) {
      fail(key + "_file", e.what());
    }
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (s.empty()) fail(key + "_file", "secret file " + *file + " is empty");
    value = s;
  }
  if (value) shared_->secrets.push_back(*value);
  return value;
}

std::vector<std::string> ConfigNode::secrets() const { return shared_->secrets; }

void ConfigNode::collect_unknown(const YAML::Node& node, const std::string& path) const {
  if (!node.IsMap()) return;
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string k = it->first.Scalar();  // keys were checked to be scalars at load
    std::string p = path.empty() ? k : path + "." + k;
    if (!shared_->used.count(p)) throw ConfigError(shown_key(p), "unknown key (check the spelling; see config/*.yaml for examples)");
    if (it->second.IsMap()) collect_unknown(it->second, p);
    if (it->second.IsSequence())
      for (size_t i = 0; i < it->second.size(); ++i) {
        std::string ip = p + "[" + std::to_string(i) + "]";
        if (shared_->used.count(ip)) collect_unknown(it->second[i], ip);
      }
  }
}

void ConfigNode::reject_unknown_keys() const {
  if (node_) collect_unknown(node_, path_);
}

}  // namespace zf
