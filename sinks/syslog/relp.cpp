#include "syslog/relp.h"

#include <stdexcept>

namespace zf::sinks::syslog {

namespace {

constexpr uint64_t kMaxTxnr = 999'999'999;  // then it wraps to 1
constexpr size_t kMaxDataLen = 128 * 1024 * 1024;

// Reads 1..max_digits decimal digits at `pos`; throws when there are none.
uint64_t read_number(std::string_view buf, size_t& pos, size_t max_digits, const char* what) {
  size_t start = pos;
  uint64_t v = 0;
  while (pos < buf.size() && buf[pos] >= '0' && buf[pos] <= '9') {
    if (pos - start == max_digits) throw std::runtime_error(std::string("RELP: ") + what + " has too many digits");
    v = v * 10 + static_cast<uint64_t>(buf[pos] - '0');
    ++pos;
  }
  if (pos == start && pos < buf.size()) throw std::runtime_error(std::string("RELP: expected ") + what);
  return v;
}

void append_frame(std::string& out, uint64_t txnr, std::string_view command, std::string_view data) {
  out += std::to_string(txnr);
  out += ' ';
  out += command;
  out += ' ';
  out += std::to_string(data.size());
  if (!data.empty()) {
    out += ' ';
    out += data;
  }
  out += '\n';
}

}  // namespace

size_t parse_relp_frame(std::string_view buf, RelpFrame& out) {
  size_t pos = 0;
  out.txnr = read_number(buf, pos, 9, "a transaction number");
  if (pos >= buf.size()) return 0;
  if (buf[pos++] != ' ') throw std::runtime_error("RELP: expected a space after the transaction number");
  size_t cmd_start = pos;
  while (pos < buf.size() && buf[pos] != ' ') {
    char c = buf[pos];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) || pos - cmd_start == 32)
      throw std::runtime_error("RELP: a command is 1 to 32 letters");
    ++pos;
  }
  if (pos >= buf.size()) return 0;
  if (pos == cmd_start) throw std::runtime_error("RELP: empty command");
  std::string_view command = buf.substr(cmd_start, pos - cmd_start);
  ++pos;
  uint64_t len = read_number(buf, pos, 9, "a data length");
  if (pos >= buf.size()) return 0;
  if (len > kMaxDataLen) throw std::runtime_error("RELP: data length " + std::to_string(len) + " is too large");
  if (buf[pos] == ' ') {
    ++pos;
  } else if (len != 0) {
    throw std::runtime_error("RELP: expected a space before the data");
  }
  if (buf.size() - pos < len + 1) return 0;
  std::string_view data = buf.substr(pos, len);
  pos += len;
  if (buf[pos++] != '\n') throw std::runtime_error("RELP: a frame must end with LF");
  out.command.assign(command);
  out.data.assign(data);
  return pos;
}

std::optional<int> relp_status(std::string_view rsp_data) {
  if (rsp_data.size() < 3) return std::nullopt;
  int code = 0;
  for (size_t i = 0; i < 3; ++i) {
    if (rsp_data[i] < '0' || rsp_data[i] > '9') return std::nullopt;
    code = code * 10 + (rsp_data[i] - '0');
  }
  if (rsp_data.size() > 3 && rsp_data[3] != ' ' && rsp_data[3] != '\n') return std::nullopt;
  return code;
}

RelpSession::RelpSession(Transport& transport, std::chrono::milliseconds ack_timeout, size_t window)
    : transport_(transport), ack_timeout_(ack_timeout), window_(window == 0 ? 1 : window) {}

uint64_t RelpSession::next_txnr() {
  txnr_ = txnr_ >= kMaxTxnr ? 1 : txnr_ + 1;
  return txnr_;
}

std::string RelpSession::read_frame(RelpFrame& frame, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    size_t used = 0;
    try {
      used = parse_relp_frame(inbox_, frame);
    } catch (const std::exception& e) {
      return std::string(e.what()) + " (the receiver is not speaking RELP: is the port an imrelp input?)";
    }
    if (used > 0) {
      inbox_.erase(0, used);
      if (frame.command == "serverclose") return "the receiver ended the RELP session (serverclose)";
      return "";
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "no RELP answer within " + std::to_string(ack_timeout_.count()) + " ms";
    std::string error = transport_.receive(inbox_, left);
    if (!error.empty()) return error;
  }
}

std::string RelpSession::open() {
  txnr_ = 0;
  inbox_.clear();
  outbox_.clear();
  uint64_t txnr = next_txnr();
  append_frame(outbox_, txnr, "open", "relp_version=0\nrelp_software=zendesk-forwarder\ncommands=syslog");
  std::string error = transport_.send(outbox_);
  if (!error.empty()) return error;
  RelpFrame rsp;
  error = read_frame(rsp, std::chrono::steady_clock::now() + ack_timeout_);
  if (!error.empty()) return "RELP open: " + error;
  if (rsp.command != "rsp" || rsp.txnr != txnr || relp_status(rsp.data) != 200)
    return "RELP open refused: " + rsp.command + " " + rsp.data.substr(0, 200);
  if (rsp.data.find("commands=") != std::string::npos && rsp.data.find("syslog") == std::string::npos)
    return "RELP receiver does not offer the syslog command";
  return "";
}

RelpSession::Outcome RelpSession::send(const std::vector<std::string>& messages, std::vector<bool>& taken) {
  taken.resize(messages.size(), false);
  std::vector<size_t> todo;
  for (size_t i = 0; i < messages.size(); ++i)
    if (!taken[i]) todo.push_back(i);
  Outcome outcome;
  for (size_t begin = 0; begin < todo.size(); begin += window_) {
    outcome.error = send_window(messages, todo, begin, std::min(todo.size(), begin + window_), taken, outcome);
    if (!outcome.error.empty()) break;
  }
  return outcome;
}

std::string RelpSession::send_all(const std::vector<std::string>& messages) {
  std::vector<bool> taken;
  Outcome outcome = send(messages, taken);
  if (!outcome.error.empty()) return outcome.error;
  if (!outcome.refused.empty()) return "the receiver refused a message: " + outcome.refusal;
  return "";
}

std::string RelpSession::send_window(const std::vector<std::string>& messages, const std::vector<size_t>& todo,
                                     size_t begin, size_t end, std::vector<bool>& taken, Outcome& outcome) {
  outbox_.clear();
  uint64_t first = txnr_ >= kMaxTxnr ? 1 : txnr_ + 1;
  for (size_t i = begin; i < end; ++i) append_frame(outbox_, next_txnr(), "syslog", messages[todo[i]]);
  std::string error = transport_.send(outbox_);
  if (!error.empty()) return error;
  // Answers may come in any order; each transaction must be answered once.
  size_t count = end - begin;
  std::vector<bool> answered(count, false);
  size_t open = count;
  auto deadline = std::chrono::steady_clock::now() + ack_timeout_;
  while (open > 0) {
    RelpFrame rsp;
    error = read_frame(rsp, deadline);
    if (!error.empty()) return error + " (" + std::to_string(open) + " of " + std::to_string(count) + " messages unanswered)";
    if (rsp.command != "rsp") continue;  // e.g. a hint; nothing we must act on
    uint64_t index = (rsp.txnr + kMaxTxnr - first) % kMaxTxnr;
    if (index >= count || answered[index])
      return "RELP answer for transaction " + std::to_string(rsp.txnr) + " that is not waiting for one";
    answered[index] = true;
    --open;
    if (relp_status(rsp.data) == 200) {
      taken[todo[begin + index]] = true;
    } else {
      if (outcome.refused.empty()) outcome.refusal = rsp.data.substr(0, 200);
      outcome.refused.push_back(todo[begin + index]);
    }
  }
  return "";
}

void RelpSession::close() {
  if (!transport_.connected()) return;
  outbox_.clear();
  uint64_t txnr = next_txnr();
  append_frame(outbox_, txnr, "close", "");
  if (!transport_.send(outbox_).empty()) return;
  RelpFrame rsp;
  auto deadline = std::chrono::steady_clock::now() + std::min(ack_timeout_, std::chrono::milliseconds(2000));
  while (read_frame(rsp, deadline).empty() && !(rsp.command == "rsp" && rsp.txnr == txnr)) {
  }
}

}  // namespace zf::sinks::syslog
