#!/usr/bin/env bash
# SIGTERM is answered within pipeline.shutdown_timeout + 2 s, exit code 0,
# checkpoint consistent, even when a sink is stuck on its network:
#  - a TLS receiver that accepts and never answers the handshake,
#  - a RELP receiver that accepts and never answers,
#  - a TCP receiver that reads 100 KB and then stops reading.
# usage: shutdown_test.sh FORWARDER EMULATOR
source "$(dirname "$0")/lib.sh"
FWD=$1 EMU=$2 HERE=$(dirname "$0")
zf_tmpdir
zf_start_emulator "$EMU" --events 20000 --seed 71 --rate-limit 0
fail() { echo "FAIL: $*"; tail -n 5 "$ZF_TMP"/fwd-*.log; exit 1; }
export ZF_PIPELINE="shutdown_timeout: 2s"

for case in "tls|0|transport: tls" "relp|0|transport: relp" "tcp|102400|transport: tcp"; do
  IFS='|' read -r name read_bytes transport <<<"$case"
  rm -f "$ZF_TMP/rx.port"
  /usr/bin/python3 "$HERE/silent_receiver.py" "$ZF_TMP/rx.port" "$read_bytes" & rx=$!; ZF_PIDS+=($rx)
  zf_wait_file "$ZF_TMP/rx.port" 10
  ZF_CHECKPOINT=$ZF_TMP/$name.checkpoint.json zf_forwarder_config "$ZF_TMP/$name.yaml" \
    "  - {type: syslog, host: 127.0.0.1, port: $(cat "$ZF_TMP/rx.port"), $transport}" "  page_size: 1000"
  "$FWD" run --config "$ZF_TMP/$name.yaml" 2>"$ZF_TMP/fwd-$name.log" & pid=$!; ZF_PIDS+=($pid)
  sleep 3  # fetched, and stuck on the receiver
  kill -0 "$pid" 2>/dev/null || fail "$name: the forwarder ended before SIGTERM"
  t0=$(date +%s.%N)
  kill -TERM "$pid"
  rc=0; wait "$pid" || rc=$?
  took=$(echo "$(date +%s.%N) - $t0" | bc -l)
  kill "$rx"
  printf '%s: SIGTERM answered in %.2f s, exit code %d\n' "$name" "$took" "$rc"
  [ "$rc" = 0 ] || fail "$name: exit code $rc"
  (( $(echo "$took < 4.0" | bc -l) )) || fail "$name: took $took s (shutdown_timeout 2 s + 2 s allowed)"
  ls "$ZF_TMP"/$name.checkpoint.json.tmp* >/dev/null 2>&1 && fail "$name: a temporary checkpoint file was left"
  if [ -f "$ZF_TMP/$name.checkpoint.json" ]; then
    /usr/bin/python3 - "$ZF_TMP/$name.checkpoint.json" "$name" <<'PY' || fail "$name: checkpoint"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["version"] == 2, c
# Nothing was taken by a receiver that never answered.
if sys.argv[2] in ("tls", "relp"):
    assert c["events_delivered"] == 0, c
print(f"  checkpoint consistent: {c['events_delivered']} events delivered")
PY
  else
    echo "  no checkpoint written (nothing delivered)"
  fi
done
echo OK
