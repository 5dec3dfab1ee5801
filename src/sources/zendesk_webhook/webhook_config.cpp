#include "sources/zendesk_webhook/webhook_config.h"

#include <algorithm>
#include <cctype>

namespace zf::source {

using namespace std::chrono_literals;

void read_webhook_source(const ConfigNode& item, WebhookSourceConfig& w) {
  w.name = item.require_string("name");
  w.account = item.require_string("account");
  auto& s = w.settings;
  std::string listen = item.require_string("listen");
  size_t colon = listen.rfind(':');
  std::string port = colon == std::string::npos ? "" : listen.substr(colon + 1);
  if (colon == 0 || port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
      std::stol(port) > 65535)
    item.fail("listen", "expected host:port, e.g. 0.0.0.0:8443, got " + item.shown("listen", listen));
  s.host = listen.substr(0, colon);
  s.port = static_cast<uint16_t>(std::stol(port));
  s.path = item.get_string("path", s.path);
  if (s.path.empty() || s.path[0] != '/') item.fail("path", "must start with /, got " + item.shown("path", s.path));
  // Two while rotating: the new one and the one Zendesk may still sign with.
  for (const char* key : {"signing_secret", "previous_signing_secret"})
    if (auto secret = item.get_secret(key)) s.secrets.push_back(*secret);
  if (s.secrets.empty())
    item.fail("signing_secret", "is required (or signing_secret_file): the webhook's signing secret from Zendesk");
  ConfigNode tls = item.child("tls");
  s.tls_cert_file = tls.get_string("cert_file", "");
  s.tls_key_file = tls.get_string("key_file", "");
  if (s.tls_cert_file.empty() != s.tls_key_file.empty())
    tls.fail(s.tls_cert_file.empty() ? "cert_file" : "key_file", "goes with the other: give cert_file and key_file");
  tls.reject_unknown_keys();
  s.max_body_bytes = static_cast<size_t>(item.get_int("max_body_size_kib", 1, 65536, 1024)) << 10;
  // What the listener may hold for requests across every connection: the
  // bound on its memory whatever unauthenticated clients send.
  s.max_buffered_bytes = static_cast<size_t>(item.get_int("max_buffered_mib", 1, 65536,
                                                           static_cast<int64_t>(s.max_buffered_bytes >> 20))) << 20;
  // A request over 64 KiB may use 7/8 of the budget (the rest is kept for
  // small pushes): the largest allowed body and its head must fit there.
  if (s.max_buffered_bytes - s.max_buffered_bytes / 8 < s.max_body_bytes + (16 << 10))
    item.fail("max_buffered_mib", "must hold one request of max_body_size_kib (" +
                                      std::to_string(s.max_body_bytes >> 10) +
                                      " KiB) and its head in 7/8 of it (the rest is kept for small pushes)");
  s.max_connections_per_ip = static_cast<size_t>(item.get_int("max_connections_per_ip", 0, 1'000'000, 0));
  s.timestamp_tolerance = std::chrono::duration_cast<std::chrono::seconds>(
      item.get_duration("timestamp_tolerance", 10s, 1h, 5min));
  s.ack_timeout = item.get_duration("ack_timeout", 100ms, 60s, s.ack_timeout);
  ConfigNode checkpoint = item.child("checkpoint");
  w.checkpoint_path = checkpoint.require_string("path");
  w.max_ids = static_cast<size_t>(checkpoint.get_int("max_ids", 1000, 100'000'000, static_cast<int64_t>(w.max_ids)));
  checkpoint.reject_unknown_keys();
  item.reject_unknown_keys();
}

}  // namespace zf::source
