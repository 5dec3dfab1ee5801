// The text neutralizer (report and terminal CSV) on arbitrary bytes: what
// printable() and html_text() return never holds a control, bidi or
// zero-width character nor an invalid UTF-8 byte, and html_text() no markup
// character; shortened() never cuts inside a UTF-8 sequence.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "commands/safe_text.h"

namespace {

// Aborts when `s` is not valid UTF-8 or holds a hidden control.
void check_clean(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80 ? 1 : b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 0;
    if (n == 0 || i + n > s.size()) std::abort();
    char32_t cp = n == 1 ? b : b & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < n; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) std::abort();
      cp = (cp << 6) | (c & 0x3F);
    }
    if (zf::app::is_hidden_control(cp)) std::abort();
    i += n;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_clean(zf::app::printable(in));
  std::string html = zf::app::html_text(in);
  check_clean(html);
  if (html.find_first_of("<>\"'") != std::string::npos) std::abort();
  std::string visible = zf::app::visible(in);
  check_clean(visible);
  std::string cut = zf::app::shortened(visible, size % 50);
  check_clean(cut);
  return 0;
}
