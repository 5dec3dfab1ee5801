#pragma once
// How far a long listing is, for the person waiting on it: a bar redrawn in
// place (pages, events, percent, ETA) when stderr is a terminal, a log line
// every `log_every` otherwise (a CronJob's log must not fill with bars).
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

#include "log/logger.h"

namespace zf::app {

class Progress {
 public:
  // `terminal`: draw on `out` (normally stderr, when isatty).
  Progress(std::string what, std::ostream& out, bool terminal, Logger& log,
           std::chrono::milliseconds log_every = std::chrono::seconds(10));

  // The span to cover, [from, to) in unix seconds, and where this run
  // starts in it (after a resume, not `from`): the ETA counts from there.
  void begin(int64_t from_s, int64_t to_s, int64_t resumed_at_s);
  void update(int64_t reached_s, size_t pages, size_t events);
  void finish(size_t pages, size_t events);

  // The line the bar shows, for tests and for the log: "[####......]  42%  ...".
  std::string line(int64_t reached_s, size_t pages, size_t events) const;

 private:
  std::string what_;
  std::ostream& out_;
  bool terminal_;
  Logger& log_;
  std::chrono::milliseconds log_every_;
  int64_t from_s_ = 0, to_s_ = 1, resumed_at_s_ = 0;
  std::chrono::steady_clock::time_point started_, last_shown_;
  bool shown_ = false;
};

// stderr is a terminal that can redraw a line.
bool stderr_is_terminal();

}  // namespace zf::app
