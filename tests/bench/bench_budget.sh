#!/usr/bin/env bash
# Request-budget use: with the emulator's limit scaled down in time (50 per
# 6 s, ten times Zendesk's pace), a backfill must use >= 98% of the budget
# with full pages and zero 429s, i.e. reach the source's physical limit
# (125,000 events per minute at Zendesk's real pace).
# usage: bench_budget.sh BUILD_DIR [WINDOWS]
set -euo pipefail
BUILD=${1:-build}; WINDOWS=${2:-5}
source "$(dirname "$0")/../integration/lib.sh"
zf_tmpdir
PERIOD=6
zf_start_emulator "$BUILD/src/emulator/zendesk-emulator" --events 1000000 --seed 43 --rate-limit 50 --rate-window ${PERIOD}s --span 20h
ZF_TOP="metrics: {listen: 127.0.0.1:0}" zf_forwarder_config "$ZF_TMP/fwd.yaml" \
  "  - {type: jsonl, path: /dev/null, fsync: false}" "  rate_limit: {requests: 50, period: ${PERIOD}s}"
"$BUILD/src/app/zendesk-forwarder" run --config "$ZF_TMP/fwd.yaml" 2>"$ZF_TMP/fwd.log" &
ZF_PIDS+=($!)
for _ in $(seq 100); do
  ADDR=$(grep -o '"address":"[^"]*"' "$ZF_TMP/fwd.log" | cut -d'"' -f4 || true); [ -n "$ADDR" ] && break; sleep 0.1
done
metric() { curl -sf "http://$ADDR/metrics" | awk -v n="$1" '$1 ~ "^"n"({|$)" {s+=$2} END {printf "%d\n", s}'; }
sleep 3   # past the first burst, mid-period
r0=$(metric zendesk_forwarder_api_requests_total); e0=$(metric zendesk_forwarder_events_fetched_total)
emu0=$(curl -sf "$EMU_URL/_emulator/stats")
sleep $((WINDOWS * PERIOD))
r1=$(metric zendesk_forwarder_api_requests_total); e1=$(metric zendesk_forwarder_events_fetched_total)
emu1=$(curl -sf "$EMU_URL/_emulator/stats")
/usr/bin/python3 - "$r0" "$r1" "$e0" "$e1" "$WINDOWS" "$PERIOD" "$emu1" <<'PY'
import json, sys
r0, r1, e0, e1, windows, period = map(int, sys.argv[1:7])
stats = json.loads(sys.argv[7])
budget = 50 * windows
used = r1 - r0
print(f"measured over {windows} periods of {period} s: {used} requests of a budget of {budget} -> {100*used/budget:.1f}% used")
per_req = (e1 - e0) / max(used, 1)
print(f"events per request: {per_req:.0f} (full page = 2500)")
per_min = (e1 - e0) / (windows * period) * 60
print(f"events per minute: {per_min:,.0f}; at Zendesk's real pace (50/60 s) that is {per_min/10:,.0f} of the 125,000 limit")
print(f"429 responses from the emulator over the whole run: {stats['rate_limited']}")
ok = used >= 0.98 * budget and stats['rate_limited'] == 0 and per_req >= 2490
print("target >= 98% of budget, full pages, zero 429s:", "met" if ok else "NOT met")
sys.exit(0 if ok else 1)
PY
