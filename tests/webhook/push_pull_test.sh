#!/usr/bin/env bash
# Push and pull for one account in one process (#16): Zendesk (the test,
# with the emulator's events) pushes 80% of the account's events to the
# webhook source and drops every fifth; the pull source (dedup_with: push,
# settle_delay 30 s: the reconciliation pass) skips what push delivered and
# ships the rest. Every event reaches the sink exactly once, and
# zendesk_forwarder_webhook_missed_total equals the pushes dropped.
# usage: push_pull_test.sh FORWARDER EMULATOR
source "$(dirname "$0")/../integration/lib.sh"
FWD=$1 EMU=$2
HERE=$(cd "$(dirname "$0")" && pwd)
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# 3,000 events stamped within the last 20 s: the pull source, 30 s behind
# now, reads none of them before the pushes are done.
zf_start_emulator "$EMU" --events 3000 --seed 16 --span 20s --end-gap 0s --rate-limit 0
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
    start: 1h
    settle_delay: 30s
    poll_interval: 1s
    late_read_delay: 0s
    dedup_with: push
    checkpoint: {path: $ZF_TMP/checkpoint.json}
metrics: {listen: 127.0.0.1:$METRICS_PORT}
sinks:
  - {type: jsonl, path: $ZF_TMP/out.jsonl, fsync: false}
YAML
"$FWD" run --config "$ZF_TMP/both.yaml" 2>"$ZF_TMP/forwarder.log" &
FWD_PID=$!
ZF_PIDS+=($FWD_PID)
for _ in $(seq 100); do grep -q "webhook listening" "$ZF_TMP/forwarder.log" && break; sleep 0.1; done

/usr/bin/python3 - "$EMU_URL" "$HOOK_PORT" "$ZF_TMP" "$HERE" <<'PY' || fail "pushing failed"
import base64, json, os, sys, urllib.request
emu, port, tmp, here = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sys.path.insert(0, here)
from push import signed, body_of, post
auth = "Basic " + base64.b64encode(b"agent@example.com/token:emulator-token").decode()
events, url = [], f"{emu}/api/v2/access_logs?page%5Bsize%5D=2500"
while url:
    page = json.load(urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": auth})))
    events += page["access_logs"]
    url = page["links"]["next"]
for e in events: e["user_id"] = str(e["user_id"])  # as webhooks spell it
pushed = [e for i, e in enumerate(events) if i % 5]
dropped = len(events) - len(pushed)
for i in range(0, len(pushed), 50):
    b = body_of(pushed[i:i + 50])
    status = post(port, "/zendesk/access-logs", b, signed(os.environ["ZF_HOOK_SECRET"], b))[0]
    assert status == 200, status
json.dump({"events": len(events), "dropped": dropped}, open(f"{tmp}/pushed.json", "w"))
print(f"pushed {len(pushed)} of {len(events)} events (dropped {dropped}), every push answered 200")
PY
for _ in $(seq 120); do [ "$(wc -l <"$ZF_TMP/out.jsonl")" -ge 3000 ] && break; sleep 0.5; done
sleep 2
missed=$(curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" | awk '/^zendesk_forwarder_webhook_missed_total/ {print $2}')
kill -TERM $FWD_PID; wait $FWD_PID || fail "the forwarder exited $? on SIGTERM"
/usr/bin/python3 - "$ZF_TMP" "$EMU_URL" "$missed" <<'PY' || fail "not exactly once"
import json, sys, urllib.request
tmp, emu, missed = sys.argv[1], sys.argv[2], float(sys.argv[3] or -1)
want = set(urllib.request.urlopen(f"{emu}/_emulator/ids").read().decode().split())
got = [json.loads(l)["event"]["id"] for l in open(f"{tmp}/out.jsonl")]
p = json.load(open(f"{tmp}/pushed.json"))
ok = set(got) == want and len(got) == len(want) and missed == p["dropped"]
print(f"sink: {len(got)} records, {len(set(got))} distinct, {len(want - set(got))} missing of {len(want)}; "
      f"webhook_missed_total {missed:.0f} (pushes dropped: {p['dropped']})")
sys.exit(0 if ok else 1)
PY
echo "PASS"
