#!/usr/bin/env bash
# 2,000 connections that never finish a request (#16): half send nothing,
# half send a request head announcing a body that never comes; each is
# reopened as soon as the listener closes it (10 s request timeout), for the
# whole run. Meanwhile the emulator pushes 2,000 events/s as Zendesk does.
# Every push is acknowledged, event made -> 200 stays within p50 < 1 s and
# p99 < 5 s, and the forwarder's memory stays bounded.
# usage: idle_connections_test.sh FORWARDER EMULATOR
source "$(dirname "$0")/../integration/lib.sh"
FWD=$1 EMU=$2
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# 15 s: the listener closes every idle connection once (at 10 s) while the
# pushes go on, and the holder checks it did.
SECONDS_PUSHING=${SECONDS_PUSHING:-15}
HOOK_PORT=$(free_port)
export ZF_HOOK_SECRET=idle-secret-9q
cat >"$ZF_TMP/hook.yaml" <<YAML
sources:
  - type: zendesk_webhook
    name: push
    account: acme
    listen: 127.0.0.1:$HOOK_PORT
    signing_secret: \${ZF_HOOK_SECRET}
    checkpoint: {path: $ZF_TMP/push.ids}
sinks:
  - {type: jsonl, path: $ZF_TMP/out.jsonl, fsync: false}
YAML
"$FWD" run --config "$ZF_TMP/hook.yaml" 2>"$ZF_TMP/forwarder.log" &
FWD_PID=$!
ZF_PIDS+=($FWD_PID)
for _ in $(seq 100); do grep -q "webhook listening" "$ZF_TMP/forwarder.log" && break; sleep 0.1; done
zf_start_emulator "$EMU" --events 0 --rate-limit 0
rss_before=$(rss_kib $FWD_PID)

/usr/bin/python3 - "$HOOK_PORT" "$((SECONDS_PUSHING + 5))" >"$ZF_TMP/idle.log" 2>&1 <<'PY' &
import resource, selectors, socket, sys, time
port, run_for = int(sys.argv[1]), float(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
sel = selectors.DefaultSelector()
def open_one(i):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    if i % 2:  # a head, then silence where the body should be
        s.send(b"POST /zendesk/access-logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 1000\r\n\r\n")
    sel.register(s, selectors.EVENT_READ, i)
for i in range(2000): open_one(i)
print("2000 open", flush=True)
reopened, t0 = 0, time.monotonic()
while time.monotonic() - t0 < run_for:
    for key, _ in sel.select(timeout=0.5):
        try:
            key.fileobj.recv(65536)
        except OSError:
            pass
        sel.unregister(key.fileobj)
        key.fileobj.close()
        open_one(key.data)  # closed by the listener: back at once
        reopened += 1
print(f"held 2000 connections for {run_for:.0f}s, reopened {reopened} the listener closed", flush=True)
sys.exit(0 if reopened >= 2000 else f"the listener closed only {reopened} of 2000 idle connections in {run_for:.0f}s")
PY
IDLE_PID=$!
ZF_PIDS+=($IDLE_PID)
for _ in $(seq 100); do grep -q "2000 open" "$ZF_TMP/idle.log" && break; sleep 0.1; done
grep -q "2000 open" "$ZF_TMP/idle.log" || fail "could not open 2000 connections: $(cat "$ZF_TMP/idle.log")"

curl -sf -XPOST "$EMU_URL/_emulator/config" -d "{\"push\": {\"url\": \"http://127.0.0.1:$HOOK_PORT/zendesk/access-logs\",
  \"secret\": \"$ZF_HOOK_SECRET\"}, \"live_rate\": 2000}" >/dev/null
rss_peak=0
for _ in $(seq "$SECONDS_PUSHING"); do
  sleep 1
  r=$(rss_kib $FWD_PID)
  [ "$r" -gt "$rss_peak" ] && rss_peak=$r
done
curl -sf -XPOST "$EMU_URL/_emulator/config" -d '{"live_rate": 0}' >/dev/null
sleep 2
wait $IDLE_PID || fail "the idle connections' holder failed: $(cat "$ZF_TMP/idle.log")"
cat "$ZF_TMP/idle.log" | tail -1
curl -sf "$EMU_URL/_emulator/pushes" >"$ZF_TMP/pushes.json"
kill -TERM $FWD_PID; wait $FWD_PID || fail "the forwarder exited $? on SIGTERM"
/usr/bin/python3 - "$ZF_TMP" "$rss_before" "$rss_peak" <<'PY' || fail "pushes were not answered in time beside idle connections"
import json, sys
tmp, before, peak = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
p = json.load(open(f"{tmp}/pushes.json"))
records = sum(1 for _ in open(f"{tmp}/out.jsonl"))
print(f"pushes beside 2000 idle connections: {p['events']} events in {p['requests']} requests {p['by_status']}, "
      f"{p['events_acknowledged']} acknowledged, {records} records; made -> 200 p50 {p['ack_latency_p50_s']:.3f} s, "
      f"p99 {p['ack_latency_p99_s']:.3f} s")
print(f"forwarder RSS {before / 1024:.1f} MiB before the idle connections, peak {peak / 1024:.1f} MiB with them")
ok = (p["events"] > 0 and p["events_acknowledged"] == p["events"] == records and p["ack_latency_p50_s"] < 1
      and p["ack_latency_p99_s"] < 5 and peak - before < 64 * 1024)
sys.exit(0 if ok else 1)
PY
echo "PASS"
