#!/usr/bin/env bash
# verify (#18): a run ships every event to a JSON-lines file; the test then
# deletes 37 known records from the file and fills a Kafka topic with the
# same records but 37 others, and plants duplicates and one unknown record.
# `verify` must name exactly those ids missing in each sink, the duplicates
# with their counts and the unknown one, and exit 1; `verify --repair`
# ships the missing ones; `verify` then finds nothing missing and exits 0
# for the sinks it can read (--sink), and 1 naming the syslog sink when
# that one is part of the proof.
# The listing stays within its share of the budget (the emulator's request
# log).
# usage: verify_test.sh FORWARDER EMULATOR MOCK_CLUSTER
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/kafka.sh"
FWD=$1 EMU=$2 MOCK=$3
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }
zf_start_emulator "$EMU" --events 20000 --seed 18 --rate-limit 20 --rate-window 2s
zf_start_mock_cluster "$MOCK" --topic verify:3:1

budget="  page_size: 1000
  rate_limit: {requests: 20, period: 2s}"
zf_forwarder_config "$ZF_TMP/run.yaml" "  - {type: jsonl, path: $ZF_TMP/out.jsonl, fsync: false}" "$budget"
"$FWD" run --once --config "$ZF_TMP/run.yaml" 2>"$ZF_TMP/run.log" || fail "forwarder exited $?"
[ "$(wc -l <"$ZF_TMP/out.jsonl")" = 20000 ] || fail "the run did not ship 20000 events"

# The sinks' losses, duplicates and strangers, planted.
/usr/bin/python3 - "$ZF_TMP" <<'PY'
import json, random, sys
tmp = sys.argv[1]
lines = open(f"{tmp}/out.jsonl").read().splitlines()
rng = random.Random(18)
picked = rng.sample(range(len(lines)), 74)
gone_file, gone_topic = set(picked[:37]), set(picked[37:])
ids = [json.loads(l)["event"]["id"] for l in lines]
dup_file = {ids[1]: 3, ids[2]: 2}     # copies in total
dup_topic = {ids[3]: 2}
stranger = json.loads(lines[0]); stranger["event"]["id"] = "01ZZZZZZZZZZZZZZZZZZZZZZZZ"
with open(f"{tmp}/out.jsonl", "w") as f:
    for i, l in enumerate(lines):
        if i in gone_file: continue
        for _ in range(dup_file.get(ids[i], 1)): f.write(l + "\n")
    f.write(json.dumps(stranger) + "\n")
with open(f"{tmp}/topic.tsv", "w") as f:
    for i, l in enumerate(lines):
        if i in gone_topic: continue
        for _ in range(dup_topic.get(ids[i], 1)): f.write(ids[i] + "\t" + l + "\n")
json.dump({"file_missing": sorted(ids[i] for i in gone_file), "topic_missing": sorted(ids[i] for i in gone_topic),
           "file_dup": dup_file, "topic_dup": dup_topic, "stranger": stranger["event"]["id"]},
          open(f"{tmp}/planted.json", "w"))
PY
zf_kcat_produce verify <"$ZF_TMP/topic.tsv" 2>"$ZF_TMP/kcat.log" || fail "kcat could not fill the topic"

zf_forwarder_config "$ZF_TMP/verify.yaml" "  - {type: jsonl, path: $ZF_TMP/out.jsonl, fsync: false}
  - {type: kafka, brokers: \"$BOOT\", topic: verify}
  - {type: syslog, host: 127.0.0.1, port: 9, transport: udp}" "$budget"

# A Pushgateway stand-in: keeps the body of each PUT.
/usr/bin/python3 - "$ZF_TMP" <<'PY' &
import http.server, sys
tmp = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        open(f"{tmp}/pushed.prom", "wb").write(body)
        open(f"{tmp}/pushed.path", "w").write(self.path)
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(f"{tmp}/push.port", "w").write(str(s.server_port))
s.serve_forever()
PY
ZF_PIDS+=($!)
zf_wait_file "$ZF_TMP/push.port" 10

arrivals() { curl -sf "$EMU_URL/_emulator/stats" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["arrivals_ms"]))'; }
before=$(arrivals)
set +e
"$FWD" verify --config "$ZF_TMP/verify.yaml" --since 1d --until 1s --report "$ZF_TMP/report.json" \
  --metrics-file "$ZF_TMP/verify.prom" --pushgateway "http://127.0.0.1:$(cat "$ZF_TMP/push.port")" \
  >"$ZF_TMP/verify.out" 2>"$ZF_TMP/verify.log"
code=$?
set -e
cat "$ZF_TMP/verify.out"
[ "$code" = 1 ] || fail "verify exited $code with events missing (expected 1)"

/usr/bin/python3 - "$ZF_TMP" "$EMU_URL" "$before" <<'PY' || fail "the report is wrong"
import json, sys, urllib.request
tmp, emu, before = sys.argv[1], sys.argv[2], int(sys.argv[3])
r, p = json.load(open(f"{tmp}/report.json")), json.load(open(f"{tmp}/planted.json"))
sinks = {s["name"]: s for s in r["sources"][0]["sinks"]}
assert r["sources"][0]["api_events"] == 20000, r["sources"][0]["api_events"]
checks = [
    (sorted(sinks["jsonl"]["missing"]) == p["file_missing"], "jsonl: the 37 deleted ids missing"),
    (sinks["jsonl"]["duplicated"] == p["file_dup"], "jsonl: duplicates with their counts"),
    (sinks["jsonl"]["unknown"] == [p["stranger"]], "jsonl: the planted stranger unknown"),
    (sorted(sinks["kafka"]["missing"]) == p["topic_missing"], "kafka: the 37 dropped ids missing"),
    (sinks["kafka"]["duplicated"] == p["topic_dup"], "kafka: duplicates with their counts"),
    (sinks["kafka"]["unknown"] == [], "kafka: nothing unknown"),
    (sinks["syslog"]["readable"] is False, "syslog: said to be unreadable"),
]
for ok, what in checks:
    print(("ok   " if ok else "FAIL ") + what)
# Budget: at most half of 20 requests in any 2 s (less 100 ms of arrival
# jitter), measured from the emulator's request log.
stats = json.load(urllib.request.urlopen(f"{emu}/_emulator/stats"))
log = stats["arrivals_ms"][before:]
most, i = 0, 0
for j in range(len(log)):
    while log[j] - log[i] >= 1900: i += 1
    most = max(most, j - i + 1)
print(f"listing: {len(log)} requests, at most {most} within 2 s (share 0.5 of 20); 429s in total: {stats['rate_limited']}")
checks.append((most <= 10 and len(log) >= 20, "listing within its budget share"))
sys.exit(0 if all(ok for ok, _ in checks) else 1)
PY

# Resumable listing: a verify stopped (SIGTERM) part-way through the
# listing exits 1 and keeps its state beside the checkpoint; `--resume`
# continues it with fewer requests than a whole listing and reports the
# same as the uninterrupted run. On a terminal (script(1) gives it a pty)
# the listing draws a progress bar with an ETA.
full_requests=$(( $(arrivals) - before ))
# A resume continues the listing of the very same period: timestamps, not
# durations back from now.
SINCE=$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:%SZ) UNTIL=$(date -u +%Y-%m-%dT%H:%M:%SZ)
before=$(arrivals)
"$FWD" verify --config "$ZF_TMP/verify.yaml" --since "$SINCE" --until "$UNTIL" >"$ZF_TMP/cut.out" 2>"$ZF_TMP/cut.log" &
cut_pid=$!
for _ in $(seq 100); do [ $(( $(arrivals) - before )) -ge 6 ] && break; sleep 0.1; done
kill -TERM $cut_pid
set +e; wait $cut_pid; code=$?; set -e
[ "$code" = 1 ] || fail "verify stopped mid-listing exited $code (expected 1)"
grep -q -- "--resume" "$ZF_TMP/cut.log" || fail "the stopped verify does not say how to resume"
ls -d "$ZF_TMP"/listing-zendesk-* >/dev/null || fail "no listing state kept beside the checkpoint"
cut_requests=$(( $(arrivals) - before ))
sleep 2  # the emulator's rate window forgets the stopped run's requests
before=$(arrivals)
set +e
script -qfec "$FWD verify --config $ZF_TMP/verify.yaml --since $SINCE --until $UNTIL --resume --report $ZF_TMP/resumed.json" \
  /dev/null >"$ZF_TMP/resumed.tty" 2>&1 </dev/null
set -e
resumed_requests=$(( $(arrivals) - before ))
echo "resume: whole listing $full_requests requests; stopped after $cut_requests, resumed with $resumed_requests"
[ $((cut_requests + resumed_requests)) -le $((full_requests + 1)) ] || fail "the resumed listing read again what was listed"
grep -q "resuming an interrupted listing" "$ZF_TMP/resumed.tty" || fail "the resumed verify did not resume"
grep -q $'\r''verify: listing zendesk \[#*\.*\] *[0-9]*%  pages [0-9]*  events [0-9]*  at .*ETA ' "$ZF_TMP/resumed.tty" \
  || fail "no progress bar on a terminal"
grep -q '100%' "$ZF_TMP/resumed.tty" || fail "the progress bar never reached 100%"
! ls -d "$ZF_TMP"/listing-zendesk-* 2>/dev/null || fail "the listing state outlived a complete verify"
/usr/bin/python3 - "$ZF_TMP" <<'PY' || fail "the resumed verify reports otherwise than the whole one"
import json, sys
tmp = sys.argv[1]
a, b = json.load(open(f"{tmp}/report.json")), json.load(open(f"{tmp}/resumed.json"))
strip = lambda r: [(s["name"], sorted(s.get("missing", [])), s.get("duplicated"), s.get("unknown")) for s in r["sources"][0]["sinks"]]
assert b["sources"][0]["api_events"] == 20000 and strip(a) == strip(b), (b["sources"][0]["api_events"])
print("resume: same report as the uninterrupted verify (20000 at the API, same missing, duplicated, unknown)")
PY

# The outcome as metrics, in a file and pushed, in valid exposition format.
promtool check metrics <"$ZF_TMP/verify.prom" || fail "promtool rejects the metrics file"
cmp -s "$ZF_TMP/verify.prom" "$ZF_TMP/pushed.prom" || fail "the pushed metrics differ from the file"
[ "$(cat "$ZF_TMP/pushed.path")" = /metrics/job/zendesk-forwarder-verify ] || fail "pushed to $(cat "$ZF_TMP/pushed.path")"
for sink in jsonl kafka; do
  grep -q "^zendesk_forwarder_verify_missing_events{account=\"127.0.0.1\",sink=\"$sink\",source=\"zendesk\"} 37$" \
    "$ZF_TMP/verify.prom" || fail "missing_events for $sink is not 37"
done
echo "metrics: $(grep -c '^zendesk_forwarder_verify' "$ZF_TMP/verify.prom") series, promtool ok, pushed"

# --ledger: the ledger (beside the checkpoint) says every minute was
# delivered, so no sink is read and nothing is reported missing.
"$FWD" verify --config "$ZF_TMP/run.yaml" --since 1d --until 1s --ledger --report "$ZF_TMP/ledger1.json" \
  >"$ZF_TMP/ledger1.out" 2>"$ZF_TMP/ledger1.log" || fail "verify --ledger exited $? on a complete ledger"
cat "$ZF_TMP/ledger1.out"
# The minute of event time of every record either sink ever held.
cat >"$ZF_TMP/minutes.py" <<'PY'
import datetime, json
def minutes(tmp):
    out = {}
    def add(rec):
        t = datetime.datetime.strptime(rec["@timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
        t = int(t.replace(tzinfo=datetime.timezone.utc).timestamp())
        out.setdefault(rec["event"]["id"], t - t % 60)
    for line in open(f"{tmp}/topic.tsv"):
        add(json.loads(line.split("\t", 1)[1]))
    for line in open(f"{tmp}/out.jsonl"):
        add(json.loads(line))
    return out
PY
# Minutes absent from the ledger (as after a crash between a checkpoint
# write and its ledger entry): only those are read from the sinks, and the
# missing events in them are found.
/usr/bin/python3 - "$ZF_TMP" <<'PY' || fail "the complete ledger was not trusted"
import json, struct, sys
tmp = sys.argv[1]
sys.path.insert(0, tmp)
from minutes import minutes
src = json.load(open(f"{tmp}/ledger1.json"))["sources"][0]
assert src["ledger"]["minutes_differing"] == 0, src["ledger"]
assert all("verified_by" in s for s in src["sinks"]), src["sinks"]
p, m = json.load(open(f"{tmp}/planted.json")), minutes(tmp)
drop = {m[i] for i in p["file_missing"][:5] + p["topic_missing"][:2]}
ledger = open(f"{tmp}/checkpoint.json.ledger", "rb").read()
kept = b"".join(ledger[o:o + 24] for o in range(0, len(ledger), 24)
                if struct.unpack("<q", ledger[o:o + 8])[0] not in drop)
open(f"{tmp}/checkpoint.json.ledger", "wb").write(kept)
json.dump(sorted(drop), open(f"{tmp}/dropped_minutes.json", "w"))
print(f"ledger: {len(ledger) // 24} entries, the {len(drop)} minutes of 7 losses taken out")
PY
set +e
"$FWD" verify --config "$ZF_TMP/verify.yaml" --since 1d --until 1s --ledger --report "$ZF_TMP/ledger2.json" \
  >"$ZF_TMP/ledger2.out" 2>"$ZF_TMP/ledger2.log"
code=$?
set -e
cat "$ZF_TMP/ledger2.out"
[ "$code" = 1 ] || fail "verify --ledger exited $code with events missing in the differing minutes"
/usr/bin/python3 - "$ZF_TMP" <<'PY' || fail "verify --ledger reported the wrong ids"
import json, sys
tmp = sys.argv[1]
sys.path.insert(0, tmp)
from minutes import minutes
p, m = json.load(open(f"{tmp}/planted.json")), minutes(tmp)
drop = set(json.load(open(f"{tmp}/dropped_minutes.json")))
r = json.load(open(f"{tmp}/ledger2.json"))["sources"][0]
sinks = {s["name"]: s for s in r["sinks"]}
want_file = sorted(i for i in p["file_missing"] if m[i] in drop)
want_topic = sorted(i for i in p["topic_missing"] if m[i] in drop)
ok = (r["ledger"]["minutes_differing"] == len(drop) and sorted(sinks["jsonl"]["missing"]) == want_file
      and sorted(sinks["kafka"]["missing"]) == want_topic and len(want_file) >= 5 and len(want_topic) >= 2)
print(f"--ledger: {len(drop)} minutes differ; jsonl missing {len(sinks['jsonl']['missing'])} (want {len(want_file)}), "
      f"kafka missing {len(sinks['kafka']['missing'])} (want {len(want_topic)}) -> {'ok' if ok else 'WRONG'}")
sys.exit(0 if ok else 1)
PY

# --ledger --repair: ships the missing events of the differing minutes only.
# The syslog sink cannot be read back: left out with --sink, so that the
# exit code is the proof of the two others.
PROVE="--sink jsonl --sink kafka"
"$FWD" verify --config "$ZF_TMP/verify.yaml" --since 1d --until 1s --ledger --repair $PROVE --report "$ZF_TMP/ledger3.json" \
  >"$ZF_TMP/ledger3.out" 2>"$ZF_TMP/ledger3.log" || fail "verify --ledger --repair exited $?"
cat "$ZF_TMP/ledger3.out"
/usr/bin/python3 - "$ZF_TMP" <<'PY' || fail "verify --ledger --repair repaired the wrong events"
import json, sys
tmp = sys.argv[1]
before = {s["name"]: s for s in json.load(open(f"{tmp}/ledger2.json"))["sources"][0]["sinks"]}
after = {s["name"]: s for s in json.load(open(f"{tmp}/ledger3.json"))["sources"][0]["sinks"]}
file_ids = {json.loads(l)["event"]["id"] for l in open(f"{tmp}/out.jsonl")}
ok = all(after[n].get("repaired") == len(before[n]["missing"]) for n in ("jsonl", "kafka"))
ok = ok and all(i in file_ids for i in before["jsonl"]["missing"])
print(f"--ledger --repair: repaired jsonl {after['jsonl'].get('repaired')}, kafka {after['kafka'].get('repaired')}; "
      f"the jsonl file holds them again -> {'ok' if ok else 'WRONG'}")
sys.exit(0 if ok else 1)
PY

"$FWD" verify --config "$ZF_TMP/verify.yaml" --since 1d --until 1s --repair $PROVE --report "$ZF_TMP/repair.json" \
  >"$ZF_TMP/repair.out" 2>"$ZF_TMP/repair.log" || fail "verify --repair exited $?"
cat "$ZF_TMP/repair.out"
"$FWD" verify --config "$ZF_TMP/verify.yaml" --since 1d --until 1s $PROVE --report "$ZF_TMP/after.json" \
  >"$ZF_TMP/after.out" 2>"$ZF_TMP/after.log" || fail "verify after the repair exited $?"
cat "$ZF_TMP/after.out"
# With the syslog sink in the proof, nothing is missing in the others but
# the period is not proved: exit 1, saying which sink (#26 item 2).
set +e
"$FWD" verify --config "$ZF_TMP/verify.yaml" --since 1d --until 1s --report "$ZF_TMP/syslog.json" \
  >"$ZF_TMP/syslog.out" 2>"$ZF_TMP/syslog.log"
code=$?
set -e
[ "$code" = 1 ] || fail "verify with an unreadable syslog sink exited $code (expected 1: not proved)"
grep -q "zendesk -> syslog: not verified (a syslog sink cannot be read back" "$ZF_TMP/syslog.out" ||
  fail "verify does not say the syslog sink was not verified"
/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
u = r["unverified"]
sys.exit(0 if not r["complete"] and len(u) == 1 and u[0]["sink"] == "syslog" else 1)' "$ZF_TMP/syslog.json" ||
  fail "the report does not name the syslog sink as unverified"
echo "an unreadable sink in the proof: exit 1, named"
/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
missing = sum(len(s.get("missing", [])) for s in r["sources"][0]["sinks"])
print("after the repair:", missing, "missing")
sys.exit(0 if missing == 0 and r["complete"] else 1)' "$ZF_TMP/after.json" || fail "events still missing after --repair"
echo "PASS"
