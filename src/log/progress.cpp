#include "log/progress.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

#include "core/time_format.h"

namespace zf::app {

namespace {

std::string duration_text(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  long s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
  if (s >= 60) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s) + "s";
}

}  // namespace

bool stderr_is_terminal() {
  const char* term = std::getenv("TERM");
  return isatty(STDERR_FILENO) && !(term && std::strcmp(term, "dumb") == 0);
}

Progress::Progress(std::string what, std::ostream& out, bool terminal, Logger& log, std::chrono::milliseconds log_every)
    : what_(std::move(what)), out_(out), terminal_(terminal), log_(log), log_every_(log_every) {}

void Progress::begin(int64_t from_s, int64_t to_s, int64_t resumed_at_s) {
  from_s_ = from_s;
  to_s_ = std::max(to_s, from_s + 1);
  resumed_at_s_ = std::clamp(resumed_at_s, from_s_, to_s_);
  started_ = last_shown_ = std::chrono::steady_clock::now();
}

std::string Progress::line(int64_t reached_s, size_t pages, size_t events) const {
  reached_s = std::clamp(reached_s, from_s_, to_s_);
  double done = static_cast<double>(reached_s - from_s_) / static_cast<double>(to_s_ - from_s_);
  // The rate of this run only: a resumed run's earlier part took no time here.
  double this_run = static_cast<double>(reached_s - resumed_at_s_) / static_cast<double>(to_s_ - from_s_);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  std::string eta = this_run > 0 ? duration_text(elapsed * (1 - done) / this_run) : "?";
  constexpr int kWidth = 24;
  int filled = static_cast<int>(done * kWidth);
  std::string percent = std::to_string(static_cast<int>(done * 100));
  return what_ + " [" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] " +
         std::string(3 - std::min<size_t>(3, percent.size()), ' ') + percent + "%  pages " + std::to_string(pages) +
         "  events " + std::to_string(events) + "  at " + format_utc_seconds(reached_s) + "  ETA " + eta;
}

void Progress::update(int64_t reached_s, size_t pages, size_t events) {
  auto now = std::chrono::steady_clock::now();
  if (terminal_) {
    if (now - last_shown_ < std::chrono::milliseconds(200) && shown_) return;
    last_shown_ = now;
    shown_ = true;
    // \r and clear-to-end: the bar is redrawn in place.
    out_ << "\r" << line(reached_s, pages, events) << "\x1b[K" << std::flush;
    return;
  }
  if (now - last_shown_ < log_every_) return;
  last_shown_ = now;
  log_.info(what_, {{"progress", line(reached_s, pages, events)}, {"pages", pages}, {"events", events}});
}

void Progress::finish(size_t pages, size_t events) {
  if (terminal_ && shown_) out_ << "\r" << line(to_s_, pages, events) << "\x1b[K\n" << std::flush;
  shown_ = false;
}

}  // namespace zf::app
