#!/usr/bin/env bash
# Pull ships first, Zendesk pushes the same events afterwards (#26 item 1):
# the emulator holds back 30% of its push requests for LATE_MS, longer than
# the pull source's settle_delay, so pull ships those events first; when the
# held pushes finally arrive (plus 5% duplicates and 5% replays) they are
# answered 200 and shipped nothing. Every event reaches the jsonl and the
# kafka sink exactly once, zendesk_forwarder_webhook_missed_total counts the
# events pull shipped first, and the pull source's dedup bookkeeping holds
# only pages not yet committed (reported at stop).
# usage: push_after_pull_test.sh FORWARDER EMULATOR MOCK_CLUSTER
#   PUSH_SECONDS (8) seconds of live events; LATE_MS (8000: twice settle_delay
#   plus poll_interval, so pull surely ships first); RATE (300/s).
#   A long run: PUSH_SECONDS=1800 LATE_MS=180000 push_after_pull_test.sh ...
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../kafka/kafka.sh"
FWD=$1 EMU=$2 MOCK=$3
HERE=$(cd "$(dirname "$0")" && pwd)
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
emulator() { curl -sf -XPOST "$EMU_URL/_emulator/config" -d "$1" >/dev/null || fail "emulator config $1"; }
metric() { curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v m="$1" '$1 ~ "^"m {s += $2} END {print s + 0}'; }
pushes() { curl -sf "$EMU_URL/_emulator/pushes"; }
PUSH_SECONDS=${PUSH_SECONDS:-8} LATE_MS=${LATE_MS:-8000} RATE=${RATE:-300}

zf_start_emulator "$EMU" --events 0 --seed 26 --rate-limit 0
zf_start_mock_cluster "$MOCK" --topic access:3:3
HOOK_PORT=$(free_port) METRICS_PORT=$(free_port)
export ZF_HOOK_SECRET=push-after-pull-secret
cat >"$ZF_TMP/both.yaml" <<YAML
sources:
  - type: zendesk_webhook
    name: push
    account: 127.0.0.1
    listen: 127.0.0.1:$HOOK_PORT
    signing_secret: \${ZF_HOOK_SECRET}
    checkpoint: {path: $ZF_TMP/push.ids}
  - type: zendesk_pull
    name: pull
    base_url: $EMU_URL
    auth: {type: api_token, email: agent@example.com, token: emulator-token}
    start: 1m
    settle_delay: 3s
    poll_interval: 1s
    late_read_delay: 0s
    dedup_with: push
    checkpoint: {path: $ZF_TMP/checkpoint.json}
metrics: {listen: 127.0.0.1:$METRICS_PORT}
sinks:
  - {type: jsonl, path: $ZF_TMP/out.jsonl, fsync: false}
  - {type: kafka, brokers: "$BOOT", topic: access}
YAML
"$FWD" run --config "$ZF_TMP/both.yaml" 2>"$ZF_TMP/forwarder.log" &
FWD_PID=$!
ZF_PIDS+=($FWD_PID)
for _ in $(seq 100); do grep -q "webhook listening" "$ZF_TMP/forwarder.log" && break; sleep 0.1; done

emulator "{\"push\": {\"url\": \"http://127.0.0.1:$HOOK_PORT/zendesk/access-logs\", \"secret\": \"$ZF_HOOK_SECRET\",
  \"late\": 0.3, \"late_delay_ms\": $LATE_MS, \"duplicate\": 0.05, \"replay\": 0.05}, \"live_rate\": $RATE}"
sleep "$PUSH_SECONDS"
emulator '{"live_rate": 0}'
total=$(curl -sf "$EMU_URL/_emulator/ids" | wc -l)
echo "the emulator made $total events in ${PUSH_SECONDS}s; 30% of its pushes wait ${LATE_MS} ms"
# Every held push is answered before we look (LATE_MS after the last one).
for _ in $(seq $((LATE_MS / 1000 + 60))); do
  pushes | /usr/bin/python3 -c 'import json,sys; p=json.load(sys.stdin); sys.exit(p["events_acknowledged"] < p["events"])' \
    && break
  sleep 1
done
sleep 2
missed=$(metric zendesk_forwarder_webhook_missed_total)
kill -TERM $FWD_PID; wait $FWD_PID || fail "the forwarder exited $? on SIGTERM"
/usr/bin/python3 "$HERE/../kafka/consume.py" "$BOOT" access "$ZF_TMP/kafka.ids" 3 || fail "malformed Kafka messages"
pushes >"$ZF_TMP/pushes.json"
curl -sf "$EMU_URL/_emulator/ids" >"$ZF_TMP/ids"
echo "pull source at stop: $(grep -o '"push_dedup_pages_pending":[0-9]*' "$ZF_TMP/forwarder.log" || echo none)"

/usr/bin/python3 - "$ZF_TMP" "$missed" <<'PY' || fail "not exactly once"
import json, sys
tmp, missed = sys.argv[1], float(sys.argv[2])
want = set(open(f"{tmp}/ids").read().split())
p = json.load(open(f"{tmp}/pushes.json"))
print(f"emulator: {p['events']} events pushed in {p['requests']} requests {p['by_status']}: "
      f"{p['events_acknowledged']} acknowledged, {p['late']} requests held back, {p['duplicates']} duplicates, "
      f"{p['replays']} replays")
ok = True
for name, ids in (("jsonl", [json.loads(l)["event"]["id"] for l in open(f"{tmp}/out.jsonl")]),
                  ("kafka", open(f"{tmp}/kafka.ids").read().split())):
    got = set(ids)
    print(f"{name}: {len(ids)} records, {len(got)} distinct, {len(want - got)} missing, "
          f"{len(ids) - len(got)} duplicated, {len(got - want)} unexpected of {len(want)}")
    ok &= got == want and len(ids) == len(want)
print(f"webhook_missed_total {missed:.0f} (events pull shipped before their push came)")
# Pull must really have shipped first for a share of the events, and every
# late push must have been answered 2xx (a duplicate, not an error).
ok &= p["late"] > 0 and missed > 0 and p["events_acknowledged"] == p["events"]
sys.exit(0 if ok else 1)
PY
echo "PASS"
