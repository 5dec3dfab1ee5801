// The many-accounts emulator (zendesk-emulator --accounts N) over real HTTP
// on loopback: each account's own credentials, data, 429 budget and
// request log; a cursor walk lists every event once in the API's order;
// the data is the same for the same seed and differs between accounts.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <httplib.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time_format.h"
#include "emulator/accounts.h"

using namespace zf::emulator;

namespace {

AccountsOptions small(size_t accounts) {
  AccountsOptions o;
  o.accounts = accounts;
  o.span = std::chrono::seconds(600);
  o.history_rate = 2;  // 1,200 events each
  o.hot_accounts = 1;
  o.hot_rate = 200;
  o.live_rate = 1;
  o.threads = 8;
  return o;
}

struct Page {
  int status = 0;
  std::vector<std::string> ids;
  std::string next;
  std::string reset;
};

Page get(httplib::Client& c, const std::string& target, const std::string& authorization) {
  auto r = c.Get(target, {{"Authorization", authorization}});
  REQUIRE(r);
  Page p;
  p.status = r->status;
  p.reset = r->get_header_value("ratelimit-reset");
  if (r->status != 200) return p;
  auto j = nlohmann::json::parse(r->body);
  for (const auto& e : j["access_logs"]) p.ids.push_back(e["id"].get<std::string>());
  if (j["links"]["next"].is_string()) p.next = j["links"]["next"].get<std::string>();
  return p;
}

// Every page of a cursor walk of [start, end) for one account.
std::vector<std::string> walk(httplib::Client& c, const std::string& base, const std::string& authorization,
                              const std::string& start, const std::string& end, int size) {
  std::vector<std::string> all;
  std::string target = "/api/v2/access_logs?filter%5Bstart%5D=" + start + "&filter%5Bend%5D=" + end +
                       "&page%5Bsize%5D=" + std::to_string(size);
  for (int guard = 0; guard < 1000; ++guard) {
    Page p = get(c, target, authorization);
    REQUIRE(p.status == 200);
    all.insert(all.end(), p.ids.begin(), p.ids.end());
    if (p.next.empty()) return all;
    REQUIRE(p.next.rfind(base, 0) == 0);
    target = p.next.substr(base.size());
  }
  FAIL("the cursor walk did not end");
  return all;
}

}  // namespace

TEST_CASE("each account has its own credentials and data; a cursor walk lists every event once, in order") {
  AccountsOptions o = small(5);
  o.rate_limit = 0;
  o.hot_rate = o.live_rate = 0;  // history only: a fixed set
  AccountsEmulator emu(o);
  emu.start();
  httplib::Client c(emu.base_url());
  std::string start = zf::format_utc_seconds(emu.started_ms() / 1000 - 3600);
  std::string end = zf::format_utc_seconds(emu.started_ms() / 1000 - 60);

  CHECK(get(c, "/api/v2/access_logs", "Basic bm9ib2R5Om5vdGhpbmc=").status == 401);
  CHECK(emu.hot(0));
  CHECK_FALSE(emu.hot(1));
  std::set<std::string> everyone;
  for (size_t i = 0; i < 5; ++i) {
    auto ids = walk(c, emu.base_url(), emu.authorization(i), start, end, 100);
    CHECK(ids.size() == 1200);
    CHECK(std::is_sorted(ids.begin(), ids.end()));
    CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
    std::vector<std::string> listed;
    for (const auto& e : emu.listing(i))
      if (e.ts_ms < (emu.started_ms() / 1000 - 60) * 1000) listed.push_back(e.id);
    CHECK(listed == ids);  // the admin listing is the ground truth of the walk
    everyone.insert(ids.begin(), ids.end());
  }
  CHECK(everyone.size() == 5 * 1200);  // no account serves another's events

  // The same seed makes the same events (a second run) but for their times,
  // which follow the start: an id's random part (after its 10 characters of
  // time) is the same.
  auto random_parts = [](const AccountsEmulator& e, size_t account) {
    std::vector<std::string> out;
    for (const auto& x : e.listing(account)) out.push_back(x.id.substr(10));
    out.resize(100);
    return out;
  };
  AccountsEmulator again(o);
  CHECK(random_parts(again, 3) == random_parts(emu, 3));
  AccountsOptions other = o;
  other.seed = 2;
  CHECK(random_parts(AccountsEmulator(other), 3) != random_parts(emu, 3));
}

TEST_CASE("the live tail: a hot account grows at its rate, the others at theirs, listed when their time comes") {
  AccountsEmulator emu(small(3));
  uint64_t hot0 = emu.listing(0).size(), cold0 = emu.listing(1).size();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  uint64_t hot1 = emu.listing(0).size(), cold1 = emu.listing(1).size();
  CHECK(hot1 - hot0 >= 150);
  CHECK(hot1 - hot0 <= 260);
  CHECK(cold1 - cold0 <= 2);
  for (const auto& e : emu.listing(0)) CHECK(e.visible_ms <= emu.started_ms() + 60000);
}

TEST_CASE("each account has its own budget: 429 with ratelimit-reset for one, the others unaffected") {
  AccountsOptions o = small(3);
  o.rate_limit = 3;
  AccountsEmulator emu(o);
  emu.start();
  httplib::Client c(emu.base_url());
  std::string first = "/api/v2/access_logs?page%5Bsize%5D=10";
  for (int k = 0; k < 3; ++k) CHECK(get(c, first, emu.authorization(1)).status == 200);
  Page over = get(c, first, emu.authorization(1));
  CHECK(over.status == 429);
  CHECK(zf::parse_rfc3339_ms(over.reset).has_value());
  CHECK(get(c, first, emu.authorization(2)).status == 200);  // another account's budget is whole

  AccountStats one = emu.stats(1), two = emu.stats(2), zero = emu.stats(0);
  CHECK(one.requests == 4);
  CHECK(one.rate_limited == 1);
  CHECK(one.arrivals_ms.size() == 4);
  CHECK(one.first_ok_ms >= one.first_request_ms);
  CHECK(two.requests == 1);
  CHECK(two.rate_limited == 0);
  CHECK(zero.requests == 0);
  CHECK(zero.first_ok_ms == -1);

  auto r = c.Get("/_emulator/stats?account=1");
  REQUIRE(r);
  CHECK(nlohmann::json::parse(r->body)["rate_limited"] == 1);
  r = c.Get("/_emulator/accounts");
  REQUIRE(r);
  auto summary = nlohmann::json::parse(r->body)["accounts"];
  CHECK(summary.size() == 3);
  CHECK(summary[1]["max_requests_in_window"] == 4);
  CHECK(summary[2]["requests"] == 1);
  r = c.Get("/_emulator/ids?account=2");
  REQUIRE(r);
  CHECK(std::count(r->body.begin(), r->body.end(), '\n') == static_cast<long>(emu.listing(2).size()));
  r = c.Get("/_emulator/ids?account=3");
  REQUIRE(r);
  CHECK(r->status == 400);
}

TEST_CASE("the page that holds an account's last history event marks it caught up") {
  AccountsOptions o = small(2);
  o.rate_limit = 0;
  o.hot_rate = o.live_rate = 0;
  AccountsEmulator emu(o);
  emu.start();
  httplib::Client c(emu.base_url());
  std::string start = zf::format_utc_seconds(emu.started_ms() / 1000 - 3600);
  std::string end = zf::format_utc_seconds(emu.started_ms() / 1000 - 60);
  get(c, "/api/v2/access_logs?filter%5Bstart%5D=" + start + "&filter%5Bend%5D=" + end + "&page%5Bsize%5D=1000",
      emu.authorization(1));
  CHECK(emu.stats(1).history_done_ms == -1);  // 1,000 of 1,200
  walk(c, emu.base_url(), emu.authorization(1), start, end, 1000);
  CHECK(emu.stats(1).history_done_ms >= emu.started_ms());
  CHECK(emu.stats(1).events_served == 1000 + 1200);
}

TEST_CASE("--hot-accounts: a share with at least one account, or a count") {
  CHECK(parse_hot_accounts("1%", 1000) == 10);
  CHECK(parse_hot_accounts("1%", 10) == 1);
  CHECK(parse_hot_accounts("0%", 10) == 0);
  CHECK(parse_hot_accounts("3", 10) == 3);
  CHECK_THROWS_AS(parse_hot_accounts("11", 10), std::invalid_argument);
  CHECK_THROWS_AS(parse_hot_accounts("lots", 10), std::invalid_argument);
}
