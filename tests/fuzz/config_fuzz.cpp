// Config loading either succeeds or throws ConfigError: no crash, no other
// exception type, whatever the YAML holds.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "app/app_config.h"
#include "config/config_node.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  try {
    (void)zf::app::load_config(zf::ConfigNode::load_string(yaml));
  } catch (const zf::ConfigError&) {
  }
  return 0;
}
