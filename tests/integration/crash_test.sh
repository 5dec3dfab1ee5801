#!/usr/bin/env bash
# Crash safety: SIGKILL the forwarder at random moments during a backfill,
# restart it each time, and prove that the union of its JSON-lines output
# holds every id the emulator served, with every duplicate coming from a
# batch that had not been acknowledged when the process died.
# usage: crash_test.sh FORWARDER EMULATOR [KILLS]
source "$(dirname "$0")/lib.sh"
FWD=$1 EMU=$2 KILLS=${3:-12}
zf_tmpdir
zf_start_emulator "$EMU" --events 150000 --seed 11 --rate-limit 0
# A budget of 4 pages per 100 ms (20,000 events/s) keeps the backfill going
# for ~7 s, so every kill lands mid-run, often with batches in flight.
zf_forwarder_config "$ZF_TMP/fwd.yaml" "  - {type: jsonl, path: $ZF_TMP/out.jsonl}" \
  "  page_size: 500
  rate_limit: {requests: 4, period: 100ms}"
OUT=$ZF_TMP/out.jsonl
REGIONS=$ZF_TMP/regions
: >"$REGIONS"
lines() { [ -f "$OUT" ] && wc -l <"$OUT" || echo 0; }
acked() { [ -f "$ZF_TMP/checkpoint.json" ] && /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events_delivered"])' "$ZF_TMP/checkpoint.json" || echo 0; }

for i in $(seq 1 "$KILLS"); do
  first=$(lines); acked_before=$(acked)
  "$FWD" run --config "$ZF_TMP/fwd.yaml" 2>>"$ZF_TMP/forwarder.log" &
  pid=$!; ZF_PIDS+=($pid)
  sleep "$(/usr/bin/python3 -c 'import random; print(round(random.uniform(0.15, 0.9), 3))')"
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  # The sink may have left a torn line; the next start repairs it. Measure
  # what the next run will see.
  end=$(lines); acked_after=$(acked)
  echo "$first $end $((acked_after - acked_before))" >>"$REGIONS"
  echo "kill $i: output lines $first -> $end, acknowledged +$((acked_after - acked_before))"
done

first=$(lines); acked_before=$(acked)
"$FWD" run --once --config "$ZF_TMP/fwd.yaml" 2>>"$ZF_TMP/forwarder.log"
end=$(lines); acked_after=$(acked)
echo "$first $end $((acked_after - acked_before))" >>"$REGIONS"

curl -sf "$EMU_URL/_emulator/ids" >"$ZF_TMP/ids"
grep -c '"msg":"removed a partial last line' "$ZF_TMP/forwarder.log" | sed 's/^/torn lines repaired: /' || true
/usr/bin/python3 "$(dirname "$0")/check_delivery.py" "$OUT" "$ZF_TMP/ids" "$REGIONS"
