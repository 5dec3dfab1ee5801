#pragma once
// An HTTP/1.x request head (request line and headers, up to the blank
// line), parsed strictly (RFC 9112): the one parser of the one HTTP server,
// for the webhook and the metrics endpoint alike, and the fuzz target's
// subject (tests/fuzz/http_head_fuzz.cpp). Pure: an error is a status and
// a reason for the answer.
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace zf::net {

struct ServerRequest {
  std::string method, path;  // path without the query
  std::string query;         // after the '?', "" when none
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

struct RequestHead {
  ServerRequest request;  // without the body
  size_t content_length = 0;
  bool keep_alive = true;
  bool expect_continue = false;
};
struct HeadError {
  int status;
  std::string why;
};
// `methods`: the methods the server answers at all; another is refused
// with 405 before anything else is judged (a POST without a length to a
// GET-only server is a wrong method, not a missing length). Empty: any.
std::variant<RequestHead, HeadError> parse_request_head(std::string_view head,
                                                        const std::vector<std::string>& methods = {});

}  // namespace zf::net
