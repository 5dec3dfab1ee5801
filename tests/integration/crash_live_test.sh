#!/usr/bin/env bash
# Crash safety while caught up: SIGKILL the forwarder at random moments
# while live events arrive (a fifth of them listed up to 4 s late), so kills
# land in first reads, late reads and commits of both; restart each time.
# Then every id the emulator holds is in the output, and every duplicate
# comes from a batch that was not acknowledged when the process died.
# usage: crash_live_test.sh FORWARDER EMULATOR [KILLS]
source "$(dirname "$0")/lib.sh"
FWD=$1 EMU=$2 KILLS=${3:-10}
zf_tmpdir
zf_start_emulator "$EMU" --events 20000 --span 10m --end-gap 0s --seed 13 --rate-limit 0 \
  --live-rate 300 --late-fraction 0.2 --late-max 4s
# Windows of 1 s, read again 6 s after they end: more than the 4 s of
# lateness, so a complete run misses nothing.
zf_forwarder_config "$ZF_TMP/fwd.yaml" "  - {type: jsonl, path: $ZF_TMP/out.jsonl}" \
  "  poll_interval: 1s
  late_read_delay: 6s
  page_size: 200
  rate_limit: {requests: 20, period: 1s}"
OUT=$ZF_TMP/out.jsonl
: >"$ZF_TMP/regions"
zf_kill_runs "$ZF_TMP/fwd.yaml" "$OUT" "$KILLS" 0.5 2.5

# No more events; the last run lives until every window had its late read.
curl -sf -X POST -d '{"live_rate": 0}' "$EMU_URL/_emulator/config" >/dev/null
zf_region_start "$OUT"
"$FWD" run --config "$ZF_TMP/fwd.yaml" 2>>"$ZF_TMP/forwarder.log" &
pid=$!; ZF_PIDS+=($pid)
sleep 10
kill -TERM "$pid"; wait "$pid" || { echo "FAIL: exit code $? after SIGTERM"; exit 1; }
zf_region_end "$OUT"

late=$(grep -o '"late_events":[0-9.]*' "$ZF_TMP/forwarder.log" | cut -d: -f2 | paste -sd+ | bc)
echo "late events shipped by late reads across the runs' summaries: ${late:-0}"
grep -q '"late_reads_done":[1-9]' "$ZF_TMP/forwarder.log" \
  || { echo "FAIL: no late read ran"; exit 1; }
curl -sf "$EMU_URL/_emulator/ids" >"$ZF_TMP/ids"
/usr/bin/python3 "$(dirname "$0")/check_delivery.py" "$OUT" "$ZF_TMP/ids" "$ZF_TMP/regions"
