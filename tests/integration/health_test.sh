#!/usr/bin/env bash
# Health you can alert on, shown on a real run: the scrape passes
# `promtool check metrics`; injected 429s raise the rate-limit counter; a
# stalled sink turns /readyz to 503, holds the checkpoint, grows the lag and
# keeps memory bounded; delivery resumes when the sink recovers, and a
# SIGTERM then flushes, commits and exits 0 with every event delivered.
# usage: health_test.sh FORWARDER EMULATOR
source "$(dirname "$0")/lib.sh"
FWD=$1 EMU=$2
zf_tmpdir
zf_start_emulator "$EMU" --events 20000 --seed 21 --rate-limit 0 --live-rate 30 --end-gap 5s
mkfifo "$ZF_TMP/sink.fifo"
zf_forwarder_config "$ZF_TMP/fwd.yaml" "  - {type: jsonl, path: $ZF_TMP/sink.fifo}" \
  "  poll_interval: 1s
  page_size: 500
  rate_limit: {requests: 600, period: 60s}
metrics:
  listen: 127.0.0.1:0
  readiness: {max_fetch_age: 30s, max_delivery_age: 2s}"
cat "$ZF_TMP/sink.fifo" >>"$ZF_TMP/out.jsonl" &
READER=$!; ZF_PIDS+=($READER)
"$FWD" run --config "$ZF_TMP/fwd.yaml" 2>"$ZF_TMP/forwarder.log" &
FWD_PID=$!; ZF_PIDS+=($FWD_PID)

for _ in $(seq 100); do
  ADDR=$(grep 'metrics endpoint listening' "$ZF_TMP/forwarder.log" | grep -o '"address":"[^"]*"' | cut -d'"' -f4 || true)
  [ -n "$ADDR" ] && break; sleep 0.1
done
[ -n "$ADDR" ] || { echo "no metrics address in the log"; cat "$ZF_TMP/forwarder.log"; exit 1; }
M="http://$ADDR"
metric() { curl -sf "$M/metrics" | awk -v n="$1" '$1 ~ "^"n"({|$)" {s+=$2} END {print s+0}'; }
ready() { curl -s -o /dev/null -w '%{http_code}' "$M/readyz"; }
readiness_is() { [ "$(ready)" = "$1" ]; }
hits_above() { [ "$(metric zendesk_forwarder_rate_limit_hits_total)" -gt "$1" ]; }
wait_for() { local what=$1 deadline=$((SECONDS + $2)); shift 2; until "$@"; do [ $SECONDS -lt $deadline ] || { echo "FAIL: $what"; return 1; }; sleep 0.2; done; }
fail() { echo "FAIL: $*"; tail -20 "$ZF_TMP/forwarder.log"; exit 1; }

wait_for "readiness 200 while healthy" 30 readiness_is 200
[ "$(curl -s -o /dev/null -w '%{http_code}' "$M/healthz")" = 200 ] || fail "/healthz not 200"
curl -sf "$M/metrics" >"$ZF_TMP/scrape.txt"
promtool check metrics <"$ZF_TMP/scrape.txt" || fail "promtool check metrics rejected the exposition"
echo "promtool check metrics: ok ($(grep -c '^zendesk_forwarder_' "$ZF_TMP/scrape.txt") samples)"
for name in zendesk_forwarder_lag_seconds zendesk_forwarder_rate_limit_hits_total zendesk_forwarder_events_delivered_total \
            zendesk_forwarder_checkpoint_age_seconds zendesk_forwarder_api_request_duration_seconds_bucket \
            zendesk_forwarder_build_info process_resident_memory_bytes; do
  grep -q "^$name" "$ZF_TMP/scrape.txt" || fail "metric $name missing"
done

# 429s injected -> the counter rises.
hits0=$(metric zendesk_forwarder_rate_limit_hits_total)
curl -sf -X POST -d '{"rate_limit": 1, "rate_window_ms": 3000}' "$EMU_URL/_emulator/config" >/dev/null
wait_for "rate-limit hits counted" 20 hits_above "$hits0"
echo "rate_limit_hits_total: $hits0 -> $(metric zendesk_forwarder_rate_limit_hits_total)"
curl -sf -X POST -d '{"rate_limit": 0}' "$EMU_URL/_emulator/config" >/dev/null
wait_for "readiness back after 429s" 30 readiness_is 200

# The sink stalls: its reader stops reading (SIGSTOP, so no line it already
# took is lost), the pipe fills and writes block.
kill -STOP "$READER"
wait_for "readiness 503 while the sink is stalled" 60 readiness_is 503
curl -s "$M/readyz"; echo
cp1=$(md5sum <"$ZF_TMP/checkpoint.json"); lag1=$(metric zendesk_forwarder_lag_seconds)
sleep 3
cp2=$(md5sum <"$ZF_TMP/checkpoint.json"); lag2=$(metric zendesk_forwarder_lag_seconds)
[ "$cp1" = "$cp2" ] || fail "checkpoint moved while the sink was stalled"
/usr/bin/python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); sys.exit(0 if b>=a+2 else 1)" "$lag1" "$lag2" \
  || fail "lag did not grow while stalled ($lag1 -> $lag2)"
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$FWD_PID/status)
inflight=$(metric zendesk_forwarder_inflight_batches)
echo "stalled: checkpoint held, lag $lag1 -> $lag2 s, in-flight batches $inflight, RSS ${rss_kb} kB"
[ "$rss_kb" -lt 131072 ] || fail "RSS ${rss_kb} kB while stalled"
[ "${inflight%.*}" -le 4 ] || fail "in-flight batches above the bound: $inflight"

# The sink recovers.
kill -CONT "$READER"
wait_for "readiness 200 after recovery" 60 readiness_is 200
curl -sf -X POST -d '{"live_rate": 0}' "$EMU_URL/_emulator/config" >/dev/null
# Wait until the windows have passed the last live event (a slow machine
# needs longer).
caught_up() { [ "$(curl -sf "$EMU_URL/_emulator/ids" | wc -l)" -le "$(sort -u "$ZF_TMP/out.jsonl" | wc -l)" ]; }
wait_for "every event delivered after recovery" 60 caught_up || fail "the forwarder did not catch up"
kill -TERM "$FWD_PID"
t0=$SECONDS
wait "$FWD_PID"; code=$?
echo "SIGTERM -> exit $code after $((SECONDS - t0)) s"
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
[ $((SECONDS - t0)) -le 10 ] || fail "shutdown took too long"
sleep 0.5
wait "$READER" 2>/dev/null || true  # EOF once the forwarder closed the pipe
curl -sf "$EMU_URL/_emulator/ids" >"$ZF_TMP/ids"
/usr/bin/python3 "$(dirname "$0")/check_delivery.py" "$ZF_TMP/out.jsonl" "$ZF_TMP/ids"
