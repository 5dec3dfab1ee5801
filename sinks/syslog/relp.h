#pragma once
// RELP, rsyslog's Reliable Event Logging Protocol (https://www.rsyslog.com/doc/relp.html),
// client side. Plain TCP syslog cannot tell bytes the receiver's kernel
// accepted from messages the receiver kept; in RELP every message is a
// numbered transaction the receiver answers once it has taken it, so a
// batch is known delivered, not only written.
//
// Written over our own Transport rather than librelp: librelp's client
// resends unacknowledged messages on its own after a reconnect and does not
// report which ones were acknowledged, so the sink could not tell the
// pipeline which batch is safe to commit.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "syslog/transport.h"

namespace zf::sinks::syslog {

// One RELP frame: TXNR SP COMMAND SP DATALEN [SP DATA] LF.
struct RelpFrame {
  uint64_t txnr = 0;
  std::string command;
  std::string data;
};

// Parses the first frame in `buf`. Returns the bytes it used, 0 when the
// frame is not complete yet; throws std::runtime_error on bytes that are
// not RELP (the connection cannot be trusted after that).
size_t parse_relp_frame(std::string_view buf, RelpFrame& out);

// The status code of a "rsp" frame's data ("200 OK..."), or nullopt.
std::optional<int> relp_status(std::string_view rsp_data);

class RelpSession {
 public:
  // `ack_timeout` bounds the wait for each window's answers; `window` is
  // how many messages may be unanswered at once.
  RelpSession(Transport& transport, std::chrono::milliseconds ack_timeout, size_t window);

  // After the transport connected: offers relp_version 0 and the syslog
  // command. "" or why the receiver refused.
  std::string open();
  // What one send() learned about each message.
  struct Outcome {
    std::string error;            // the session broke: close the transport, open a new one
    std::vector<size_t> refused;  // indices the receiver answered with another status than 200
    std::string refusal;          // the first refusal's answer, for the log
  };
  // Sends messages[i] for every i whose taken[i] is false and waits for
  // their answers; sets taken[i] for each one answered 200. A refusal is an
  // answer like any other: the session stays usable, the message stays not
  // taken. A timeout or a protocol error ends the send (Outcome::error);
  // what was answered before it is still marked taken.
  Outcome send(const std::vector<std::string>& messages, std::vector<bool>& taken);
  // Every message: "" when all were taken, else what went wrong (a refusal
  // or a broken session).
  std::string send_all(const std::vector<std::string>& messages);
  // Polite end of session: "close", and the receiver's answer, bounded.
  void close();

 private:
  // Sends messages[todo[begin..end)] as one window of transactions.
  std::string send_window(const std::vector<std::string>& messages, const std::vector<size_t>& todo, size_t begin,
                          size_t end, std::vector<bool>& taken, Outcome& outcome);
  uint64_t next_txnr();
  // Reads one frame, waiting at most until `deadline`.
  std::string read_frame(RelpFrame& frame, std::chrono::steady_clock::time_point deadline);

  Transport& transport_;
  std::chrono::milliseconds ack_timeout_;
  size_t window_;
  uint64_t txnr_ = 0;
  std::string inbox_;
  std::string outbox_;
};

}  // namespace zf::sinks::syslog
