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
: >"$ZF_TMP/regions"
zf_kill_runs "$ZF_TMP/fwd.yaml" "$OUT" "$KILLS" 0.15 0.9
zf_region_start "$OUT"
"$FWD" run --once --config "$ZF_TMP/fwd.yaml" 2>>"$ZF_TMP/forwarder.log"
zf_region_end "$OUT"

curl -sf "$EMU_URL/_emulator/ids" >"$ZF_TMP/ids"
grep -c '"msg":"removed a partial last line' "$ZF_TMP/forwarder.log" | sed 's/^/torn lines repaired: /' || true
/usr/bin/python3 "$(dirname "$0")/check_delivery.py" "$OUT" "$ZF_TMP/ids" "$ZF_TMP/regions"
