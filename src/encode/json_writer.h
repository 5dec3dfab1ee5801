#pragma once
// A minimal streaming JSON writer for the hot path: appends to one string,
// escapes strings so the output is always valid, single-line UTF-8 JSON
// (control characters as \u00XX, invalid UTF-8 replaced by U+FFFD).
//
// Every record is written through it at least once (ECS in the shape
// stage), so it writes through a pointer into room made ahead in the
// string rather than a call to append per piece: those calls were a fifth
// of a backfill's time (docs/OPERATIONS.md, "Where a backfill's time
// goes"). While a document is open the string may be longer than what was
// written (zero bytes past it); it holds exactly the JSON once the
// outermost value is complete, and when the writer goes away.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace zf::encode {

void append_json_string(std::string& out, std::string_view s);

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out), len_(out.size()) {}
  ~JsonWriter() { settle(); }
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  // A key spelled in the source code: a plain name (letters, digits, '_',
  // '@'), which needs no escaping, so it is copied as it is.
  template <size_t N>
  JsonWriter& key(const char (&k)[N]) {
    char* p = room(N + 3);
    char* start = p;
    if (char c = separator()) *p++ = c;
    *p++ = '"';
    std::memcpy(p, k, N - 1);
    p += N - 1;
    *p++ = '"';
    *p++ = ':';
    len_ += static_cast<size_t>(p - start);
    after_key_ = true;
    return *this;
  }
  // Any other key (an event's own field names): escaped.
  JsonWriter& key(std::string_view k) {
    quoted(k, separator());
    *room(1) = ':';
    ++len_;
    after_key_ = true;
    return *this;
  }
  JsonWriter& string(std::string_view v) {
    quoted(v, separator());
    return value_done();
  }
  JsonWriter& number(int64_t v);
  // Already-valid JSON text (a minified sub-document).
  JsonWriter& raw(std::string_view json) {
    char* p = room(json.size() + 1);
    char* start = p;
    if (char c = separator()) *p++ = c;
    std::memcpy(p, json.data(), json.size());
    len_ += static_cast<size_t>(p - start) + json.size();
    return value_done();
  }
  template <size_t N>
  JsonWriter& field(const char (&k)[N], std::string_view v) { return key(k).string(v); }
  template <size_t N>
  JsonWriter& field(const char (&k)[N], int64_t v) { return key(k).number(v); }
  JsonWriter& field(std::string_view k, std::string_view v) { return key(k).string(v); }
  JsonWriter& field(std::string_view k, int64_t v) { return key(k).number(v); }

 private:
  // What goes before the next value or key: ',' between members, nothing
  // after a key or first in a container.
  char separator() {
    if (after_key_) {
      after_key_ = false;
      return 0;
    }
    bool comma = need_comma_;
    need_comma_ = true;
    return comma ? ',' : 0;
  }
  // Where the next n bytes go.
  char* room(size_t n) {
    if (out_.size() - len_ < n) grow(n);
    return out_.data() + len_;
  }
  void grow(size_t n);
  // The string cut to what was written, once a top-level value is complete.
  void settle();
  JsonWriter& value_done() {
    if (depth_ == 0) settle();
    return *this;
  }
  void quoted(std::string_view s, char lead);
  // Inlined always: a record has some forty of each, and as calls they
  // cost as much as the bytes they write.
  [[gnu::always_inline]] JsonWriter& open(char c) {
    char* p = room(2);
    char* start = p;
    if (char s = separator()) *p++ = s;
    *p++ = c;
    len_ += static_cast<size_t>(p - start);
    need_comma_ = false;
    ++depth_;
    return *this;
  }
  [[gnu::always_inline]] JsonWriter& close(char c) {
    *room(1) = c;
    ++len_;
    need_comma_ = true;
    --depth_;
    return value_done();
  }

  std::string& out_;
  size_t len_;  // bytes of out_ written (out_.size() may run ahead while a document is open)
  int depth_ = 0;
  bool need_comma_ = false;
  bool after_key_ = false;
};

}  // namespace zf::encode
