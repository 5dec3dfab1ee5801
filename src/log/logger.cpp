#include "log/logger.h"

#include <chrono>
#include <ctime>

namespace zf {

namespace {
const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
  }
  return "info";
}

std::string now_rfc3339_ms() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = ms / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}
}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view text) {
  if (text == "debug") return LogLevel::Debug;
  if (text == "info") return LogLevel::Info;
  if (text == "warn" || text == "warning") return LogLevel::Warn;
  if (text == "error") return LogLevel::Error;
  return std::nullopt;
}

Logger::Logger(std::ostream& out, LogLevel level) : out_(out), level_(level) {}

Logger::Logger(Logger& parent, nlohmann::json context)
    : out_(parent.out_), level_(parent.level_), parent_(&parent), context_(std::move(context)) {}

void Logger::set_level(LogLevel level) { level_ = level; }

void Logger::add_secrets(const std::vector<std::string>& secrets) {
  std::lock_guard lock(mu_);
  for (const auto& s : secrets)
    if (s.size() >= 4) secrets_.push_back(s);
}

std::string Logger::redact(std::string text) const {
  for (const auto& secret : secrets_) {
    for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos))
      text.replace(pos, secret.size(), "[REDACTED]");
  }
  return text;
}

// Redacts every string inside `v` before it is JSON-escaped: a secret with
// a quote or backslash is written escaped, and a search for the raw
// secret in the escaped text would miss it.
void Logger::redact_strings(nlohmann::json& v) const {
  if (v.is_string()) {
    v = redact(v.get<std::string>());
  } else if (v.is_structured()) {
    for (auto& child : v) redact_strings(child);
  }
}

void Logger::log(LogLevel level, std::string_view msg, const nlohmann::json& fields) {
  if (!enabled(level)) return;
  if (parent_) {
    nlohmann::json merged = context_;
    if (fields.is_object()) merged.update(fields);
    parent_->log(level, msg, merged);
    return;
  }
  nlohmann::json line = {{"ts", now_rfc3339_ms()}, {"level", level_name(level)}, {"msg", msg}};
  if (fields.is_object())
    for (auto it = fields.begin(); it != fields.end(); ++it) line[it.key()] = it.value();
  std::lock_guard lock(mu_);
  redact_strings(line);
  // Invalid UTF-8 from a remote body must not make logging throw.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // Once more over the output: a secret split across a key and its value,
  // or in a key, is still caught when it needs no escaping.
  out_ << redact(std::move(text)) << '\n';
  out_.flush();
}

}  // namespace zf
