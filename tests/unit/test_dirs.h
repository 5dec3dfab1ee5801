#pragma once
// A fresh directory per test under the system temp dir, named after the
// test and the process, so parallel runs do not share files.
#include <unistd.h>

#include <filesystem>
#include <string>

namespace zf::testing {

inline std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("zf-unit-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace zf::testing
