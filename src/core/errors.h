#pragma once
// Errors carry context: what failed, where, and what the operator can do.
// Exceptions are used while loading config and starting up (Envoy's rule);
// on the data path, likely failures (network, bad data) are values.
#include <stdexcept>
#include <string>

namespace zf {

// A config value is wrong. `key` is the dotted path of the offending key
// (e.g. "sinks[1].kafka.topic") so the message always names it.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string key, const std::string& problem)
      : std::runtime_error("config: " + key + ": " + problem), key_(std::move(key)) {}
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

// Something the process cannot continue past (corrupt checkpoint, lock held,
// a sink rejecting data permanently). main() prints it and exits non-zero.
class FatalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace zf
