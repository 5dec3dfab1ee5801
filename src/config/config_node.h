#pragma once
// Typed, validated access to one section of the YAML config. Every error is
// a ConfigError that names the full key path and what was expected.
//
//   ConfigNode root = ConfigNode::load_file(path);
//   auto size = root.child("zendesk").get_int("page_size", 1, 2500, 2500);
//   root.reject_unknown_keys();   // after everything was read
//
// Strings get `${NAME}` replaced by the environment variable NAME (an unset
// variable is an error naming the key; `$${` writes a literal `${`).
// Secrets are read with get_secret("token"), which accepts either `token`
// or `token_file` (file contents, trailing newline trimmed) and records the
// value so that the logger can redact it.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/errors.h"

namespace zf {

using Duration = std::chrono::milliseconds;

// Parses "250ms", "30s", "10m", "2h", "7d" (a bare integer means seconds).
// Returns nullopt on anything else.
// Overflow is not a duration: nullopt.
std::optional<Duration> parse_duration(const std::string& text);

// The file's content; throws std::runtime_error naming `what` and the path
// when it cannot be read or is larger than max_bytes (a config pointing at
// /dev/zero must not eat the memory).
std::string read_bounded(const std::string& path, size_t max_bytes, const std::string& what);

class ConfigNode {
 public:
  static ConfigNode load_file(const std::string& path);
  static ConfigNode load_string(const std::string& yaml, const std::string& origin = "<string>");

  const std::string& path() const { return path_; }
  // The file the root was read from ("<string>" for load_string's default).
  const std::string& origin() const { return shared_->origin; }
  bool has(const std::string& key) const;
  bool is_null() const { return !node_ || node_.IsNull(); }

  // A mapping below this one; an absent key yields an empty node whose
  // getters return their defaults.
  ConfigNode child(const std::string& key) const;
  // A sequence of mappings, e.g. `sinks`; an absent key yields {}.
  std::vector<ConfigNode> items(const std::string& key) const;

  std::string require_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::optional<std::string> find_string(const std::string& key) const;
  // One of `allowed`, or an error listing them.
  std::string get_enum(const std::string& key, const std::vector<std::string>& allowed,
                       const std::string& fallback) const;
  int64_t get_int(const std::string& key, int64_t min, int64_t max, int64_t fallback) const;
  double get_double(const std::string& key, double min, double max, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  Duration get_duration(const std::string& key, Duration min, Duration max, Duration fallback) const;
  std::vector<std::string> get_string_list(const std::string& key) const;
  // A flat map of scalars (e.g. librdkafka properties), env-interpolated.
  std::map<std::string, std::string> get_string_map(const std::string& key) const;

  // The YAML value of `key` as it is (nothing checked), marked as read: for
  // sections this node does not read itself (e.g. `sources` read entry by
  // entry through adopt()). An absent key yields a null node.
  YAML::Node raw(const std::string& key) const;

  // A mapping from elsewhere (another file, or an entry to merge with
  // defaults) read as part of this config: it shares the record of keys
  // read and of secrets. `defaults` is deep-merged beneath `own` (own wins;
  // mappings merge key by key; lists and values are replaced whole). Errors
  // name `path` (unique, e.g. sources[acme]) and `file` when given, as in
  // "sources[acme] (accounts/acme.yaml): rate_limit.requests"; a key that
  // came from `defaults` is named there instead, as in
  // "defaults.rate_limit.requests (for sources[acme])".
  ConfigNode adopt(const YAML::Node& own, const std::string& path, const std::string& file = "",
                   const YAML::Node& defaults = YAML::Node(), const std::string& defaults_path = "defaults") const;

  // A YAML file of any shape (list or mapping) with the same checks and
  // bounds as the config file itself; errors name `shown_as`.
  static YAML::Node parse_file(const std::string& path, const std::string& shown_as);

  // `key` or `key_file`, not both. nullopt when neither is present.
  std::optional<std::string> get_secret(const std::string& key) const;

  // Throws a ConfigError for the first key anywhere below this node that no
  // getter asked for (typos must not be silently ignored).
  void reject_unknown_keys() const;

  // Marks a value read some other way (e.g. a librdkafka password property)
  // as secret.
  void add_secret(const std::string& value) const { shared_->secrets.push_back(value); }
  // Secret values read so far, for the logger's redaction list.
  std::vector<std::string> secrets() const;

  // Throws ConfigError for this node's key (for sink-specific checks).
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;
  std::string key_path(const std::string& key) const;
  // `value` as an error message may show it: quoted, or only the ${NAME}
  // it came from (it could be a secret under the wrong key).
  std::string shown(const std::string& key, const std::string& value) const;

 private:
  struct Shared {
    std::set<std::string> used;        // full key paths that were read
    std::vector<std::string> secrets;
    std::string origin;
    // Full key paths of values merged in from defaults -> how errors name them.
    std::map<std::string, std::string> inherited;
  };
  ConfigNode(YAML::Node node, std::string path, std::shared_ptr<Shared> shared);
  std::optional<YAML::Node> scalar(const std::string& key) const;
  std::string interpolate(const std::string& raw, const std::string& key) const;
  void collect_unknown(const YAML::Node& node, const std::string& path) const;
  // How an error names the full key path `full`.
  std::string shown_key(const std::string& full) const;

  YAML::Node node_;
  std::string path_;
  std::shared_ptr<Shared> shared_;
  // Set below adopt(): the adopted entry's path and file, for error names.
  std::string entry_path_;
  std::string entry_file_;
};

}  // namespace zf
