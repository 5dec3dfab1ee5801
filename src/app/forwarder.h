#pragma once
#include "app/app_config.h"
#include "core/clock.h"
#include "core/stop_signal.h"
#include "log/logger.h"

namespace zf::app {

// Assembles source -> normalize -> sinks with the checkpoint, runs until
// `stop` (or, with `once`, until everything up to now is delivered), then
// flushes and commits. Returns the process exit code (0 ok, 1 fatal).
// `clock` decides what is due (tests pass a ManualClock).
int run_forwarder(const AppConfig& config, bool once, Logger& log, StopSignal& stop,
                  const Clock& clock = real_clock());

}  // namespace zf::app
