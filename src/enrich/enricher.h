#pragma once
// The enrich stage (between normalize and the sinks, when a source sets
// enrich.users): names the acting agent and the user whose profile was
// accessed, from the user directory. It never waits for the Users API: a
// record whose names are not known yet goes out without them, counted.
#include <vector>

#include "core/record.h"
#include "core/stop_signal.h"
#include "enrich/user_directory.h"

namespace zf {
class PullMetrics;
}

namespace zf::enrich {

class Enricher {
 public:
  Enricher(DirectorySettings settings, Logger& log, PullMetrics& metrics, StopSignal& stop);
  void enrich(std::vector<Record>& records);
  const UserDirectory& directory() const { return directory_; }

 private:
  UserDirectory directory_;
  PullMetrics& metrics_;
  StopSignal& stop_;
  DirectoryStats counted_;  // what the metrics already hold
  std::vector<std::string> ids_;
};

}  // namespace zf::enrich
