#!/usr/bin/env bash
# Push and pull for one account in one process, at a busy account's rate
# (#16): the emulator makes 2,000 events/s and pushes them as Zendesk does
# (batches, signatures, retries on 503), dropping 20% of its requests,
# signing 2% wrongly, sending 5% twice and replaying 5% of old ones. The
# pull source (dedup_with: push, settle_delay 30 s: the reconciliation
# pass) skips what push delivered and ships the rest. Midway every Kafka
# broker goes down for 5 s: pushes are answered 503 with Retry-After and
# the emulator's retries succeed afterwards. Every event reaches the jsonl
# and the kafka sink exactly once, and zendesk_forwarder_webhook_missed_total
# equals the events the emulator never got acknowledged.
# usage: push_pull_test.sh FORWARDER EMULATOR MOCK_CLUSTER
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../kafka/kafka.sh"
FWD=$1 EMU=$2 MOCK=$3
HERE=$(cd "$(dirname "$0")" && pwd)
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
emulator() { curl -sf -XPOST "$EMU_URL/_emulator/config" -d "$1" >/dev/null || fail "emulator config $1"; }
metric() { curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v m="$1" '$1 ~ "^"m {s += $2} END {print s + 0}'; }
PUSH_SECONDS=${PUSH_SECONDS:-12}

zf_start_emulator "$EMU" --events 0 --seed 16 --rate-limit 0
zf_start_mock_cluster "$MOCK" --control "$ZF_TMP/control" --topic access:3:3
HOOK_PORT=$(free_port) METRICS_PORT=$(free_port)
export ZF_HOOK_SECRET=push-secret-K8s
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
    settle_delay: 30s
    poll_interval: 2s
    late_read_delay: 0s
    page_size: 1000
    dedup_with: push
    checkpoint: {path: $ZF_TMP/checkpoint.json}
metrics: {listen: 127.0.0.1:$METRICS_PORT}
sinks:
  - {type: jsonl, path: $ZF_TMP/out.jsonl, fsync: false}
  - {type: kafka, brokers: "$BOOT", topic: access, message_timeout_ms: 30000}
YAML
"$FWD" run --config "$ZF_TMP/both.yaml" 2>"$ZF_TMP/forwarder.log" &
FWD_PID=$!
ZF_PIDS+=($FWD_PID)
for _ in $(seq 100); do grep -q "webhook listening" "$ZF_TMP/forwarder.log" && break; sleep 0.1; done

emulator "{\"push\": {\"url\": \"http://127.0.0.1:$HOOK_PORT/zendesk/access-logs\", \"secret\": \"$ZF_HOOK_SECRET\",
  \"drop\": 0.2, \"corrupt\": 0.02, \"duplicate\": 0.05, \"replay\": 0.05}, \"live_rate\": 2000}"
sleep $((PUSH_SECONDS / 2))
echo "down all" >"$ZF_TMP/control"
sleep 5
echo "up all" >"$ZF_TMP/control"
sleep $((PUSH_SECONDS / 2))
emulator '{"live_rate": 0}'
total=$(curl -sf "$EMU_URL/_emulator/ids" | wc -l)
echo "the emulator made $total events in ${PUSH_SECONDS}s + 5s of outage"
# Pull reaches the last of them 30 s (settle_delay) after they were made.
for _ in $(seq 120); do [ "$(zf_lines "$ZF_TMP/out.jsonl")" -ge "$total" ] && break; sleep 1; done
sleep 3
missed=$(metric zendesk_forwarder_webhook_missed_total)
refused=$(metric 'zendesk_forwarder_webhook_requests_total[{].*outcome="(not_acknowledged|backpressure)"')
kill -TERM $FWD_PID; wait $FWD_PID || fail "the forwarder exited $? on SIGTERM"
/usr/bin/python3 "$HERE/../kafka/consume.py" "$BOOT" access "$ZF_TMP/kafka.ids" 4 || fail "malformed Kafka messages"
curl -sf "$EMU_URL/_emulator/pushes" >"$ZF_TMP/pushes.json"
curl -sf "$EMU_URL/_emulator/ids" >"$ZF_TMP/ids"
grep -q "$ZF_HOOK_SECRET" "$ZF_TMP/forwarder.log" && fail "the signing secret is in the log"

/usr/bin/python3 - "$ZF_TMP" "$missed" "$refused" <<'PY' || fail "not exactly once"
import json, sys
tmp, missed, refused = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
want = set(open(f"{tmp}/ids").read().split())
p = json.load(open(f"{tmp}/pushes.json"))
lost = p["events_dropped"] + p["events_corrupted"] + p["events_given_up"]
print(f"emulator: {p['events']} events pushed in {p['requests']} requests {p['by_status']}: "
      f"{p['events_acknowledged']} acknowledged, {p['events_dropped']} dropped, {p['events_corrupted']} signed wrongly, "
      f"{p['events_given_up']} given up; {p['duplicates']} duplicates, {p['replays']} replays, {p['retries']} retries")
ok = True
for name, ids in (("jsonl", [json.loads(l)["event"]["id"] for l in open(f"{tmp}/out.jsonl")]),
                  ("kafka", open(f"{tmp}/kafka.ids").read().split())):
    got = set(ids)
    print(f"{name}: {len(ids)} records, {len(got)} distinct, {len(want - got)} missing, {len(got - want)} unexpected "
          f"of {len(want)}")
    ok &= got == want and len(ids) == len(want)
print(f"webhook_missed_total {missed:.0f}; events push never got acknowledged {lost}; "
      f"pushes answered 503 during the outage {refused:.0f}")
ok &= missed == lost and p["events_dropped"] > 0 and p["events_given_up"] == 0 and p["retries"] > 0 and refused > 0
sys.exit(0 if ok else 1)
PY
echo "PASS"
