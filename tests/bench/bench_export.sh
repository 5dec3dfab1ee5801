#!/usr/bin/env bash
# export against Zendesk's own script (tests/export/zendesk_access_log_export.py,
# with its one-line cursor fix), in the same run, on the same emulator data:
# 30 days of EVENTS access events by 40 agents in an account of END_USERS
# end users, at the real limit of the Access Logs API (50 requests a
# minute) scaled to 50 every 2 s. Prints the requests each used (the
# emulator's counts: access logs and Users API), wall time and peak memory.
# Target: export uses at most 1/10 of the script's requests.
# usage: bench_export.sh BUILD_DIR [EVENTS] [END_USERS]
set -euo pipefail
BUILD=${1:-build}; EVENTS=${2:-200000}; END_USERS=${3:-50000}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../integration/lib.sh"
zf_tmpdir
zf_start_emulator "$BUILD/src/emulator/zendesk-emulator" --events "$EVENTS" --seed 30 --span 29d --agents 40 \
  --end-users "$END_USERS" --no-awkward --rate-limit 50 --rate-window 2s --reset-format retry-after
zf_forwarder_config "$ZF_TMP/f.yaml" "  - {type: jsonl, path: $ZF_TMP/unused.jsonl}" "  rate_limit: {requests: 50, period: 2s}"
counts() { curl -sf "$EMU_URL/_emulator/stats" | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["requests"], s["users_requests"], s["rate_limited"] + s["users_rate_limited"])'; }
measure() {  # measure NAME CMD...: "access_log_requests users_requests 429s seconds max_rss_kib"
  local a0 u0 r0 a1 u1 r1 t0 t1
  read -r a0 u0 r0 < <(counts)
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$ZF_TMP/$1.rss" "${@:2}" >"$ZF_TMP/$1.out" 2>"$ZF_TMP/$1.log"
  t1=$(date +%s.%N)
  read -r a1 u1 r1 < <(counts)
  echo "$((a1 - a0)) $((u1 - u0)) $((r1 - r0)) $(echo "$t1 - $t0" | bc -l) $(tail -1 "$ZF_TMP/$1.rss")"
}
mkdir -p "$ZF_TMP/script"
read -r s_a s_u s_r s_t s_m < <(cd "$ZF_TMP/script" && measure script env ZENDESK_BASE_URL="$EMU_URL" \
  ZENDESK_USERNAME=agent@example.com ZENDESK_PASSWORD=emulator-password CURSOR_FIX=1 \
  bash -c "printf 'tickets\n30\n' | /usr/bin/python3 '$HERE/../export/zendesk_access_log_export.py'")
sleep 2  # a fresh rate window for the second run
read -r f_a f_u f_r f_t f_m < <(measure export "$BUILD/src/app/zendesk-forwarder" export --config "$ZF_TMP/f.yaml" \
  --days 30 --resource tickets --output "$ZF_TMP/export.csv")
s_rows=$(($(cat "$ZF_TMP"/script/*.csv | /usr/bin/python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(sys.stdin)))') - 1))
f_rows=$(($(/usr/bin/python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], newline=""))))' "$ZF_TMP/export.csv") - 1))
printf '%s events over 30 days, 40 agents, %s end users; limit 50 requests per 2 s (the real 50 a minute, 30x faster)\n' \
  "$EVENTS" "$END_USERS"
printf '%-22s %10s %10s %8s %8s %10s %10s\n' "" "access-log" "Users API" "total" "429s" "seconds" "peak MiB"
printf '%-22s %10s %10s %8s %8s %10.1f %10.1f\n' "script (cursor fixed)" "$s_a" "$s_u" $((s_a + s_u)) "$s_r" "$s_t" "$(echo "$s_m / 1024" | bc -l)"
printf '%-22s %10s %10s %8s %8s %10.1f %10.1f\n' "zendesk-forwarder" "$f_a" "$f_u" $((f_a + f_u)) "$f_r" "$f_t" "$(echo "$f_m / 1024" | bc -l)"
printf 'ticket rows: script %s, export %s\n' "$s_rows" "$f_rows"
ratio=$(echo "($f_a + $f_u) / ($s_a + $s_u)" | bc -l)
printf 'requests: export / script = %.3f (access logs alone: %.3f); wall time: %.2fx faster\n' "$ratio" \
  "$(echo "$f_a / $s_a" | bc -l)" "$(echo "$s_t / $f_t" | bc -l)"
echo "target export <= 1/10 of the script's requests: $([ "$(echo "$ratio <= 0.1" | bc -l)" = 1 ] && echo met || echo 'NOT met')"
