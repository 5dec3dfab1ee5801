// The CSV record reader (report --input) never crashes or loops on
// arbitrary bytes: each record it returns consumes input, and a quote left
// open is an error, not a read past the end.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "commands/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> fields;
  try {
    while (true) {
      size_t before = in.size();
      if (!zf::app::next_csv_record(in, fields)) break;
      if (in.size() >= before || fields.empty()) std::abort();
    }
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
