// The syslog formatters, golden-tested without a socket.
#include <doctest/doctest.h>

#include "encode/cef.h"
#include "encode/encoder.h"

#include "syslog/format.h"

using namespace zf;
using namespace zf::sinks::syslog;

namespace {
Record sample() {
  Record r;
  r.event.id = "01H6PWD1WQFC6EYJCJWFJ59EVE";
  r.event.timestamp = "2020-01-01T13:01:26.000Z";
  r.event.timestamp_ms = 1577883686000;
  r.event.user_id = "123";
  r.event.method = "GET";
  r.event.status = 200;
  r.event.url = "/api/v2/tickets/1.json";
  r.event.action = "ticket.read";
  r.event.resource.type = "ticket";
  r.event.resource.id = "1";
  r.event.account = "acme";
  r.json = "{\"event\":{\"id\":\"01H6PWD1WQFC6EYJCJWFJ59EVE\"}}";
  return r;
}
FormatSettings settings() {
  FormatSettings s;
  s.hostname = "fwd-1";
  return s;
}
}  // namespace

TEST_CASE("rfc5424: golden message with structured data and the record as MSG") {
  CHECK(format_message(sample(), settings()) ==
        "<110>1 2020-01-01T13:01:26.000Z fwd-1 zendesk-forwarder - access "
        "[zendesk@32473 id=\"01H6PWD1WQFC6EYJCJWFJ59EVE\" account=\"acme\" user=\"123\" method=\"GET\" "
        "status=\"200\" action=\"ticket.read\" resource_type=\"ticket\" resource_id=\"1\" "
        "url=\"/api/v2/tickets/1.json\" schema=\"2\"] {\"event\":{\"id\":\"01H6PWD1WQFC6EYJCJWFJ59EVE\"}}");
}

TEST_CASE("rfc5424: severity follows the HTTP status when by_status") {
  auto r = sample();
  r.event.status = 404;
  CHECK(format_message(r, settings()).rfind("<108>1 ", 0) == 0);  // audit(13)*8 + warning(4)
  r.event.status = 503;
  CHECK(format_message(r, settings()).rfind("<107>1 ", 0) == 0);  // err(3)
  auto fixed = settings();
  fixed.severity_by_status = false;
  fixed.severity = 5;
  fixed.facility = 16;
  CHECK(format_message(r, fixed).rfind("<133>1 ", 0) == 0);
}

TEST_CASE("rfc5424: SD-PARAM escaping of \" \\ ] and control characters can never split a message") {
  CHECK(escape_sd_param("a\"b\\c]d") == "a\\\"b\\\\c\\]d");
  CHECK(escape_sd_param("x\ny\rz\t\x01") == "x\\\\ny\\\\rz\\\\t\\\\u0001");
  CHECK(escape_sd_param(std::string("nul\0end", 7)) == "nul\\\\u0000end");
  auto r = sample();
  r.event.url = "/api/v2/search?query=\"]\n<13>1 forged - - - - injected\r\n";
  std::string msg = format_message(r, settings());
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(msg.find('\r') == std::string::npos);
  CHECK(msg.find("\\]\\\\n<13>1 forged") != std::string::npos);
}

TEST_CASE("header fields are printable ASCII without spaces") {
  CHECK(header_token("my host\n", 255) == "my_host_");
  CHECK(header_token("", 48) == "-");
  CHECK(header_token(std::string(60, 'a'), 48).size() == 48);
}

TEST_CASE("cef: header and extension escaping, CR/LF never raw") {
  CHECK(encode::escape_cef_header("a|b\\c\nd") == "a\\|b\\\\c d");
  CHECK(encode::escape_cef_value("a=b\\c\nd\re\x01") == "a\\=b\\\\c\\nd\\re ");
  auto r = sample();
  r.event.url = "/x?q=a=b|c\nd";
  auto s = settings();
  s.encoding = encode::Encoding::Cef;
  std::string msg = format_message(r, s);
  CHECK(msg.find("- CEF:0|Zendesk|Access Logs|2|ticket.read|Zendesk access: ticket.read|3|rt=1577883686000 "
                 "externalId=01H6PWD1WQFC6EYJCJWFJ59EVE suid=123 requestMethod=GET request=/x?q\\=a\\=b|c\\nd ") !=
        std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
}

TEST_CASE("udp: a long message is cut inside MSG only, at a UTF-8 boundary, keeping the SD") {
  auto r = sample();
  r.json = "{\"u\":\"" + std::string(3000, 'x') + "\xc3\xa9\"}";
  bool cut = false;
  std::string msg = format_message_within(r, settings(), 1024, cut);
  CHECK(cut);
  CHECK(msg.size() <= 1024);
  CHECK(msg.find("[zendesk@32473 id=\"01H6PWD1WQFC6EYJCJWFJ59EVE\"") != std::string::npos);
  CHECK(msg.find(']') != std::string::npos);
  std::string fits = format_message_within(sample(), settings(), 1024, cut);
  CHECK_FALSE(cut);
  CHECK(fits == format_message(sample(), settings()));
}

TEST_CASE("framing: octet counting prefixes the byte length; LF appends a newline") {
  std::string out;
  append_framed(out, "héllo", Framing::OctetCounting);
  CHECK(out == "6 héllo");
  out.clear();
  append_framed(out, "x", Framing::LineFeed);
  CHECK(out == "x\n");
}

TEST_CASE("cef (#21): a value ending in '|' keeps the space before the next key") {
  Record r = sample();
  r.event.url = "/api/v2/search?query=a|";
  std::string m = format_message(r, {.encoding = encode::Encoding::Cef});
  CAPTURE(m);
  CHECK(m.find("request=/api/v2/search?query\\=a| outcome=") != std::string::npos);
  CHECK(m.find("|outcome=") == std::string::npos);
}

TEST_CASE("rfc5424 (#22): the SD url is cut at 512 bytes on a UTF-8 boundary, never inside a character") {
  Record r = sample();
  for (size_t pad = 0; pad < 4; ++pad) {
    r.event.url = "/api/v2/search?query=" + std::string(490 + pad, 'a');
    while (r.event.url.size() < 600) r.event.url += "\xE2\x82\xAC";  // U+20AC, 3 bytes
    std::string m = format_message(r, {});
    auto at = m.find("url=\"");
    REQUIRE(at != std::string::npos);
    std::string sd_url = m.substr(at + 5, m.find('"', at + 5) - at - 5);
    CAPTURE(pad);
    CHECK(sd_url.size() <= kSdUrlMaxBytes);
    CHECK(sd_url.size() > kSdUrlMaxBytes - 3);
    CHECK(r.event.url.compare(0, sd_url.size(), sd_url) == 0);          // a prefix...
    CHECK((static_cast<unsigned char>(r.event.url[sd_url.size()]) & 0xC0) != 0x80);  // ...ending on a boundary
  }
}

TEST_CASE("encoders (#13): ecs_json is the record itself, byte for byte; syslog's CEF MSG is the cef encoder's") {
  Record r = sample();
  std::string scratch;
  std::string_view ecs = encode::encode(encode::Encoding::EcsJson, r, scratch);
  CHECK(ecs == r.json);
  CHECK(ecs.data() == r.json.data());  // not copied
  std::string_view cef = encode::encode(encode::Encoding::Cef, r, scratch);
  CHECK(cef ==
        "CEF:0|Zendesk|Access Logs|2|ticket.read|Zendesk access: ticket.read|3|rt=1577883686000 "
        "externalId=01H6PWD1WQFC6EYJCJWFJ59EVE suid=123 requestMethod=GET request=/api/v2/tickets/1.json "
        "outcome=success cn1Label=httpStatus cn1=200 cs1Label=resourceType cs1=ticket cs2Label=resourceId cs2=1 "
        "cs3Label=zendeskAccount cs3=acme");
  auto s = settings();
  s.encoding = encode::Encoding::Cef;
  std::string msg = format_message(r, s);
  CHECK(msg.substr(msg.size() - cef.size()) == cef);
  for (int status : {404, 503}) {
    r.event.status = status;
    std::string by_status = encode::cef(r.event);
    CHECK(format_message(r, s).find(by_status) != std::string::npos);
  }
}
