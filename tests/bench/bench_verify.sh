#!/usr/bin/env bash
# verify --ledger against the API listing alone, on the same emulator data:
# EVENTS (default 1,000,000) are shipped to a JSON-lines file, then timed:
#   listing: verify with only a syslog sink (cannot be read back), which is
#            the API listing and nothing else;
#   ledger:  verify --ledger with the jsonl sink (every minute agrees, so the
#            file is not read);
#   full:    verify reading the whole file.
# Target: ledger <= listing + 10%. Also prints the ledger's size on disk.
# usage: bench_verify.sh BUILD_DIR [EVENTS]
set -euo pipefail
BUILD=${1:-build}; EVENTS=${2:-1000000}
source "$(dirname "$0")/../integration/lib.sh"
zf_tmpdir
zf_start_emulator "$BUILD/src/emulator/zendesk-emulator" --events "$EVENTS" --seed 7 --rate-limit 0 --span 20h
SINCE=$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:00Z); UNTIL=$(date -u +%Y-%m-%dT%H:%M:00Z)
budget="  max_window: 90d
  rate_limit: {requests: 100000, period: 60s}"
ZF_START=$SINCE zf_forwarder_config "$ZF_TMP/run.yaml" "  - {type: jsonl, path: $ZF_TMP/out.jsonl, fsync: false}" "$budget"
"$BUILD/src/app/zendesk-forwarder" run --once --config "$ZF_TMP/run.yaml" 2>"$ZF_TMP/run.log"
ZF_START=$SINCE zf_forwarder_config "$ZF_TMP/listing.yaml" "  - {type: syslog, host: 127.0.0.1, port: 9, transport: udp}" "$budget"
timed() {  # timed NAME CONFIG [ARGS...]: seconds on stdout
  local t0 t1
  t0=$(date +%s.%N)
  "$BUILD/src/app/zendesk-forwarder" verify --config "$2" --since "$SINCE" --until "$UNTIL" --budget-share 1 \
    --report "$ZF_TMP/$1.json" "${@:3}" >"$ZF_TMP/$1.out" 2>"$ZF_TMP/$1.log" || true
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
declare -A best
for round in 1 2 3; do
  for what in listing ledger full; do
    case $what in
      listing) s=$(timed listing "$ZF_TMP/listing.yaml") ;;
      ledger) s=$(timed ledger "$ZF_TMP/run.yaml" --ledger) ;;
      full) s=$(timed full "$ZF_TMP/run.yaml") ;;
    esac
    if [ -z "${best[$what]:-}" ] || [ "$(echo "$s < ${best[$what]}" | bc -l)" = 1 ]; then best[$what]=$s; fi
  done
done
api=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sources"][0]["api_events"])' "$ZF_TMP/ledger.json")
read_by_ledger=$(grep -c "per the ledger (not read)" "$ZF_TMP/ledger.out" || true)
printf '%s events at the API, best of 3 rounds (interleaved):\n' "$api"
printf '  listing alone           %6.2f s\n' "${best[listing]}"
printf '  verify --ledger         %6.2f s  (%.2f of the listing; sinks not read: %s)\n' "${best[ledger]}" \
  "$(echo "${best[ledger]} / ${best[listing]}" | bc -l)" "$([ "$read_by_ledger" -ge 1 ] && echo yes || echo NO)"
printf '  verify, reading the file %6.2f s  (%.2f of the listing)\n' "${best[full]}" "$(echo "${best[full]} / ${best[listing]}" | bc -l)"
printf '  ledger on disk: %s bytes\n' "$(stat -c %s "$ZF_TMP/checkpoint.json.ledger")"
ok=$(echo "${best[ledger]} <= 1.10 * ${best[listing]}" | bc -l)
echo "target verify --ledger <= listing + 10%: $([ "$ok" = 1 ] && echo met || echo 'NOT met')"
