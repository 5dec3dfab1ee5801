#!/usr/bin/env bash
# Webhook hardening, second round (#27):
#  - item 11: a head with whitespace before a colon, a folded line, a bare
#    LF or a NUL in a value is refused 400 on the wire, nothing delivered;
#  - item 12: the same id twice in one push is delivered once;
#  - item 10: with the sink down and 40 pushes held (more than the 32
#    workers), SIGTERM ends the process in about shutdown_timeout, not
#    shutdown_timeout + ack_timeout, and every push is answered 503;
#  - item 6 (as root, on a 64 KiB tmpfs): when the push checkpoint volume is
#    full a push is answered 503, its retry is delivered again (not "200
#    duplicate"), /readyz?source=push is 503; with room again a push gets
#    200 and readiness recovers; the exit status is non-zero.
# usage: hardening_test.sh FORWARDER   (ZF_PARTS="framing shutdown full_disk": the parts to run)
source "$(dirname "$0")/../integration/lib.sh"
FWD=$1
HERE=$(cd "$(dirname "$0")" && pwd)
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export ZF_HOOK_SECRET=hard-secret-Q1
MOUNTED=""
FAILED=()  # every part runs; the test fails at the end if any did
part() { [[ " ${ZF_PARTS:-framing shutdown full_disk} " == *" $1 "* ]]; }
cleanup_mount() { [ -n "$MOUNTED" ] && umount "$MOUNTED" 2>/dev/null; zf_cleanup; }
trap cleanup_mount EXIT

write_config() {  # FILE PORT SINK_YAML IDS_PATH ACK_TIMEOUT SHUTDOWN_TIMEOUT [HEALTH_PORT]
  cat >"$1" <<YAML
sources:
  - type: zendesk_webhook
    name: push
    account: acme
    listen: 127.0.0.1:$2
    path: /hook
    signing_secret: \${ZF_HOOK_SECRET}
    ack_timeout: $5
    checkpoint: {path: $4}
pipeline: {sink_retry_initial: 100ms, sink_retry_max: 500ms, shutdown_timeout: $6}
sinks:
  - $3
YAML
  [ -n "${7:-}" ] && printf 'metrics:\n  listen: 127.0.0.1:%s\n' "$7" >>"$1"
  return 0
}
start() {  # CONFIG LOG
  "$FWD" run --config "$1" 2>"$2" &
  FWD_PID=$!
  ZF_PIDS+=($FWD_PID)
  for _ in $(seq 100); do grep -q "webhook listening" "$2" && return 0; sleep 0.1; done
  fail "the forwarder did not start ($2)"
}

# --- items 11 and 12 ---------------------------------------------------
if part framing; then
PORT=$(free_port)
write_config "$ZF_TMP/a.yaml" "$PORT" "{type: jsonl, path: $ZF_TMP/a.jsonl, fsync: false}" "$ZF_TMP/a.ids" 5s 2s
start "$ZF_TMP/a.yaml" "$ZF_TMP/a.log"
/usr/bin/python3 - "$PORT" "$ZF_TMP" "$HERE" <<'PY' || FAILED+=("framing and dedup")
import datetime, json, os, socket, sys
port, tmp, here = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path.insert(0, here)
from push import signed, body_of, post, event
secret = os.environ["ZF_HOOK_SECRET"]
ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
checks = []
def check(ok, what):
    checks.append(ok); print(("ok   " if ok else "FAIL ") + what)
def lines():
    try: return [json.loads(l) for l in open(f"{tmp}/a.jsonl")]
    except FileNotFoundError: return []
def raw(head_lines, body, sep=b"\r\n"):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(sep.join(head_lines) + b"\r\n\r\n" + body)
    out = b""
    try:
        while b"\r\n\r\n" not in out:
            chunk = s.recv(4096)
            if not chunk: break
            out += chunk
    except OSError: pass
    s.close()
    return int(out.split(b" ")[1]) if out.startswith(b"HTTP/1.1 ") else out
b = body_of([event(1, ts)])
h = signed(secret, b)
base = [b"POST /hook HTTP/1.1", b"Host: x", b"Content-Type: application/json",
        b"X-Zendesk-Webhook-Signature: " + h["X-Zendesk-Webhook-Signature"].encode(),
        b"X-Zendesk-Webhook-Signature-Timestamp: " + h["X-Zendesk-Webhook-Signature-Timestamp"].encode(),
        b"Content-Length: %d" % len(b), b"Connection: close"]
check(raw(base, b) == 200, "the well-formed request: 200")
ev2 = [event(2, ts)]; b2 = body_of(ev2); h2 = signed(secret, b2)
base2 = [x if not x.startswith((b"X-Zendesk", b"Content-Length")) else
         (b"X-Zendesk-Webhook-Signature: " + h2["X-Zendesk-Webhook-Signature"].encode() if x.startswith(b"X-Zendesk-Webhook-Signature:") else
          b"X-Zendesk-Webhook-Signature-Timestamp: " + h2["X-Zendesk-Webhook-Signature-Timestamp"].encode() if x.startswith(b"X-Zendesk-Webhook-Signature-Timestamp") else
          b"Content-Length: %d" % len(b2)) for x in base]
variants = {
    "whitespace before the colon": [x.replace(b"Content-Length:", b"Content-Length :") for x in base2],
    "a folded line with a colon": base2[:3] + [b" X-Folded: yes"] + base2[3:],
    "a folded line": base2[:3] + [b"X-A: b", b"\tcontinued"] + base2[3:],
    "a NUL in a header value": base2[:2] + [b"X-A: b\x00c"] + base2[2:],
}
for what, head in variants.items():
    got = raw(head, b2)
    check(got == 400, f"{what}: {got} (want 400)")
got = raw(base2[:1] + [b"Host: x\nX-A: b"] + base2[2:], b2)
check(got == 400, f"a bare LF inside the head: {got} (want 400)")
check(len(lines()) == 1, f"nothing delivered by the refused heads ({len(lines())} records, want 1)")
# Item 12: one id twice in one push (and a third event) -> two records.
dup = body_of([event(10, ts), event(11, ts), event(10, ts)])
status = post(port, "/hook", dup, signed(secret, dup))[0]
ids = [l["event"]["id"] for l in lines()]
check(status == 200 and len(ids) == 3 and len(set(ids)) == 3,
      f"the same id twice in one push: {status}, {len(ids)} records, {len(set(ids))} distinct (want 3, 3)")
sys.exit(0 if all(checks) else 1)
PY
kill -TERM $FWD_PID; wait $FWD_PID || FAILED+=("the forwarder exited $? on SIGTERM")
fi

# --- item 10 -----------------------------------------------------------
if part shutdown; then
PORT=$(free_port) DOWN=$(free_port)
write_config "$ZF_TMP/b.yaml" "$PORT" "{type: syslog, name: down, host: 127.0.0.1, port: $DOWN, transport: tcp}" \
  "$ZF_TMP/b.ids" 10s 3s
start "$ZF_TMP/b.yaml" "$ZF_TMP/b.log"
/usr/bin/python3 - "$PORT" "$HERE" "$FWD_PID" <<'PY' || FAILED+=("shutdown with held pushes")
import datetime, os, signal, sys, threading, time
port, here, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sys.path.insert(0, here)
from push import signed, body_of, post, event
secret = os.environ["ZF_HOOK_SECRET"]
ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
answers = {}
def one(i):
    b = body_of([event(5000 + i, ts)])
    try: answers[i] = (post(port, "/hook", b, signed(secret, b))[0], time.monotonic())
    except Exception as e: answers[i] = (repr(e), time.monotonic())
threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
for t in threads: t.start()
time.sleep(1.5)  # every push held: the sink is down, ack_timeout is 10 s
held = 40 - len(answers)
t0 = time.monotonic()
os.kill(pid, signal.SIGTERM)
while True:
    try: os.kill(pid, 0)
    except ProcessLookupError: break
    if time.monotonic() - t0 > 30: break
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid: break
    except ChildProcessError: pass
    time.sleep(0.05)
took = time.monotonic() - t0
for t in threads: t.join(15)
codes = sorted(set(str(a[0]) for a in answers.values()))
print(f"held pushes at SIGTERM: {held}; exit {took:.1f} s after it; answers: {codes}")
ok = held == 40 and took < 3 + 2.5 and len(answers) == 40 and all(a[0] == 503 for a in answers.values())
print(("ok   " if ok else "FAIL ") + "40 held pushes: every one 503 and the process gone within shutdown_timeout (3 s) + 2.5 s, "
      "not + ack_timeout (10 s)")
sys.exit(0 if ok else 1)
PY
wait $FWD_PID 2>/dev/null || true
fi

# --- item 6 ------------------------------------------------------------
if ! part full_disk; then
  [ ${#FAILED[@]} -eq 0 ] || fail "${FAILED[*]}"
  echo PASS
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! mkdir -p "$ZF_TMP/full" || ! mount -t tmpfs -o size=64k tmpfs "$ZF_TMP/full" 2>/dev/null; then
  echo "SKIP item 6: needs root to mount a small tmpfs"
  [ ${#FAILED[@]} -eq 0 ] || fail "${FAILED[*]}"
  exit 0
fi
MOUNTED="$ZF_TMP/full"
PORT=$(free_port) HEALTH=$(free_port)
write_config "$ZF_TMP/c.yaml" "$PORT" "{type: jsonl, path: $ZF_TMP/c.jsonl, fsync: false}" "$ZF_TMP/full/push.ids" 5s 2s "$HEALTH"
start "$ZF_TMP/c.yaml" "$ZF_TMP/c.log"
/usr/bin/python3 - "$PORT" "$HEALTH" "$ZF_TMP" "$HERE" <<'PY' || FAILED+=("a full checkpoint volume")
import datetime, json, os, sys, time, urllib.request, urllib.error
port, health, tmp, here = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
sys.path.insert(0, here)
from push import signed, body_of, post, event
secret = os.environ["ZF_HOOK_SECRET"]
ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
checks = []
def check(ok, what):
    checks.append(ok); print(("ok   " if ok else "FAIL ") + what)
def records():
    return [json.loads(l)["event"]["id"] for l in open(f"{tmp}/c.jsonl")]
def ready():
    try: return urllib.request.urlopen(f"http://127.0.0.1:{health}/readyz?source=push", timeout=5).status
    except urllib.error.HTTPError as e: return e.code
def push(first, n):
    b = body_of([event(first + i, ts) for i in range(n)])
    return post(port, "/hook", b, signed(secret, b))[0]
# 256 ids are 4,096 bytes: the file fills its tmpfs page exactly, so the
# next ids need a page of their own.
check(push(0, 256) == 200, "a push while there is room: 200")
for _ in range(30):
    if ready() == 200: break
    time.sleep(0.2)
check(ready() == 200, "ready")
# Fill the volume.
filler = f"{tmp}/full/filler"
with open(filler, "wb", buffering=0) as f:
    try:
        while True: f.write(b"x" * 1024)
    except OSError: pass
with open(filler, "ab", buffering=0) as f:
    try:
        while True: f.write(b"x")
    except OSError: pass
status = push(1000, 40)
check(status == 503, f"ids cannot be written: the push is answered {status} (want 503)")
time.sleep(1.5)  # the ticker sets readiness once a second
check(ready() == 503, f"/readyz?source=push while the ids cannot be written: {ready()} (want 503)")
status = push(1000, 40)
check(status == 503, f"its retry is delivered again, not \"200 duplicate\": {status} (want 503 while still full)")
shipped = records().count(event(1000, ts)["id"])
check(shipped == 2, f"and shipped again: {shipped} copies of its first event (want 2)")
os.remove(filler)
status = push(1000, 40)
check(status == 200, f"with room again the retry gets 200 ({status})")
status = push(1000, 40)
check(status == 200, f"and the next retry is a duplicate, 200 ({status})")
check(records().count(event(1000, ts)["id"]) == 3, "shipped once more with room, then never again")
time.sleep(1.5)
check(ready() == 200, f"/readyz?source=push after a good commit: {ready()} (want 200)")
check(push(2000, 5) == 200, "later pushes are not stuck at 503 \"being delivered\"")
sys.exit(0 if all(checks) else 1)
PY
kill -TERM $FWD_PID
set +e
wait $FWD_PID
rc=$?
set -e
[ $rc -ne 0 ] || FAILED+=("the forwarder exited 0 although ids of some pushes were never written")
grep -q "could not be written" "$ZF_TMP/c.log" || FAILED+=("the exit does not say the ids were not written")
echo "exit status $rc after commits whose ids were not written"
[ ${#FAILED[@]} -eq 0 ] || fail "${FAILED[*]}"
echo PASS
