// The pull source's durable state: the checkpoint file (version 2, and the
// migration from version 1 files written by earlier releases), the
// per-window id files beside it, and compact event keys.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "log/logger.h"
#include "test_dirs.h"
#include "sources/zendesk_pull/pull_metrics.h"
#include "sources/zendesk_pull/access_log_source.h"
#include "sources/event_id.h"
#include "sources/zendesk_pull/pull_checkpoint.h"
#include "sources/zendesk_pull/id_pieces.h"

using namespace zf;
using namespace zf::source;
using namespace zf::net;
namespace fs = std::filesystem;
using zf::testing::temp_dir;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// An AccessLogSource over `store` with no API behind it: enough to open().
struct OfflineSource {
  std::ostringstream logs;
  Logger log{logs};
  ProcessMetrics process_metrics{"test"};
  PullMetrics metrics{process_metrics, "zendesk", "127.0.0.1"};
  StopSignal stop;
  HttpClient http{HttpSettings{}};
  RateLimiter limiter{50, std::chrono::seconds(60), std::chrono::milliseconds(0)};
  AccessLogSource source;
  explicit OfflineSource(PullCheckpoint& store) : source({}, http, limiter, store, log, metrics, stop) {}
};

}  // namespace

TEST_CASE("event keys: a ULID decodes exactly into 16 bytes; other ids hash; distinct ids stay distinct") {
  EventKey a = event_key("01HAAAAAAAAAAAAAAAAAAAAAAA");
  EventKey b = event_key("01HAAAAAAAAAAAAAAAAAAAAAAB");
  CHECK(a != b);
  CHECK(b.lo == a.lo + 1);  // the last character is the lowest 5 bits
  CHECK(event_key("7ZZZZZZZZZZZZZZZZZZZZZZZZZ") == EventKey{~0ULL, ~0ULL});
  // Not a ULID: lower case, too long, a first character above 7, odd text.
  std::set<EventKey> keys;
  for (const char* id : {"01haaaaaaaaaaaaaaaaaaaaaaa", "01HAAAAAAAAAAAAAAAAAAAAAAA", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
                         "01HAAAAAAAAAAAAAAAAAAAAAAAA", "ticket-42", "", "\xff\xfe"})
    keys.insert(event_key(id));
  CHECK(keys.size() == 7);
  CHECK(event_key("ticket-42") == event_key("ticket-42"));
  EventKeySet set({b, a, a});
  CHECK(set.size() == 2);
  CHECK(set.contains(a));
  CHECK_FALSE(set.contains(event_key("ticket-42")));
}

TEST_CASE("event keys: every byte in three places of a ULID decodes as the Crockford alphabet says, else hashes") {
  // The decoding is a table; this is the alphabet spelled out, checked
  // byte by byte against it. Place p holds bits 125 - 5p and up.
  const std::string alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const std::string base = "01HAAAAAAAAAAAAAAAAAAAAAAA";
  const EventKey base_key = event_key(base);
  for (size_t place : {size_t{0}, size_t{5}, size_t{25}}) {
    unsigned shift = static_cast<unsigned>(125 - 5 * place);  // 125, 100, 0: none straddles the halves
    auto five_bits = [&](const EventKey& k) { return shift >= 64 ? (k.hi >> (shift - 64)) & 31 : (k.lo >> shift) & 31; };
    auto without = [&](EventKey k) {
      if (shift >= 64) k.hi &= ~(uint64_t{31} << (shift - 64));
      else k.lo &= ~(uint64_t{31} << shift);
      return k;
    };
    for (int b = 0; b < 256; ++b) {
      std::string id = base;
      id[place] = static_cast<char>(b);
      size_t v = alphabet.find(static_cast<char>(b));
      bool decodes = v != std::string::npos && (place > 0 || v <= 7);
      CAPTURE(place);
      CAPTURE(b);
      EventKey k = event_key(id);
      if (decodes) {
        CHECK(five_bits(k) == v);
        CHECK(without(k) == without(base_key));
      } else {
        CHECK(without(k) != without(base_key));  // hashed: not a neighbour of the decoded ids
      }
    }
  }
}

TEST_CASE("checkpoint: version 2 round-trips first read, awaiting windows and the open late read") {
  auto dir = temp_dir("v2");
  PullState s;
  s.account = "acme";
  s.first = {1795000000, 1795000030, "cursor/with+odd=chars"};
  s.first_late_read = true;
  s.awaiting = {{1794999900, 1794999930}, {1794999930, 1794999960}, {1794999960, 1795000000}};
  s.late = {1794999900, 1794999960, "late-cursor"};
  s.id_counts = {{1794999900, 40}, {1794999930, 0}, {1795000000, 7}};
  s.committed_at_s = 1795000100;
  s.events_delivered = 12345;
  {
    PullCheckpoint store((dir / "cp.json").string());
    CHECK_FALSE(store.load());
    size_t bytes = store.save(s);
    CHECK(bytes < 600);  // small whatever the rate: ids live in their own files
    auto back = store.load();
    REQUIRE(back);
    CHECK(back->version == 2);
    CHECK(back->state == s);
    CHECK_FALSE(fs::exists(dir / "cp.json.tmp"));
  }
  fs::remove_all(dir);
}

TEST_CASE("checkpoint: a version-1 file written by the previous release is read and its ids kept") {
  // Written by main at e45a5ea (overlap 10m) and killed mid-window.
  std::string text = read_text(fs::path(ZF_TEST_FIXTURES) / "checkpoint-v1-from-e45a5ea.json");
  auto v1 = nlohmann::json::parse(text);
  auto loaded = deserialize(text, "fixture");
  CHECK(loaded.version == 1);
  CHECK(loaded.state.account == v1["account"]);
  CHECK(loaded.state.first.window_start == v1["position"]["window_start"].get<int64_t>());
  CHECK(loaded.state.first.window_end == v1["position"]["window_end"].get<int64_t>());
  CHECK(loaded.state.first.cursor == v1["position"]["cursor"].get<std::string>());
  CHECK(loaded.state.events_delivered == v1["events_delivered"].get<uint64_t>());
  CHECK(loaded.state.awaiting.empty());
  CHECK_FALSE(loaded.state.late.open());
  REQUIRE(loaded.v1_recent_ids.size() == v1["recent_ids"].size());
  CHECK(loaded.v1_recent_ids.front() == v1["recent_ids"][0][0].get<std::string>());
}

TEST_CASE("checkpoint: opening a version-1 file migrates it: version 2 on disk, its ids the open window's") {
  auto dir = temp_dir("migrate");
  fs::copy_file(fs::path(ZF_TEST_FIXTURES) / "checkpoint-v1-from-e45a5ea.json", dir / "cp.json");
  auto v1 = nlohmann::json::parse(read_text(dir / "cp.json"));
  int64_t start = v1["position"]["window_start"].get<int64_t>();
  std::ostringstream logs;
  Logger log(logs);
  ProcessMetrics process_metrics("test");
  PullMetrics metrics(process_metrics, "zendesk", "127.0.0.1");
  StopSignal stop;
  {
    PullCheckpoint store((dir / "cp.json").string());
    HttpClient http({});
    RateLimiter limiter(50, std::chrono::seconds(60), std::chrono::milliseconds(0));
    AccessLogSource source({}, http, limiter, store, log, metrics, stop);
    source.open("127.0.0.1", 0);
    CHECK(source.events_delivered() == v1["events_delivered"].get<uint64_t>());
    auto migrated = store.load();
    REQUIRE(migrated);
    CHECK(migrated->version == 2);
    CHECK(migrated->state.first.cursor == v1["position"]["cursor"].get<std::string>());
    auto ids = store.read_ids(start);
    CHECK(ids.size() == v1["recent_ids"].size());
    EventKeySet set(ids);
    for (const auto& r : v1["recent_ids"]) CHECK(set.contains(event_key(r[0].get<std::string>())));
  }
  CHECK(logs.str().find("checkpoint migrated from version 1") != std::string::npos);
  // Another account's checkpoint is refused, naming both.
  {
    PullCheckpoint store((dir / "cp.json").string());
    HttpClient http({});
    RateLimiter limiter(50, std::chrono::seconds(60), std::chrono::milliseconds(0));
    AccessLogSource source({}, http, limiter, store, log, metrics, stop);
    CHECK_THROWS_WITH_AS(source.open("acme", 0), doctest::Contains("belongs to account \"127.0.0.1\""), FatalError);
  }
  fs::remove_all(dir);
}

TEST_CASE("id files: appended per window, read back whole, a torn tail ignored, stale files removed") {
  auto dir = temp_dir("ids");
  PullCheckpoint store((dir / "cp.json").string());
  std::vector<EventKey> first{event_key("01HAAAAAAAAAAAAAAAAAAAAAAA"), event_key("x")};
  CHECK(store.append_ids(100, first) == 32);
  CHECK(store.append_ids(100, {event_key("y")}) == 16);
  store.append_ids(200, {event_key("z")});
  store.sync_ids();
  CHECK(store.count_ids(100) == 3);
  auto back = store.read_ids(100);
  REQUIRE(back.size() == 3);
  CHECK(back[0] == first[0]);
  CHECK(back[2] == event_key("y"));
  {
    std::ofstream torn(dir / "cp.json.ids" / "200.ids", std::ios::binary | std::ios::app);
    torn << "partial";  // a crash in the middle of an append
  }
  CHECK(store.read_ids(200).size() == 1);
  CHECK(store.read_ids(300).empty());
  store.remove_ids_except({100});
  CHECK(store.has_ids(100));
  CHECK_FALSE(store.has_ids(200));
  store.remove_ids(100);
  CHECK_FALSE(store.has_ids(100));
  fs::remove_all(dir);
}

TEST_CASE("id files (#17): opening cuts ids written ahead of uncommitted pages back to the state's counts") {
  // Ids are written when a page is fetched; the state (in the file, or in a
  // Kafka transaction) says how many of them were committed. A late read
  // must ship the ones past that count: their pages never reached a sink.
  auto dir = temp_dir("ahead");
  const int64_t awaiting = 1795000000, open = 1795000060, no_count = 1795000030, gone = 1794990000;
  {
    PullCheckpoint store((dir / "cp.json").string());
    PullState s;
    s.account = "acme";
    s.first = {open, open + 60, "c"};
    s.first_late_read = true;
    s.awaiting = {{awaiting, no_count}, {no_count, open}};
    s.id_counts = {{awaiting, 2}, {open, 1}, {gone, 9}};  // `gone` is no window of the state
    store.save(s);
    store.append_ids(awaiting, {event_key("a1"), event_key("a2"), event_key("a3-ahead")});
    store.append_ids(open, {event_key("o1"), event_key("o2-ahead"), event_key("o3-ahead")});
    store.append_ids(no_count, {event_key("n1")});  // no count in the state: none committed
    store.append_ids(gone, {event_key("g1")});
    store.sync_ids();
  }
  PullCheckpoint store((dir / "cp.json").string());
  OfflineSource offline(store);
  offline.source.open("acme", 0);
  auto kept = store.read_ids(awaiting);
  REQUIRE(kept.size() == 2);
  CHECK(kept[1] == event_key("a2"));
  REQUIRE(store.read_ids(open).size() == 1);
  CHECK(store.read_ids(open)[0] == event_key("o1"));
  CHECK_FALSE(store.has_ids(no_count));
  CHECK_FALSE(store.has_ids(gone));
  CHECK(offline.logs.str().find("ids written ahead of pages that were never committed are dropped") != std::string::npos);
  CHECK(offline.logs.str().find("are missing") == std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("id files (#17): a checkpoint from before id_counts keeps its id files as they are") {
  auto dir = temp_dir("legacy");
  {
    PullCheckpoint store((dir / "cp.json").string());
    store.append_ids(1795000000, {event_key("a1"), event_key("a2")});
    store.sync_ids();
  }
  std::ofstream(dir / "cp.json") << R"({"version":2,"account":"acme","first_read":{"window_start":1795000060,)"
                                    R"("window_end":0,"cursor":""},"awaiting_late_read":[[1795000000,1795000060]],)"
                                    R"("late_read":null,"committed_at":1795000100,"events_delivered":2})";
  PullCheckpoint store((dir / "cp.json").string());
  OfflineSource offline(store);
  offline.source.open("acme", 0);
  CHECK(store.count_ids(1795000000) == 2);
  CHECK(offline.logs.str().find("dropped") == std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("id files (#17): fewer ids on disk than the state counts is reported: that late read re-ships") {
  auto dir = temp_dir("short");
  {
    PullCheckpoint store((dir / "cp.json").string());
    PullState s;
    s.account = "acme";
    s.first = {1795000060, 0, ""};
    s.awaiting = {{1795000000, 1795000060}};
    s.id_counts = {{1795000000, 5}};  // e.g. a Kafka position adopted on a new volume
    store.save(s);
    store.append_ids(1795000000, {event_key("a1")});
    store.sync_ids();
  }
  PullCheckpoint store((dir / "cp.json").string());
  OfflineSource offline(store);
  offline.source.open("acme", 0);
  CHECK(store.count_ids(1795000000) == 1);
  CHECK(offline.logs.str().find("the ids a window's first read delivered are missing") != std::string::npos);
  CHECK(offline.logs.str().find("\"expected\":5") != std::string::npos);
  CHECK_THROWS_WITH_AS(deserialize(R"({"version":2,"account":"a","first_read":{"window_start":5,"window_end":0,)"
                                   R"("cursor":""},"awaiting_late_read":[],"late_read":null,"id_counts":{"x1":3}})",
                                   "cp.json"),
                       doctest::Contains("id_counts has a key that is not a window start"), FatalError);
  fs::remove_all(dir);
}

TEST_CASE("checkpoint (#27 item 9): another account's position in the checkpoint topic is refused before it is written") {
  auto dir = temp_dir("adopt");
  auto path = dir / "cp.json";
  PullState mine;
  mine.account = "acme";
  mine.first = {1795000060, 0, ""};
  PullState theirs = mine;
  theirs.account = "globex";
  theirs.first = {1795000600, 0, ""};
  const std::string from = "sink kafka's checkpoint topic";
  {
    PullCheckpoint store(path.string());
    store.save(mine);
  }
  const std::string before = read_text(path);
  {
    PullCheckpoint store(path.string());
    store.adopt(serialize(theirs), from);
    OfflineSource offline(store);
    CHECK_THROWS_WITH_AS(offline.source.open("acme", 0),
                         doctest::Contains("the position in sink kafka's checkpoint topic belongs to account \"globex\""),
                         FatalError);
    CHECK_THROWS_WITH_AS(offline.source.open("acme", 0), doctest::Contains("its own checkpoint_topic"), FatalError);
  }
  CHECK(read_text(path) == before);  // the file still holds this account's position
  {
    // Following the advice (a topic without that position): the file is taken.
    PullCheckpoint store(path.string());
    OfflineSource offline(store);
    offline.source.open("acme", 0);
    CHECK(offline.logs.str().find("resuming from checkpoint") != std::string::npos);
  }
  {
    // A fresh checkpoint path: still nothing written for the foreign position.
    PullCheckpoint store((dir / "fresh.json").string());
    store.adopt(serialize(theirs), from);
    OfflineSource offline(store);
    CHECK_THROWS_AS(offline.source.open("acme", 0), FatalError);
    CHECK_FALSE(fs::exists(dir / "fresh.json"));
  }
  {
    // This account's position replaces the file, which is only its cache.
    PullCheckpoint store(path.string());
    PullState newer = mine;
    newer.first = {1795000900, 0, ""};
    store.adopt(serialize(newer), from);
    OfflineSource offline(store);
    offline.source.open("acme", 0);
    CHECK(deserialize(read_text(path), path.string()).state == newer);
  }
  fs::remove_all(dir);
}

namespace {
std::vector<EventKey> keys_named(const std::string& prefix, size_t n, size_t from = 0) {
  std::vector<EventKey> out;
  for (size_t i = from; i < from + n; ++i) out.push_back(event_key(prefix + std::to_string(i)));
  return out;
}
// A compacted topic's view of what was written: the newest value per key.
void write_compacted(std::map<std::string, std::string>& topic, const std::vector<PositionPiece>& pieces) {
  for (const auto& p : pieces) {
    if (p.value) topic[p.key] = *p.value;
    else topic.erase(p.key);
  }
}
}  // namespace

TEST_CASE("id pieces (#30): each append writes the pieces it touches whole, so the newest value of each key is all of it") {
  const int64_t w = 1795000000;
  std::map<std::string, std::string> topic;
  IdPieceWriter writer;
  writer.resume(w, {});
  std::vector<EventKey> all;
  // Pages of 640 ids cross the 1,024-id piece boundaries mid-page.
  static_assert(kIdsPerPiece == 1024);
  for (size_t page = 0; page < 4; ++page) {
    auto ids = keys_named("p", 640, page * 640);
    auto pieces = writer.append(ids);
    all.insert(all.end(), ids.begin(), ids.end());
    CHECK(pieces.size() == (page == 1 || page == 3 ? 2u : 1u));  // 640-1,280 and 1,920-2,560 cross one
    for (const auto& p : pieces) CHECK(p.value->size() <= kIdsPerPiece * kEventKeyBytes);
    write_compacted(topic, pieces);
  }
  CHECK(topic.size() == 3);  // 2,560 ids: 1,024 + 1,024 + 512
  CHECK(join_id_pieces(topic, w, all.size()) == all);
  // A position that counts fewer ids (a later page not committed) takes the prefix.
  CHECK(join_id_pieces(topic, w, 2000) == std::vector<EventKey>(all.begin(), all.begin() + 2000));
  // A missing piece ends what is known: only the pieces before it count.
  auto lost = topic;
  lost.erase(id_piece_key(w, 1));
  CHECK(join_id_pieces(lost, w, all.size()).size() == kIdsPerPiece);
  // A restart mid-window resumes from the window's ids, and the next
  // append rewrites the partial piece from its start.
  IdPieceWriter resumed;
  resumed.resume(w, all);
  auto more = keys_named("q", 10);
  auto pieces = resumed.append(more);
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].key == id_piece_key(w, 2));
  CHECK(decode_keys(*pieces[0].value).size() == 512 + 10);
  write_compacted(topic, pieces);
  all.insert(all.end(), more.begin(), more.end());
  CHECK(join_id_pieces(topic, w, all.size()) == all);
  // Retiring the window deletes every piece.
  write_compacted(topic, erase_id_pieces(w, all.size()));
  CHECK(topic.empty());
  CHECK(id_piece_keys(w, 0).empty());
  CHECK(id_piece_keys(w, kIdsPerPiece).size() == 1);
  CHECK(id_piece_keys(w, kIdsPerPiece + 1).size() == 2);
}

TEST_CASE("id pieces (#30): a new owner without the last one's disk restores a window's ids from beside the position") {
  auto dir = temp_dir("restore");
  const int64_t awaiting = 1795000000, open = 1795000060;
  std::map<std::string, std::string> topic;
  IdPieceWriter writer;
  writer.resume(awaiting, {});
  auto first = keys_named("a", 5000);
  write_compacted(topic, writer.append(first));
  writer.resume(open, {});
  write_compacted(topic, writer.append(keys_named("o", 3)));
  PullState s;
  s.account = "acme";
  s.first = {open, open + 60, "c"};
  s.first_late_read = true;
  s.awaiting = {{awaiting, open}};
  s.id_counts = {{awaiting, 5000}, {open, 2}};  // the open window's third id was not committed
  const std::string from = "sink kafka's checkpoint topic";
  PullCheckpoint store((dir / "cp.json").string(), false);
  // What the sink is asked for: every piece of the counted ids.
  CHECK(store.pieces_needed(serialize(s)) == std::set<std::string>{id_piece_key(awaiting, 0), id_piece_key(awaiting, 1),
                                                                    id_piece_key(awaiting, 2), id_piece_key(awaiting, 3),
                                                                    id_piece_key(awaiting, 4), id_piece_key(open, 0)});
  store.adopt(serialize(s), from, topic);
  OfflineSource offline(store);
  offline.source.open("acme", 0);
  CHECK(store.read_ids(awaiting) == first);
  CHECK(store.read_ids(open) == keys_named("o", 2));
  CHECK(offline.logs.str().find("\"ids\":5002") != std::string::npos);
  CHECK(offline.logs.str().find("are missing") == std::string::npos);
  // What the disk now holds is not asked for again.
  CHECK(store.pieces_needed(serialize(s)).empty());
  // A sink that lost pieces: the prefix it holds, and the rest reported missing.
  auto dir2 = temp_dir("restore-short");
  auto partial = topic;
  partial.erase(id_piece_key(awaiting, 1));
  PullCheckpoint fresh((dir2 / "cp.json").string(), false);
  fresh.adopt(serialize(s), from, partial);
  OfflineSource short_source(fresh);
  short_source.source.open("acme", 0);
  CHECK(fresh.count_ids(awaiting) == kIdsPerPiece);
  CHECK(short_source.logs.str().find("are missing") != std::string::npos);
  fs::remove_all(dir);
  fs::remove_all(dir2);
}

TEST_CASE("checkpoint: a second process on the same checkpoint is refused") {
  auto dir = temp_dir("lock");
  PullCheckpoint first((dir / "cp.json").string());
  // flock locks belong to the open file description, so a second open in
  // this process conflicts exactly as another process would.
  CHECK_THROWS_WITH_AS(PullCheckpoint((dir / "cp.json").string()),
                       doctest::Contains("in use by another zendesk-forwarder"), FatalError);
  fs::remove_all(dir);
}

TEST_CASE("checkpoint: corrupt or foreign files stop the forwarder with a clear message") {
  auto dir = temp_dir("corrupt");
  struct Fixture {
    const char* name;
    std::string text;
    const char* expect;
  };
  const std::string v2_head = "{\"version\":2,\"account\":\"acme\",\"first_read\":{\"window_start\":100,"
                              "\"window_end\":0,\"cursor\":\"\"},";
  std::vector<Fixture> fixtures = {
      {"truncated", "{\"version\":1,\"account\":\"acme\",\"posi", "not valid JSON"},
      {"empty", "", "not valid JSON"},
      {"binary", std::string("\x00\x01\x02garbage", 10), "not valid JSON"},
      {"array", "[1,2,3]", "not a JSON object"},
      {"future version", "{\"version\":99}", "version 99 is not supported"},
      {"missing position", "{\"version\":1,\"account\":\"acme\",\"recent_ids\":[]}", "missing or has the wrong type"},
      {"wrong types",
       "{\"version\":1,\"account\":\"acme\",\"position\":{\"window_start\":\"x\",\"window_end\":0,\"cursor\":\"\"},"
       "\"recent_ids\":[]}",
       "wrong type"},
      {"inconsistent window",
       "{\"version\":1,\"account\":\"acme\",\"position\":{\"window_start\":100,\"window_end\":50,\"cursor\":\"\"},"
       "\"recent_ids\":[]}",
       "inconsistent"},
      {"v2 windows out of order", v2_head + "\"awaiting_late_read\":[[50,60],[40,50]],\"late_read\":null}",
       "out-of-order"},
      {"v2 late read over nothing",
       v2_head + "\"awaiting_late_read\":[],\"late_read\":{\"window_start\":10,\"window_end\":20,\"cursor\":\"\"}}",
       "late_read does not cover"},
  };
  for (const auto& f : fixtures) {
    CAPTURE(f.name);
    auto path = dir / "cp.json";
    {
      std::ofstream out(path, std::ios::binary);
      out << f.text;
    }
    PullCheckpoint store(path.string());
    CHECK_THROWS_WITH_AS(store.load(), doctest::Contains(f.expect), FatalError);
    CHECK_THROWS_WITH_AS(store.load(), doctest::Contains("move it aside"), FatalError);
  }
  fs::remove_all(dir);
}

TEST_CASE("checkpoint (#18): a symlink planted at the temp path is replaced, never followed") {
  auto dir = temp_dir("plant");
  {
    std::ofstream victim(dir / "victim");
    victim << "precious";
  }
  fs::create_symlink(dir / "victim", dir / "cp.json.tmp");
  PullCheckpoint store((dir / "cp.json").string());
  PullState s;
  s.account = "acme";
  s.first.window_start = 100;
  store.save(s);
  CHECK(read_text(dir / "victim") == "precious");
  REQUIRE(store.load());
  CHECK(store.load()->state == s);
  fs::remove_all(dir);
}

TEST_CASE("checkpoint (#19): a dangling symlink is an error, not a fresh start; a live one is written through") {
  auto dir = temp_dir("links");
  fs::create_symlink(dir / "missing.json", dir / "cp.json");
  CHECK_THROWS_WITH_AS(PullCheckpoint((dir / "cp.json").string()), doctest::Contains("does not exist"), FatalError);
  fs::remove(dir / "cp.json");
  fs::create_directories(dir / "volume");
  {
    std::ofstream target(dir / "volume" / "real.json");
  }
  fs::create_symlink(dir / "volume" / "real.json", dir / "cp.json");
  PullState s;
  s.account = "acme";
  s.first.window_start = 100;
  {
    PullCheckpoint store((dir / "cp.json").string());
    store.save(s);
  }
  CHECK(fs::is_symlink(fs::symlink_status(dir / "cp.json")));  // the link is kept
  CHECK(deserialize(read_text(dir / "volume" / "real.json"), "x").state == s);
  fs::remove_all(dir);
}

TEST_CASE("checkpoint (#19): a position in the future stops the forwarder, naming the clock") {
  auto dir = temp_dir("future");
  PullState s;
  s.account = "acme";
  s.first.window_start = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count() + 86400;
  std::ostringstream logs;
  Logger log(logs);
  ProcessMetrics process_metrics("test");
  PullMetrics metrics(process_metrics, "zendesk", "acme");
  StopSignal stop;
  PullCheckpoint store((dir / "cp.json").string());
  store.save(s);
  HttpClient http({});
  RateLimiter limiter(50, std::chrono::seconds(60), std::chrono::milliseconds(0));
  AccessLogSource source({}, http, limiter, store, log, metrics, stop);
  CHECK_THROWS_WITH_AS(source.open("acme", 0), doctest::Contains("in the future: is this machine's clock right?"),
                       FatalError);
  fs::remove_all(dir);
}

TEST_CASE("ledger (#18): per-minute counts and digests add up in any order, survive reopening, compact to one entry per minute") {
  auto dir = temp_dir("ledger");
  std::string path = (dir / "cp.json.ledger").string();
  int64_t t0 = 1795514400;  // a minute boundary
  // The same six ids delivered as pages in two different orders.
  Ledger a, b;
  for (int i = 0; i < 6; ++i) a[ledger_bucket_of((t0 + i * 20) * 1000)].add("ID" + std::to_string(i));
  for (int i = 5; i >= 0; --i) b[ledger_bucket_of((t0 + i * 20) * 1000)].add("ID" + std::to_string(i));
  CHECK(a == b);
  CHECK(a.size() == 2);  // 0, 20, 40 s in the first minute; 60, 80, 100 s in the next
  CHECK(a.at(t0).count == 3);
  {
    DeliveryLedger ledger(path);
    for (int i = 0; i < 6; ++i) {  // one commit per event
      Ledger one;
      one[ledger_bucket_of((t0 + i * 20) * 1000)].add("ID" + std::to_string(i));
      ledger.append(one);
    }
  }
  CHECK(DeliveryLedger::read(path) == a);
  CHECK(std::filesystem::file_size(path) == 6 * DeliveryLedger::kEntryBytes);
  // A torn last entry (a crash mid-append) is ignored.
  { std::ofstream(path, std::ios::app | std::ios::binary) << "partial"; }
  CHECK(DeliveryLedger::read(path) == a);
  std::filesystem::resize_file(path, 6 * DeliveryLedger::kEntryBytes);

  // Compaction: one entry per minute, and nothing older than 90 days
  // before the newest minute.
  DeliveryLedger ledger(path);
  Ledger old;
  old[t0 - 91 * 86400].add("OLD");
  ledger.append(old);
  for (int i = 0; i < 9000; ++i) {  // past 2 x 4096 entries
    Ledger one;
    one[t0 + 60 * (i % 100)].add("X" + std::to_string(i));
    ledger.append(one);
  }
  Ledger after = DeliveryLedger::read(path);
  CHECK_FALSE(after.count(t0 - 91 * 86400));
  CHECK(after.at(t0 + 60 * 50).count == 90);
  CHECK(after.at(t0).count == 3 + 90);
  CHECK(std::filesystem::file_size(path) < 9000 * DeliveryLedger::kEntryBytes);
  fs::remove_all(dir);
}
