#!/usr/bin/env bash
# Seconds, not minutes (#16): event time to sink-acknowledged, for pushed
# events and for the pull-only path, in the same run, with default settings.
#   push: the emulator makes RATE live events/s and pushes them as Zendesk
#         would (batches of up to 100, 100 ms linger, 4 requests in flight),
#         at 300, 1,000 and 2,083 events/s; a 200 means every sink
#         acknowledged, so latency = 200 received - event made. DURATION s each.
#   pull: the emulator makes 2,083 live events/s; the forwarder with default
#         settings (settle_delay 60s, poll_interval 30s) pulls them; latency
#         = line appears in the sink file - event time (second granularity).
# usage: bench_webhook.sh BUILD_DIR [DURATION_S]
set -euo pipefail
BUILD=${1:-build}; DURATION=${2:-30}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../integration/lib.sh"
zf_tmpdir
FWD=$BUILD/src/app/zendesk-forwarder
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export ZF_HOOK_SECRET=bench-secret
push_rows=()
for RATE in 300 1000 2083; do
  PORT=$(free_port)
  cat >"$ZF_TMP/push-$RATE.yaml" <<YAML
sources:
  - {type: zendesk_webhook, name: push, account: acme, listen: "127.0.0.1:$PORT", signing_secret: "\${ZF_HOOK_SECRET}", checkpoint: {path: "$ZF_TMP/push-$RATE.ids"}}
sinks:
  - {type: jsonl, path: $ZF_TMP/push-$RATE.jsonl}
YAML
  "$FWD" run --config "$ZF_TMP/push-$RATE.yaml" 2>"$ZF_TMP/push-$RATE.log" &
  fwd=$!
  for _ in $(seq 100); do grep -q "webhook listening" "$ZF_TMP/push-$RATE.log" && break; sleep 0.1; done
  zf_start_emulator "$BUILD/src/emulator/zendesk-emulator" --events 0 --rate-limit 0 --live-rate "$RATE" \
    --push-url "http://127.0.0.1:$PORT/zendesk/access-logs" --push-secret "$ZF_HOOK_SECRET"
  sleep "$DURATION"
  curl -sf -XPOST "$EMU_URL/_emulator/config" -d '{"live_rate": 0}' >/dev/null
  sleep 2
  push_rows+=("$(curl -sf "$EMU_URL/_emulator/pushes" | /usr/bin/python3 -c '
import json, sys
p = json.load(sys.stdin)
print(p["events"], p["events_acknowledged"], p["ack_latency_p50_s"], p["ack_latency_p99_s"], json.dumps(p["by_status"]).replace(" ", ""))')")
  kill -TERM "$fwd"; wait "$fwd" || true
done

# Pull-only with default settings, same rate, same machine.
zf_start_emulator "$BUILD/src/emulator/zendesk-emulator" --events 0 --live-rate 2083 --rate-limit 50 --rate-window 60s
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
printf 'event made -> every sink acknowledged, default settings, %s s of events per rate, same machine, same run:\n' "$DURATION"
ok=1
i=0
for RATE in 300 1000 2083; do
  read -r n acked p50 p99 codes <<<"${push_rows[$i]}"
  printf '  push (webhook) at %5s events/s: %s events, %s acknowledged, p50 %.3f s, p99 %.3f s; answers %s\n' \
    "$RATE" "$n" "$acked" "$p50" "$p99" "$codes"
  [ "$(echo "$p50 < 1 && $p99 < 5" | bc -l)" = 1 ] && [ "$n" = "$acked" ] || ok=0
  i=$((i + 1))
done
printf '  pull only at  2083 events/s (defaults: settle_delay 60s, poll_interval 30s): %s events, p50 %.1f s, p99 %.1f s\n' \
  "$l_n" "$l_50" "$l_99"
echo "target push p50 < 1 s and p99 < 5 s at every rate: $([ "$ok" = 1 ] && echo met || echo 'NOT met')"
