#!/usr/bin/env bash
# Seconds, not minutes (#16): event time to sink-acknowledged, for pushed
# events and for the pull-only path, in the same run, at 2,000 events/s.
#   push: 8 concurrent senders sign and POST batches of BATCH events stamped
#         the moment they are made; a 200 means every sink acknowledged, so
#         latency = 200 received - event made. DURATION seconds.
#   pull: the emulator makes 2,000 live events/s; the forwarder with default
#         settings (settle_delay 60s, poll_interval 30s) pulls them; latency
#         = line appears in the sink file - event time (second granularity).
# usage: bench_webhook.sh BUILD_DIR [DURATION_S] [BATCH]
set -euo pipefail
BUILD=${1:-build}; DURATION=${2:-30}; BATCH=${3:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../integration/lib.sh"
zf_tmpdir
FWD=$BUILD/src/app/zendesk-forwarder
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
export ZF_HOOK_SECRET=bench-secret
cat >"$ZF_TMP/push.yaml" <<YAML
sources:
  - {type: zendesk_webhook, name: push, account: acme, listen: "127.0.0.1:$PORT", signing_secret: "\${ZF_HOOK_SECRET}", checkpoint: {path: "$ZF_TMP/push.ids"}}
sinks:
  - {type: jsonl, path: $ZF_TMP/push.jsonl}
YAML
"$FWD" run --config "$ZF_TMP/push.yaml" 2>"$ZF_TMP/push.log" &
ZF_PIDS+=($!)
for _ in $(seq 100); do grep -q "webhook listening" "$ZF_TMP/push.log" && break; sleep 0.1; done
/usr/bin/python3 - "$PORT" "$DURATION" "$BATCH" "$HERE/../webhook" >"$ZF_TMP/push.result" <<'PY'
import datetime, os, sys, threading, time
port, duration, batch = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
sys.path.insert(0, sys.argv[4])
from push import signed, body_of, event, post
rate, senders = 2000.0, 8
lat, codes, lock = [], {}, threading.Lock()
start = time.monotonic()
def sender(k):
    n = 0
    while True:
        # Each sender keeps its share of the rate: batch * senders / rate s apart.
        due = start + n * batch * senders / rate + k * batch / rate
        if due - start > duration: return
        time.sleep(max(0, due - time.monotonic()))
        made = time.monotonic()
        ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        evs = [event(10_000_000 * k + n * batch + i, ts) for i in range(batch)]
        b = body_of(evs)
        status, _, _ = post(port, "/zendesk/access-logs", b, signed(os.environ["ZF_HOOK_SECRET"], b))
        done = time.monotonic()
        with lock:
            codes[status] = codes.get(status, 0) + 1
            lat.extend([done - made] * batch)
        n += 1
threads = [threading.Thread(target=sender, args=(k,)) for k in range(senders)]
for t in threads: t.start()
for t in threads: t.join()
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
elapsed = time.monotonic() - start
print(f"{len(lat)} {len(lat) / elapsed:.0f} {q(0.5):.4f} {q(0.99):.4f} {codes}")
PY
read -r p_n p_rate p_50 p_99 p_codes <"$ZF_TMP/push.result"

# Pull-only with default settings, same rate, same machine.
zf_start_emulator "$BUILD/src/emulator/zendesk-emulator" --events 0 --live-rate 2000 --rate-limit 50 --rate-window 60s
cat >"$ZF_TMP/pull.yaml" <<YAML
zendesk:
  base_url: $EMU_URL
  auth: {type: api_token, email: agent@example.com, token: emulator-token}
  start: 1m
checkpoint: {path: $ZF_TMP/checkpoint.json}
sinks:
  - {type: jsonl, path: $ZF_TMP/pull.jsonl}
YAML
PULL_FOR=$((DURATION + 150))
"$FWD" run --config "$ZF_TMP/pull.yaml" 2>"$ZF_TMP/pull.log" &
ZF_PIDS+=($!)
/usr/bin/python3 - "$ZF_TMP/pull.jsonl" "$PULL_FOR" "$DURATION" >"$ZF_TMP/pull.result" <<'PY'
import datetime, json, os, sys, time
path, run_for, window = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
t0 = time.time()
lat, pos = [], 0
while time.time() - t0 < run_for:
    time.sleep(0.2)
    if not os.path.exists(path): continue
    with open(path) as f:
        f.seek(pos)
        chunk = f.read()
    cut = chunk.rfind("\n") + 1
    pos += len(chunk[:cut].encode())
    now = time.time()
    for line in chunk[:cut].splitlines():
        ts = datetime.datetime.strptime(json.loads(line)["@timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
        t = ts.replace(tzinfo=datetime.timezone.utc).timestamp()
        if t0 <= t < t0 + window:  # events made during the measured window
            lat.append(now - (t + 0.5))  # mid-second: the API's timestamps are whole seconds
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")
print(f"{len(lat)} {q(0.5):.1f} {q(0.99):.1f}")
PY
read -r l_n l_50 l_99 <"$ZF_TMP/pull.result"
printf 'event made -> every sink acknowledged, 2,000 events/s (%s s of events), same machine, same run:\n' "$DURATION"
printf '  push (webhook, batches of %s, 8 senders): %s events at %s/s, p50 %.3f s, p99 %.3f s; answers %s\n' \
  "$BATCH" "$p_n" "$p_rate" "$p_50" "$p_99" "$p_codes"
printf '  pull only (defaults: settle_delay 60s, poll_interval 30s): %s events, p50 %.1f s, p99 %.1f s\n' "$l_n" "$l_50" "$l_99"
ok=$(echo "$p_50 < 1 && $p_99 < 5" | bc -l)
echo "target push p50 < 1 s and p99 < 5 s: $([ "$ok" = 1 ] && echo met || echo 'NOT met')"
