#pragma once
// A minimal streaming JSON writer for the hot path: appends to one string,
// escapes strings so the output is always valid, single-line UTF-8 JSON
// (control characters as \u00XX, invalid UTF-8 replaced by U+FFFD).
#include <cstdint>
#include <string>
#include <string_view>

namespace zf::encode {

void append_json_string(std::string& out, std::string_view s);

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}
  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  JsonWriter& key(std::string_view k) {
    comma();
    append_json_string(out_, k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  JsonWriter& string(std::string_view v) {
    comma();
    append_json_string(out_, v);
    return *this;
  }
  JsonWriter& number(int64_t v) {
    comma();
    out_ += std::to_string(v);
    return *this;
  }
  // Already-valid JSON text (a minified sub-document).
  JsonWriter& raw(std::string_view json) {
    comma();
    out_ += json;
    return *this;
  }
  JsonWriter& field(std::string_view k, std::string_view v) { return key(k).string(v); }
  JsonWriter& field(std::string_view k, int64_t v) { return key(k).number(v); }

 private:
  void comma() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (need_comma_) out_ += ',';
    need_comma_ = true;
  }
  JsonWriter& open(char c) {
    comma();
    out_ += c;
    need_comma_ = false;
    return *this;
  }
  JsonWriter& close(char c) {
    out_ += c;
    need_comma_ = true;
    return *this;
  }
  std::string& out_;
  bool need_comma_ = false;
  bool after_key_ = false;
};

}  // namespace zf::encode
