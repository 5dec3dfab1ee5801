#!/usr/bin/env bash
# The webhook over HTTPS (#16): the listener serves TLS with the configured
# certificate and key; the emulator pushes over https as Zendesk would and
# every push is acknowledged; a plain-HTTP request to the TLS port gets no
# answer; a key that does not match the certificate stops the start with
# a message naming both files.
# usage: tls_test.sh FORWARDER EMULATOR
source "$(dirname "$0")/../integration/lib.sh"
FWD=$1 EMU=$2
export ZF_PUSH_PY_DIR=$(cd "$(dirname "$0")" && pwd)
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cd "$ZF_TMP"
for n in a b; do
  openssl req -x509 -newkey rsa:2048 -nodes -keyout $n.key -out $n.crt -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 2>/dev/null || fail "openssl could not make a certificate"
done
PORT=$(free_port)
export ZF_HOOK_SECRET=tls-secret-4r
config() {  # config KEY_FILE
  cat >hook.yaml <<YAML
sources:
  - type: zendesk_webhook
    name: push
    account: acme
    listen: 127.0.0.1:$PORT
    signing_secret: \${ZF_HOOK_SECRET}
    tls: {cert_file: $ZF_TMP/a.crt, key_file: $ZF_TMP/$1}
    checkpoint: {path: $ZF_TMP/push.ids}
sinks:
  - {type: jsonl, path: $ZF_TMP/out.jsonl, fsync: false}
YAML
}
config b.key
"$FWD" run --config hook.yaml 2>mismatch.log && fail "started with a key that is not the certificate's"
grep -q "cannot use the TLS certificate $ZF_TMP/a.crt and key $ZF_TMP/b.key" mismatch.log ||
  fail "the mismatch message does not name the files: $(tail -1 mismatch.log)"
echo "ok   a key that is not the certificate's: $(grep -o 'cannot use the TLS[^"]*' mismatch.log | head -1)"

config a.key
"$FWD" run --config hook.yaml 2>forwarder.log &
FWD_PID=$!
ZF_PIDS+=($FWD_PID)
for _ in $(seq 100); do grep -q "webhook listening" forwarder.log && break; sleep 0.1; done
plain=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/zendesk/access-logs" || true)
[ "$plain" = "000" ] || fail "plain HTTP to the TLS port was answered $plain"
echo "ok   plain HTTP to the TLS port: no answer"
verified=$(curl -s -o /dev/null -w '%{http_code}' --cacert a.crt -XPOST -H 'Content-Type: application/json' -d '{}' \
  "https://127.0.0.1:$PORT/zendesk/access-logs")
[ "$verified" = "401" ] || fail "an unsigned request over verified TLS got $verified, want 401"
echo "ok   curl verifying the certificate reaches the listener: an unsigned request gets 401"
# Two pushes pipelined over TLS, the end of the first and the second in one
# record: the listener reads only up to the end of the first body, so the
# second waits in the TLS session's buffer, where epoll cannot see it; it
# must still be answered at once.
/usr/bin/python3 - "$PORT" <<'PY' || fail "pipelined pushes over TLS"
import os, socket, ssl, sys, time
sys.path.insert(0, os.environ["ZF_PUSH_PY_DIR"])
from push import signed, body_of, event
import datetime
port = int(sys.argv[1])
ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
def request(i):
    b = body_of([event(700000 + i, ts)])
    h = signed(os.environ["ZF_HOOK_SECRET"], b)
    head = "".join(f"{k}: {v}\r\n" for k, v in h.items())
    return f"POST /zendesk/access-logs HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(b)}\r\n\r\n".encode() + b
ctx = ssl.create_default_context(cafile="a.crt")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="127.0.0.1")
t0 = time.monotonic()
first, second = request(1), request(2)
head_end = first.index(b"\r\n\r\n") + 4
s.sendall(first[:head_end])  # a TLS record of its own: the head is parsed first,
time.sleep(0.3)
s.sendall(first[head_end:] + second)  # then the rest of the body and the second request in one record
got = b""
while got.count(b"HTTP/1.1 200") < 2 and time.monotonic() - t0 < 5:
    try: chunk = s.recv(65536)
    except OSError: break  # timed out: the second is not answered
    if not chunk: break
    got += chunk
took = time.monotonic() - t0
ok = got.count(b"HTTP/1.1 200") == 2 and took < 3
print(("ok   " if ok else "FAIL ") + f"two pipelined pushes over TLS: {got.count(b'HTTP/1.1 200')} answered 200 in {took:.2f} s")
sys.exit(0 if ok else 1)
PY

zf_start_emulator "$EMU" --events 0 --rate-limit 0 --push-url "https://127.0.0.1:$PORT/zendesk/access-logs" \
  --push-secret "$ZF_HOOK_SECRET" --live-rate 300
sleep 4
curl -sf -XPOST "$EMU_URL/_emulator/config" -d '{"live_rate": 0}' >/dev/null
sleep 1
curl -sf "$EMU_URL/_emulator/pushes" >pushes.json
kill -TERM $FWD_PID; wait $FWD_PID || fail "the forwarder exited $? on SIGTERM"
/usr/bin/python3 - <<'PY' || fail "pushes over TLS were not all acknowledged"
import json
p = json.load(open("pushes.json"))
records = sum(1 for _ in open("out.jsonl")) - 2  # the two pipelined pushes
print(f"ok   over https: {p['events']} events in {p['requests']} requests {p['by_status']}, {records} records")
exit(0 if p["events"] > 0 and p["events_acknowledged"] == p["events"] == records else 1)
PY
echo "PASS"
