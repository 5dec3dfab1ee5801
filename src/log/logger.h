#pragma once
// Structured logs: one JSON object per line on a stream (stderr by default),
// with a level. Every line passes through redaction of the registered
// secret values, so a credential can never reach the log, at any level.
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace zf {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

std::optional<LogLevel> parse_log_level(std::string_view text);

class Logger {
 public:
  explicit Logger(std::ostream& out, LogLevel level = LogLevel::Info);
  // Writes through `parent` (its level, secrets and stream), adding
  // `context` (e.g. {"source": name}) to every line.
  Logger(Logger& parent, nlohmann::json context);

  void set_level(LogLevel level);
  bool enabled(LogLevel level) const { return parent_ ? parent_->enabled(level) : level >= level_; }
  // Values that must never appear in output. Short values (< 4 chars) are
  // ignored: redacting them would shred ordinary words.
  void add_secrets(const std::vector<std::string>& secrets);

  void log(LogLevel level, std::string_view msg, const nlohmann::json& fields = {});
  void debug(std::string_view msg, const nlohmann::json& fields = {}) { log(LogLevel::Debug, msg, fields); }
  void info(std::string_view msg, const nlohmann::json& fields = {}) { log(LogLevel::Info, msg, fields); }
  void warn(std::string_view msg, const nlohmann::json& fields = {}) { log(LogLevel::Warn, msg, fields); }
  void error(std::string_view msg, const nlohmann::json& fields = {}) { log(LogLevel::Error, msg, fields); }

  std::string redact(std::string text) const;

 private:
  void redact_strings(nlohmann::json& v) const;

  std::ostream& out_;
  LogLevel level_;
  Logger* parent_ = nullptr;
  nlohmann::json context_;
  mutable std::mutex mu_;
  std::vector<std::string> secrets_;
};

}  // namespace zf
