#include <doctest/doctest.h>

#include <sstream>

#include "log/progress.h"

using zf::app::Progress;

TEST_CASE("progress: the bar shows the share of the period covered, pages, events and the position") {
  std::ostringstream out, logs;
  zf::Logger log(logs);
  Progress p("listing", out, true, log);
  p.begin(1000, 2000, 1000);
  std::string line = p.line(1250, 3, 7500);
  CHECK(line.rfind("listing [######..................]  25%  pages 3  events 7500  at ", 0) == 0);
  CHECK(line.find("ETA ") != std::string::npos);
  CHECK(p.line(5000, 9, 9).find("[########################] 100%") != std::string::npos);  // clamped
}

TEST_CASE("progress: on a terminal the bar is redrawn in place and ends with a newline") {
  std::ostringstream out, logs;
  zf::Logger log(logs);
  Progress p("listing", out, true, log);
  p.begin(0, 100, 0);
  p.update(50, 1, 10);
  p.finish(2, 20);
  std::string text = out.str();
  CHECK(text.rfind("\rlisting [", 0) == 0);
  CHECK(text.find(" 50%") != std::string::npos);
  CHECK(text.find("100%  pages 2  events 20") != std::string::npos);
  CHECK(text.back() == '\n');
  CHECK(logs.str().empty());
}

TEST_CASE("progress: without a terminal it logs a line per interval and draws nothing") {
  std::ostringstream out, logs;
  zf::Logger log(logs);
  Progress p("listing", out, false, log, std::chrono::milliseconds(0));
  p.begin(0, 100, 0);
  p.update(50, 1, 10);
  p.finish(2, 20);
  CHECK(out.str().empty());
  CHECK(logs.str().find("\"progress\":\"listing [############............]  50%") != std::string::npos);
}

TEST_CASE("progress: a resumed run's ETA counts only what this run covered") {
  std::ostringstream out, logs;
  zf::Logger log(logs);
  Progress p("listing", out, true, log);
  p.begin(0, 100, 90);  // 90% was listed before the resume
  CHECK(p.line(90, 0, 0).find("ETA ?") != std::string::npos);  // no rate yet
}
