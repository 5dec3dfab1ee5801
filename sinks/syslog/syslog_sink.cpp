// Syslog sink: RFC 5424 (or CEF) messages over UDP, TCP, TLS or RELP. One
// worker thread writes batches in order; a batch is acknowledged once
// written (and, on TCP/TLS, once the connection is still open after the
// write); over RELP, once the receiver answered every message of it. On a
// broken connection the batch is acknowledged Retriable and sent again
// after a reconnect: duplicates are possible, loss is not (docs/SYSLOG.md).
#include "syslog/syslog_sink.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include "core/durable_file.h"
#include "encode/encoder.h"
#include "log/logger.h"
#include "syslog/format.h"
#include "syslog/relp.h"
#include "syslog/transport.h"
#include "util/serial_worker.h"

namespace zf::sinks::syslog {

namespace {

struct Settings {
  FormatSettings format;
  TransportSettings transport;
  Framing framing = Framing::OctetCounting;
  size_t max_message_bytes = 2048;  // UDP only
  // UDP has no flow control: sent faster than the receiver reads, datagrams
  // are dropped silently. Above the API's maximum rate (2,083/s), so only a
  // backfill is paced. 0 = no cap.
  int udp_max_messages_per_second = 2500;
  bool relp = false;  // RELP session over the TCP or TLS transport
  size_t relp_window = 1024;
  // A message the receiver refused this many times is poison: without a
  // dead-letter file the sink fails Permanent (the pipeline stops), with
  // one the message is written there and counted as delivered.
  int relp_max_refusals = 10;
  std::string relp_dead_letter_file;
};

// How many batches with messages not yet taken the RELP sink remembers; a
// batch it forgot is sent whole again (duplicates, never loss).
constexpr size_t kMaxRelpProgress = 256;

const std::vector<std::string> kFacilities = {"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
                                              "uucp", "cron", "authpriv", "ftp", "ntp", "audit", "alert", "clock",
                                              "local0", "local1", "local2", "local3", "local4", "local5", "local6",
                                              "local7"};
const std::vector<std::string> kSeverities = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};

class SyslogSink final : public Sink {
 public:
  SyslogSink(Settings s, const SinkContext& ctx)
      : s_(std::move(s)),
        log_(ctx.log),
        name_(ctx.name),
        transport_(make_transport(s_.transport)),
        truncated_(prometheus::BuildCounter()
                       .Name("zendesk_forwarder_syslog_truncated_total")
                       .Help("Messages cut to fit syslog.max_message_bytes (UDP).")
                       .Register(ctx.metrics)
                       .Add({{"sink", ctx.name}})),
        relp_refused_(prometheus::BuildCounter()
                          .Name("zendesk_forwarder_syslog_relp_refused_total")
                          .Help("Messages the RELP receiver answered with another status than 200 (each is sent "
                                "again, up to syslog.relp_max_refusals times).")
                          .Register(ctx.metrics)
                          .Add({{"sink", ctx.name}})),
        dead_letters_(prometheus::BuildCounter()
                          .Name("zendesk_forwarder_syslog_dead_letters_total")
                          .Help("Messages the RELP receiver refused syslog.relp_max_refusals times, written to "
                                "syslog.relp_dead_letter_file instead of the receiver.")
                          .Register(ctx.metrics)
                          .Add({{"sink", ctx.name}})),
        relp_(*transport_, s_.transport.write_timeout, s_.relp_window),
        worker_(
            [this](const Batch& b) {
              std::string error = deliver(b);
              return error.empty() ? error : "syslog: " + error;
            },
            [this] { transport_->abort(); }) {}

  ~SyslogSink() override { close(std::chrono::seconds(5)); }

  void send(BatchPtr batch, AckCallback on_ack) override { worker_.send(std::move(batch), std::move(on_ack)); }
  bool flush(std::chrono::milliseconds timeout) override { return worker_.flush(timeout); }
  void close(std::chrono::milliseconds timeout) override {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    worker_.close(timeout);
    // The polite endings (RELP close, TLS close_notify) wait up to 2 s for
    // the receiver; without that much time left, the connection is cut.
    if (deadline - std::chrono::steady_clock::now() < std::chrono::seconds(2)) transport_->abort();
    if (s_.relp) relp_.close();
    transport_->close();
  }

 private:
  std::string deliver(const Batch& batch) {
    if (transport_->connected() && transport_->peer_closed()) {
      log_.warn("syslog receiver closed the connection; reconnecting", {{"sink", name_}});
      transport_->close();
    }
    if (!transport_->connected()) {
      std::string error = transport_->connect();
      if (error.empty() && s_.relp) error = relp_.open();
      if (!error.empty()) {
        transport_->close();
        return error;
      }
      log_.info("syslog sink connected", {{"sink", name_}, {"host", s_.transport.host}, {"port", s_.transport.port}});
    }
    if (s_.transport.protocol == Protocol::Udp) {
      for (const Record& r : batch.records) {
        pace_udp();
        bool cut = false;
        std::string msg = format_message_within(r, s_.format, s_.max_message_bytes, cut);
        if (cut) truncated_.Increment();
        std::string error = transport_->send(msg);
        if (!error.empty()) return error;
      }
      return "";
    }
    if (s_.relp) return deliver_relp(batch);
    buf_.clear();
    for (const Record& r : batch.records) append_framed(buf_, format_message(r, s_.format), s_.framing);
    std::string error = transport_->send(buf_);
    if (error.empty() && transport_->peer_closed())
      error = "the receiver closed the connection during the write; the batch will be sent again";
    if (!error.empty()) transport_->close();
    return error;
  }

  // Which messages of a batch the RELP receiver has taken, kept while the
  // batch is not delivered, so that a retry sends only the others (one
  // refused message used to resend its whole batch again and again).
  struct RelpProgress {
    std::vector<std::string> messages;  // tells the same batch from another source's batch with the same seq
    std::vector<bool> taken;
    std::vector<int> refusals;
  };

  std::string deliver_relp(const Batch& batch) {
    RelpProgress p;
    p.messages.reserve(batch.records.size());
    for (const Record& r : batch.records) p.messages.push_back(format_message(r, s_.format));
    if (auto it = relp_progress_.find(batch.seq); it != relp_progress_.end()) {
      if (it->second.messages == p.messages) p = std::move(it->second);
      relp_progress_.erase(it);
    }
    size_t n = p.messages.size();
    p.taken.resize(n, false);
    p.refusals.resize(n, 0);
    RelpSession::Outcome outcome = relp_.send(p.messages, p.taken);
    if (!outcome.error.empty()) transport_->close();
    relp_refused_.Increment(static_cast<double>(outcome.refused.size()));
    std::string poison;
    for (size_t i : outcome.refused) {
      if (++p.refusals[i] < s_.relp_max_refusals) continue;
      const std::string& id = batch.records[i].event.id;
      if (s_.relp_dead_letter_file.empty()) {
        if (poison.empty())
          poison = "syslog: the RELP receiver refused event " + id + " " + std::to_string(p.refusals[i]) +
                   " times (relp_max_refusals), last answer: " + outcome.refusal +
                   ". Fix the receiver, or set syslog.relp_dead_letter_file to set such messages aside";
        continue;
      }
      std::string error = write_dead_letter(p.messages[i]);
      if (!error.empty()) {
        outcome.error = error;
        continue;
      }
      p.taken[i] = true;
      dead_letters_.Increment();
      log_.error("RELP receiver refused a message too often; written to the dead-letter file instead",
                 {{"sink", name_}, {"event_id", id}, {"refusals", p.refusals[i]}, {"answer", outcome.refusal},
                  {"file", s_.relp_dead_letter_file}});
    }
    size_t taken = static_cast<size_t>(std::count(p.taken.begin(), p.taken.end(), true));
    if (taken == n) return "";
    if (relp_progress_.size() >= kMaxRelpProgress) relp_progress_.erase(relp_progress_.begin());
    relp_progress_.emplace(batch.seq, std::move(p));
    if (!poison.empty()) throw PermanentError(poison);
    std::string what = outcome.error.empty()
                           ? "the receiver refused " + std::to_string(outcome.refused.size()) + " message(s): " +
                                 outcome.refusal
                           : outcome.error;
    return what + " (" + std::to_string(taken) + " of " + std::to_string(n) +
           " messages of the batch taken; only the others are sent again)";
  }

  // One message per line, synced; a failed write is cut back out so the
  // file stays one message per line. "" or why not.
  std::string write_dead_letter(const std::string& message) {
    const std::string& path = s_.relp_dead_letter_file;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) return "cannot open the dead-letter file " + path + ": " + std::strerror(errno);
    // Locked from the size read to the cut: another sink or process
    // appending in between would have its synced line cut off.
    struct stat st {};
    if (::flock(fd, LOCK_EX) != 0 || ::fstat(fd, &st) != 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      return "cannot lock the dead-letter file " + path + ": " + why;
    }
    AppendResult r = append_or_cut_back(fd, st.st_size, message + "\n");
    ::close(fd);
    return r ? "" : "cannot write the dead-letter file " + path + ": " + std::strerror(r.error);
  }

  // Spaces datagrams 1/rate apart; a burst of up to 50 ms is allowed, idle
  // time is not saved up.
  void pace_udp() {
    if (s_.udp_max_messages_per_second <= 0) return;
    auto now = std::chrono::steady_clock::now();
    auto interval = std::chrono::nanoseconds(1'000'000'000LL / s_.udp_max_messages_per_second);
    if (udp_next_ < now - std::chrono::milliseconds(50)) udp_next_ = now - std::chrono::milliseconds(50);
    if (udp_next_ > now + std::chrono::milliseconds(2)) std::this_thread::sleep_until(udp_next_);
    udp_next_ += interval;
  }

  Settings s_;
  Logger& log_;
  std::string name_;
  std::chrono::steady_clock::time_point udp_next_{};
  std::unique_ptr<Transport> transport_;
  prometheus::Counter& truncated_;
  prometheus::Counter& relp_refused_;
  prometheus::Counter& dead_letters_;
  RelpSession relp_;
  std::map<uint64_t, RelpProgress> relp_progress_;  // by batch seq
  std::string buf_;
  SerialWorker worker_;  // last: its thread uses everything above
};

int index_of(const std::vector<std::string>& list, const std::string& v) {
  for (size_t i = 0; i < list.size(); ++i)
    if (list[i] == v) return static_cast<int>(i);
  return -1;
}

}  // namespace

SinkBuilder configure(const ConfigNode& section) {
  Settings s;
  auto& t = s.transport;
  t.host = section.require_string("host");
  std::string transport = section.get_enum("transport", {"udp", "tcp", "tls", "relp"}, "tcp");
  ConfigNode tls = section.child("tls");
  s.relp = transport == "relp";
  // RELP runs over TLS when the sink has a tls section.
  bool use_tls = transport == "tls" || (s.relp && section.has("tls") && tls.get_bool("enabled", true));
  t.protocol = transport == "udp" ? Protocol::Udp : use_tls ? Protocol::Tls : Protocol::Tcp;
  t.port = static_cast<int>(
      section.get_int("port", 1, 65535, s.relp ? 2514 : t.protocol == Protocol::Tls ? 6514 : 514));
  if (!s.relp && section.has("relp_window")) section.fail("relp_window", "applies to transport: relp only");
  s.relp_window = static_cast<size_t>(section.get_int("relp_window", 1, 65536, static_cast<int64_t>(s.relp_window)));
  for (const char* key : {"relp_max_refusals", "relp_dead_letter_file"})
    if (!s.relp && section.has(key)) section.fail(key, "applies to transport: relp only");
  s.relp_max_refusals = static_cast<int>(section.get_int("relp_max_refusals", 1, 1'000'000, s.relp_max_refusals));
  s.relp_dead_letter_file = section.get_string("relp_dead_letter_file", "");
  if (!s.relp_dead_letter_file.empty()) {
    auto dir = std::filesystem::path(s.relp_dead_letter_file).parent_path();
    if (dir.empty()) dir = ".";
    if (access(dir.c_str(), W_OK) != 0)
      section.fail("relp_dead_letter_file", "cannot write to the directory " + dir.string());
  }
  if (!s.relp && tls.has("enabled"))
    tls.fail("enabled", "is only used with transport: relp (transport: tls is always TLS)");
  t.connect_timeout = section.get_duration("connect_timeout", std::chrono::milliseconds(100), std::chrono::minutes(5),
                                           t.connect_timeout);
  s.framing = section.get_enum("framing", {"octet_counting", "lf"}, "octet_counting") == "lf" ? Framing::LineFeed
                                                                                             : Framing::OctetCounting;
  if ((t.protocol == Protocol::Udp || s.relp) && section.has("framing"))
    section.fail("framing", "applies to tcp and tls only (a UDP datagram or a RELP frame is one message)");
  auto& f = s.format;
  // MSG is the record in its encoding (CEF then replaces the structured
  // data, as ArcSight and QRadar expect); `format: cef` is the older spelling.
  if (section.has("format") && section.has("encoding"))
    section.fail("format", "is the older spelling of encoding; keep only encoding");
  bool old_cef = section.get_enum("format", {"rfc5424", "cef"}, "rfc5424") == "cef";
  f.encoding = old_cef ? encode::Encoding::Cef : encode::configure(section);
  f.facility = index_of(kFacilities, section.get_enum("facility", kFacilities, "audit"));
  std::string severity = section.get_string("severity", "by_status");
  f.severity_by_status = severity == "by_status";
  if (!f.severity_by_status) {
    f.severity = index_of(kSeverities, severity);
    if (f.severity < 0) section.fail("severity", "expected by_status or one of emerg, alert, crit, err, warning, notice, info, debug");
  }
  char host[256] = "-";
  gethostname(host, sizeof host);
  f.hostname = section.get_string("hostname", host);
  f.app_name = section.get_string("app_name", f.app_name);
  f.msgid = section.get_string("msgid", f.msgid);
  f.sd_id = section.get_string("sd_id", f.sd_id);
  if (f.sd_id.find('@') == std::string::npos)
    section.fail("sd_id", "a custom SD-ID must have the form name@<private enterprise number>, e.g. zendesk@32473");
  f.bom = section.get_bool("bom", false);
  s.max_message_bytes = static_cast<size_t>(section.get_int("max_message_bytes", 480, 65000, 2048));
  if (t.protocol != Protocol::Udp && section.has("udp_max_messages_per_second"))
    section.fail("udp_max_messages_per_second", "applies to transport: udp only (TCP and TLS have flow control)");
  s.udp_max_messages_per_second =
      static_cast<int>(section.get_int("udp_max_messages_per_second", 0, 1'000'000, s.udp_max_messages_per_second));
  if (t.protocol != Protocol::Tls && section.has("tls") && !s.relp)
    section.fail("tls", "is only used with transport: tls or relp");
  t.ca_file = tls.get_string("ca_file", "");
  t.cert_file = tls.get_string("cert_file", "");
  t.key_file = tls.get_string("key_file", "");
  t.server_name = tls.get_string("server_name", "");
  t.verify = tls.get_bool("verify", true);
  if (t.cert_file.empty() != t.key_file.empty()) tls.fail("key_file", "cert_file and key_file go together");
  for (const auto& [key, path] : {std::pair{"ca_file", t.ca_file}, {"cert_file", t.cert_file}, {"key_file", t.key_file}})
    if (!path.empty() && access(path.c_str(), R_OK) != 0) tls.fail(key, "cannot read " + path);
  return [s](const SinkContext& ctx) { return std::make_unique<SyslogSink>(s, ctx); };
}

}  // namespace zf::sinks::syslog
