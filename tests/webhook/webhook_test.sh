#!/usr/bin/env bash
# The zendesk_webhook source (#16): Zendesk-signed pushes are delivered once
# every sink acknowledged them (then 200); refusals (wrong signature, a
# rotated-out secret, a 10-minute-old timestamp, a 5 MiB body, GET, a
# non-JSON body, JSON of another event type, no JSON content type) get
# their status and deliver nothing, the process stays up, and neither
# secrets nor bodies reach the log; a replayed request is not delivered
# twice; during a sink outage pushes get 503 with Retry-After and
# succeed when retried after it, with nothing lost. Prints push-to-200
# latency p50/p99.
# usage: webhook_test.sh FORWARDER
source "$(dirname "$0")/../integration/lib.sh"
FWD=$1
HERE=$(cd "$(dirname "$0")" && pwd)
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port) SYSLOG_PORT=$(free_port)
export ZF_HOOK_SECRET=new-secret-Xy7 ZF_HOOK_OLD_SECRET=old-secret-Qw3
# A TCP syslog receiver that is down at first: the outage.
cat >"$ZF_TMP/hook.yaml" <<YAML
sources:
  - type: zendesk_webhook
    name: push
    account: acme
    listen: 127.0.0.1:$PORT
    path: /zendesk/access-logs
    signing_secret: \${ZF_HOOK_SECRET}
    previous_signing_secret: \${ZF_HOOK_OLD_SECRET}
    ack_timeout: 2s
    checkpoint: {path: $ZF_TMP/push.ids}
pipeline: {sink_retry_initial: 100ms, sink_retry_max: 500ms}
sinks:
  - {type: jsonl, path: $ZF_TMP/out.jsonl, fsync: false}
  - {type: syslog, name: tcp, host: 127.0.0.1, port: $SYSLOG_PORT, transport: tcp}
YAML
"$FWD" validate --config "$ZF_TMP/hook.yaml" >/dev/null || fail "config rejected"
"$FWD" run --config "$ZF_TMP/hook.yaml" 2>"$ZF_TMP/forwarder.log" &
FWD_PID=$!
ZF_PIDS+=($FWD_PID)
for _ in $(seq 100); do grep -q "webhook listening" "$ZF_TMP/forwarder.log" && break; sleep 0.1; done

/usr/bin/python3 - "$PORT" "$SYSLOG_PORT" "$ZF_TMP" "$HERE" <<'PY' || fail "webhook behaviour"
import datetime, json, os, socket, statistics, sys, threading, time
port, syslog_port, tmp, here = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
sys.path.insert(0, here)
from push import signed, body_of, post, event
PATH = "/zendesk/access-logs"
new, old = os.environ["ZF_HOOK_SECRET"], os.environ["ZF_HOOK_OLD_SECRET"]
now = datetime.datetime.now(datetime.timezone.utc)
ts = now.strftime("%Y-%m-%dT%H:%M:%SZ")
def lines():
    try: return [json.loads(l) for l in open(f"{tmp}/out.jsonl")]
    except FileNotFoundError: return []
checks = []
def check(ok, what):
    checks.append(ok); print(("ok   " if ok else "FAIL ") + what)

# 1. The syslog receiver is down: a push is not acknowledged -> 503 + Retry-After.
b = body_of([event(i, ts) for i in range(40)])
status, retry_after, _ = post(port, PATH, b, signed(new, b))
check(status == 503 and retry_after is not None, f"sink outage: 503 with Retry-After ({status}, {retry_after})")
# The receiver comes back; Zendesk retries until 200.
received = []
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", syslog_port)); srv.listen(16)
def serve():
    while True:
        try: c, _ = srv.accept()
        except OSError: return
        threading.Thread(target=lambda c=c: [received.append(x) for x in iter(lambda: c.recv(65536), b"")], daemon=True).start()
threading.Thread(target=serve, daemon=True).start()
for attempt in range(30):
    status, _, _ = post(port, PATH, b, signed(new, b))
    if status == 200: break
    time.sleep(0.5)
check(status == 200, f"after the outage a retry gets 200 (attempt {attempt + 1})")

# 2. Pushes, half signed with the previous secret (a rotation in progress).
latencies = []
for r in range(1, 51):
    evs = [event(r * 100 + i, ts) for i in range(40)]
    b = body_of(evs)
    status, _, secs = post(port, PATH, b, signed(old if r % 2 else new, b))
    latencies.append(secs)
    if status != 200: check(False, f"push {r} got {status}")
ids = [l["event"]["id"] for l in lines()]
check(len(ids) == 2040 and len(set(ids)) == 2040, f"51 pushes of 40 events: {len(ids)} records, {len(set(ids))} distinct (2040)")
lat = sorted(latencies)
print(f"push -> every sink acknowledged -> 200: p50 {statistics.median(lat) * 1000:.1f} ms, "
      f"p99 {lat[int(len(lat) * 0.99) - 1] * 1000:.1f} ms over {len(lat)} pushes")
check(lat[int(len(lat) * 0.99) - 1] < 5, "p99 under 5 s")

# 3. A replay of an accepted request: 200, nothing delivered twice.
b = body_of([event(90000 + i, ts) for i in range(10)])
h = signed(new, b)
first = post(port, PATH, b, h)[0]; again = post(port, PATH, b, h)[0]
ids = [l["event"]["id"] for l in lines()]
check(first == 200 and again == 200 and len(ids) == 2050 and len(set(ids)) == 2050,
      f"replayed request: {first} then {again}, {len(ids)} records, {len(set(ids))} distinct (2050)")

# 4. Refusals: each its status, nothing delivered.
before = len(lines())
b = body_of([event(9000, ts)])
ten_min_ago = now - datetime.timedelta(minutes=10)
bad = dict(signed(new, b)); bad["X-Zendesk-Webhook-Signature"] = "AAAA" + bad["X-Zendesk-Webhook-Signature"][4:]
nojson = b"this is not json"
other = json.dumps({"type": "zen:event-type:ticket.created", "event": {}}).encode()
big = body_of([event(9100, ts)]) + b" " * (5 << 20)
plain = dict(signed(new, b)); plain["Content-Type"] = "text/plain"
cases = [
    ("wrong signature", b, bad, 401),
    ("a retired secret", b, signed("retired-secret-Zz9", b), 401),
    ("a timestamp 10 min old", b, signed(new, b, ten_min_ago), 401),
    ("a 5 MiB body", big, signed(new, big), 413),
    ("a non-JSON body", nojson, signed(new, nojson), 400),
    ("JSON of another event type", other, signed(new, other), 400),
    ("no JSON content type", b, plain, 415),
]
for what, body, headers, want in cases:
    try: status = post(port, PATH, body, headers)[0]
    except (ConnectionError, OSError) as e: status = f"connection closed ({e.__class__.__name__})"
    check(status == want, f"{what}: {status} (want {want})")
status = post(port, PATH, b"", {}, method="GET")[0]
check(status == 405, f"GET: {status} (want 405)")
check(len(lines()) == before, "nothing delivered by a refused request")
status = post(port, PATH, b, signed(new, b))[0]
check(status == 200 and len(lines()) == before + 1, "the process still answers valid pushes")
import re
syslog_ids = set(re.findall(rb"01J5M2QGXR\d{16}", b"".join(received)))
check(len(syslog_ids) == len(set(ids)) + 1, f"the syslog receiver got every record too ({len(syslog_ids)} ids)")
srv.close()
sys.exit(0 if all(checks) else 1)
PY
kill -0 $FWD_PID || fail "the forwarder died"
for secret in "$ZF_HOOK_SECRET" "$ZF_HOOK_OLD_SECRET" "this is not json" "AAAA"; do
  grep -qF "$secret" "$ZF_TMP/forwarder.log" && fail "the log holds a secret or a body: $secret"
done
grep -c '"webhook request refused"' "$ZF_TMP/forwarder.log" | sed 's/^/refusals logged (reason only): /'
kill -TERM $FWD_PID; wait $FWD_PID || fail "the forwarder exited $? on SIGTERM"
echo "PASS"
