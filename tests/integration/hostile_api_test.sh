#!/usr/bin/env bash
# Against a hostile or broken API (tests/integration/hostile_api.py):
#  #1 a gzip bomb, a 200 MB body and an endless body are refused at the
#     body bound with a clear error and retried with backoff; peak RSS stays
#     under 128 MiB;
#  #2 SIGTERM ends the process within 5 s during a stalled request, a
#     trickling response, and while `validate` waits on its config file.
# usage: hostile_api_test.sh FORWARDER
source "$(dirname "$0")/lib.sh"
FWD=$1
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP/fwd-$mode.log" 2>/dev/null; exit 1; }
peak_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

start_api() {
  rm -f "$ZF_TMP/api.port"
  /usr/bin/python3 "$(dirname "$0")/hostile_api.py" "$1" "$ZF_TMP/api.port" "$ZF_TMP" &
  ZF_PIDS+=($!)
  zf_wait_file "$ZF_TMP/api.port" 120
  EMU_URL="http://127.0.0.1:$(cat "$ZF_TMP/api.port")"
}

# Stops the forwarder with SIGTERM; fails unless it exits 0 within 5 s.
term_within_5s() {
  local pid=$1 t0
  t0=$(date +%s.%N)
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "$mode: still running 10 s after SIGTERM"
  wait "$pid"; local code=$?
  local took; took=$(echo "$(date +%s.%N) - $t0" | bc)
  echo "$mode: SIGTERM -> exit $code after ${took} s"
  [ "$(echo "$took < 5" | bc)" = 1 ] || fail "$mode: SIGTERM took ${took} s"
  [ "$code" = 0 ] || fail "$mode: exit code $code"
}

for mode in gzip_bomb big endless; do
  start_api "$mode"
  zf_forwarder_config "$ZF_TMP/$mode.yaml" "  - {type: jsonl, path: $ZF_TMP/out.jsonl}"
  sed -i "s#checkpoint.json#checkpoint-$mode.json#" "$ZF_TMP/$mode.yaml"
  "$FWD" run --config "$ZF_TMP/$mode.yaml" 2>"$ZF_TMP/fwd-$mode.log" &
  pid=$!; ZF_PIDS+=($pid)
  for _ in $(seq 200); do [ "$(grep -c 'larger than 32 MiB' "$ZF_TMP/fwd-$mode.log")" -ge 2 ] && break; sleep 0.1; done
  refusals=$(grep -c 'larger than 32 MiB' "$ZF_TMP/fwd-$mode.log" || true)
  peak=$(peak_kib "$pid")
  echo "$mode: refused $refusals times, peak RSS $((peak / 1024)) MiB"
  [ "$refusals" -ge 2 ] || fail "$mode: the body was not refused at the bound, and retried"
  [ "$peak" -lt $((128 * 1024)) ] || fail "$mode: peak RSS ${peak} kB"
  term_within_5s "$pid"
  kill "${ZF_PIDS[-2]}" 2>/dev/null || true
done

for mode in stall trickle; do
  start_api "$mode"
  zf_forwarder_config "$ZF_TMP/$mode.yaml" "  - {type: jsonl, path: $ZF_TMP/out.jsonl}"
  sed -i "s#checkpoint.json#checkpoint-$mode.json#" "$ZF_TMP/$mode.yaml"
  "$FWD" run --config "$ZF_TMP/$mode.yaml" 2>"$ZF_TMP/fwd-$mode.log" &
  pid=$!; ZF_PIDS+=($pid)
  sleep 3  # the request is now waiting on the server
  term_within_5s "$pid"
  kill "${ZF_PIDS[-2]}" 2>/dev/null || true
done

# validate blocked reading its config (a FIFO nobody writes): SIGTERM ends it.
mode=validate
mkfifo "$ZF_TMP/config.fifo"
"$FWD" validate --config "$ZF_TMP/config.fifo" 2>"$ZF_TMP/fwd-$mode.log" &
pid=$!; ZF_PIDS+=($pid)
sleep 1
t0=$SECONDS
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "validate ignored SIGTERM"
echo "validate: ended by SIGTERM after $((SECONDS - t0)) s"
echo OK
