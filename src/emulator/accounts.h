#pragma once
// Many Zendesk accounts from one emulator process, for the many-accounts
// benchmark (tests/bench/bench_accounts.sh): each account has its own
// credentials (told apart by the Authorization header), its own data, its
// own rate-limit budget (429 per account) and its own request log.
//
// 1,000 accounts with an hour of history, some at hundreds of events a
// second, would be gigabytes as stored events; so nothing is stored. An
// account's events are a pure function of (seed, account, stream, index):
// event k of a stream is stamped base + k * P / Q ms, its id is a ULID of
// that ms and bits hashed from its key, and its body is made only when a
// page serves it. Since ids start with their millisecond, the API's order
// (timestamp, id) is the ids' own order, and a cursor is simply the last id.
// Two streams per account: the history (spread evenly over the span, all
// listed at start) and the live tail from the history's end (start -
// end_gap) on, each event listed when its time comes.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace zf::emulator {

struct AccountsOptions {
  size_t accounts = 10;
  uint64_t seed = 1;
  std::chrono::seconds span{std::chrono::hours(1)};  // history over [start-span-end_gap, start-end_gap)
  std::chrono::seconds end_gap{120};                // ... and the live tail from start-end_gap on
  size_t events = 10000;        // history events per account, unless a history rate is given
  double history_rate = 0;      // history events per second per cold account (> 0: replaces `events`)
  double hot_history_rate = -1; // ... per hot account; < 0 = same as history_rate
  double live_rate = 0;         // live events per second per cold account
  double hot_rate = 0;          // live events per second per hot account
  size_t hot_accounts = 0;      // how many accounts are hot (spread evenly over the indexes)
  int rate_limit = 50;          // requests per window per account; 0 = off
  std::chrono::milliseconds rate_window{60000};
  std::string email = "agent@example.com";
  // Account i's secrets are these with "-i" appended (emulator-token-7).
  std::string api_token = "emulator-token";
  std::string password = "emulator-password";
  std::string bearer = "emulator-oauth";
  bool awkward = true;
  size_t threads = 0;           // HTTP worker threads; 0 = accounts + 16 (one per kept-alive connection)
};

// What one account saw, from its request log.
struct AccountStats {
  uint64_t requests = 0;        // API requests (admin endpoints excluded)
  uint64_t ok = 0;
  uint64_t rate_limited = 0;
  uint64_t early_requests = 0;  // sent before the reset the account's client was given
  std::map<int, uint64_t> by_status;
  std::vector<int64_t> arrivals_ms;
  int64_t first_request_ms = -1;
  int64_t first_ok_ms = -1;     // the first 200 page
  int64_t history_done_ms = -1; // the page holding the last history event was served
  uint64_t events_served = 0;   // events in 200 pages (re-reads count again)
};

class AccountsEmulator {
 public:
  explicit AccountsEmulator(AccountsOptions options);
  ~AccountsEmulator();
  AccountsEmulator(const AccountsEmulator&) = delete;
  AccountsEmulator& operator=(const AccountsEmulator&) = delete;

  uint16_t start(const std::string& host = "127.0.0.1", uint16_t port = 0);
  void stop();
  std::string base_url() const;
  int64_t started_ms() const;

  size_t accounts() const;
  bool hot(size_t account) const;
  // The Authorization header of account i with an API token.
  std::string authorization(size_t account) const;
  // Every event of the account listed now, in the API's order, with its
  // timestamp (ms) and when it was first listed.
  struct Listed {
    std::string id;
    int64_t ts_ms;
    int64_t visible_ms;
  };
  std::vector<Listed> listing(size_t account) const;
  uint64_t history_events(size_t account) const;
  AccountStats stats(size_t account) const;
  // One line per account: its counts, first page and catch-up time, and the
  // most requests it sent in any rate window (from its request log).
  nlohmann::json summary() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "1%" -> 1% of `accounts` (at least 1 when the share is not 0), "3" -> 3.
// Throws std::invalid_argument.
size_t parse_hot_accounts(const std::string& text, size_t accounts);

}  // namespace zf::emulator
