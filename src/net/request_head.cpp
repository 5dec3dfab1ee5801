#include "net/request_head.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace zf::net {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 tchar: what a method and a header name are made of. Anything
// else there (whitespace before the colon, an obs-fold continuation line
// starting with whitespace) is refused: two parsers that disagree on
// such a head are how requests are smuggled past a proxy.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr) || c == 0) return false;
  return true;
}

// A field value: visible characters, spaces and tabs, and obs-text; no
// CR, LF, NUL or other control characters (RFC 9110 5.5).
bool is_field_value(std::string_view s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  return true;
}

}  // namespace

std::variant<RequestHead, HeadError> parse_request_head(std::string_view head, const std::vector<std::string>& methods) {
  RequestHead out;
  // Lines end with CRLF only: a bare CR or LF, or a NUL anywhere, is
  // refused rather than guessed at (RFC 9112 2.2).
  for (size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\0') return HeadError{400, "NUL in the request head"};
    if (head[i] == '\r' && (i + 1 >= head.size() || head[i + 1] != '\n')) return HeadError{400, "bare CR in the request head"};
    if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) return HeadError{400, "bare LF in the request head"};
  }
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return HeadError{400, "malformed request line"};
  std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                   version = line.substr(sp2 + 1);
  if (!is_token(method) || target.empty() || target[0] != '/' || !is_field_value(target) ||
      target.find_first_of(" \t") != std::string_view::npos)
    return HeadError{400, "malformed request line"};
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return HeadError{400, "only HTTP/1.x"};
  if (!methods.empty() && std::find(methods.begin(), methods.end(), method) == methods.end())
    return HeadError{405, "method not allowed"};
  out.request.method = std::string(method);
  size_t question = target.find('?');
  out.request.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) out.request.query = std::string(target.substr(question + 1));
  out.keep_alive = version == "HTTP/1.1";
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  bool has_length = false;
  while (!rest.empty()) {
    size_t end = rest.find("\r\n");
    std::string_view h = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    if (h.empty()) continue;
    if (h.front() == ' ' || h.front() == '\t') return HeadError{400, "folded header line (obs-fold)"};
    size_t colon = h.find(':');
    if (colon == std::string_view::npos || !is_token(h.substr(0, colon))) return HeadError{400, "malformed header"};
    if (!is_field_value(h.substr(colon + 1))) return HeadError{400, "control character in a header value"};
    std::string name = lower(h.substr(0, colon));
    std::string value(trim(h.substr(colon + 1)));
    if (name == "content-length") {
      if (value.empty() || value.size() > 18 || !std::all_of(value.begin(), value.end(), ::isdigit) ||
          (has_length && std::stoull(value) != out.content_length))
        return HeadError{400, "bad Content-Length"};
      out.content_length = std::stoull(value);
      has_length = true;
    } else if (name == "transfer-encoding") {
      return HeadError{411, "chunked bodies are not accepted; send Content-Length"};
    } else if (name == "connection") {
      std::string v = lower(value);
      if (v == "close") out.keep_alive = false;
      if (v == "keep-alive") out.keep_alive = true;
    } else if (name == "expect") {
      if (lower(value) != "100-continue") return HeadError{400, "unsupported Expect"};
      out.expect_continue = true;
    }
    auto [it, fresh] = out.request.headers.emplace(name, value);
    if (!fresh) it->second += ", " + value;
  }
  if (out.request.method == "POST" && !has_length) return HeadError{411, "Content-Length is required"};
  return out;
}

}  // namespace zf::net
