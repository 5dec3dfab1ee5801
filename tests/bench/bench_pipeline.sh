#!/usr/bin/env bash
# Pipeline throughput: emulator (rate limit off) -> forwarder -> JSON-lines
# file, beside a baseline of plain curl fetching the same pages to a file,
# measured in the same run on the same machine.
# usage: bench_pipeline.sh BUILD_DIR [EVENTS] [ENCODINGS]
# ENCODINGS: the jsonl sink's encoding for each forwarder run, e.g.
# "ecs_json cef ocsf_json" (default ecs_json); each is timed on the same
# emulator data and compared with the first.
set -euo pipefail
BUILD=${1:-build}; EVENTS=${2:-2000000}; ENCODINGS=${3:-ecs_json}
source "$(dirname "$0")/../integration/lib.sh"
zf_tmpdir
echo "generating $EVENTS events in the emulator..."
zf_start_emulator "$BUILD/src/emulator/zendesk-emulator" --events "$EVENTS" --seed 42 --rate-limit 0 --span 20h
AUTH=$(printf 'agent@example.com/token:emulator-token' | base64 -w0)
START=$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:%SZ); END=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# Baseline: one curl process fetching the same pages over one kept-alive
# connection, bodies to a file. The page URLs are collected first (untimed):
# the emulator's cursors are stable, so the timed pass is pure transfer.
cursor=""; : >"$ZF_TMP/urls.cfg"
while :; do
  url="$EMU_URL/api/v2/access_logs?filter%5Bstart%5D=$START&filter%5Bend%5D=$END&page%5Bsize%5D=2500"
  [ -n "$cursor" ] && url="$url&page%5Bafter%5D=$cursor"
  echo "url = \"$url\"" >>"$ZF_TMP/urls.cfg"
  curl -sf -H "Authorization: Basic $AUTH" "$url" -o "$ZF_TMP/page.json"
  grep -q '"has_more":true' "$ZF_TMP/page.json" || break
  cursor=$(grep -o '"after_cursor":"[^"]*"' "$ZF_TMP/page.json" | cut -d'"' -f4)
done
pages=$(wc -l <"$ZF_TMP/urls.cfg")
t0=$(date +%s.%N)
curl -sf -H "Authorization: Basic $AUTH" -K "$ZF_TMP/urls.cfg" >"$ZF_TMP/curl.out"
t1=$(date +%s.%N)
curl_s=$(echo "$t1 - $t0" | bc -l)
curl_bytes=$(stat -c %s "$ZF_TMP/curl.out")
rm -f "$ZF_TMP/curl.out"

first_rate=""
for ENCODING in $ENCODINGS; do
ZF_START=$START zf_forwarder_config "$ZF_TMP/fwd.yaml" "  - {type: jsonl, path: $ZF_TMP/out.jsonl, encoding: $ENCODING}" \
  "  max_window: 90d
  rate_limit: {requests: 100000, period: 60s}"
rm -rf "$ZF_TMP/out.jsonl" "$ZF_TMP/checkpoint.json"*
t0=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$ZF_TMP/maxrss" "$BUILD/src/app/zendesk-forwarder" run --once --config "$ZF_TMP/fwd.yaml" 2>"$ZF_TMP/fwd.log"
t1=$(date +%s.%N)
fwd_s=$(echo "$t1 - $t0" | bc -l)
lines=$(wc -l <"$ZF_TMP/out.jsonl")
summary=$(grep '"msg":"stopped"' "$ZF_TMP/fwd.log")
field() { echo "$summary" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
p50=$(field page_to_commit_ms_p50); p99=$(field page_to_commit_ms_p99)
rss_kb=$(cat "$ZF_TMP/maxrss")
rate=$(echo "$lines / $fwd_s" | bc -l)
if [ -z "$first_rate" ]; then first_rate=$rate; fi
printf 'encoding %-9s %8.0f events/s  (%.2f of %s)\n' "$ENCODING" "$rate" "$(echo "$rate / $first_rate" | bc -l)" \
  "${ENCODINGS%% *}"
done
/usr/bin/python3 - "$EVENTS" "$pages" "$curl_s" "$curl_bytes" "$lines" "$fwd_s" "$rss_kb" "$p50" "$p99" <<'PY'
import sys
events, pages, curl_s, curl_bytes, lines, fwd_s, rss_kb, p50, p99 = sys.argv[1:]
events, pages, lines, rss_kb = int(events), int(pages), int(lines), int(rss_kb)
curl_s, fwd_s, curl_bytes, p50, p99 = float(curl_s), float(fwd_s), int(curl_bytes), float(p50), float(p99)
curl_rate, fwd_rate = events / curl_s, lines / fwd_s
print(f"baseline  one curl, {pages} pages over one connection to a file: {curl_s:6.2f} s  {curl_rate:10,.0f} events/s  ({curl_bytes/curl_s/1e6:,.0f} MB/s)")
print(f"forwarder emulator -> normalize -> jsonl (fsync per batch): {fwd_s:6.2f} s  {fwd_rate:10,.0f} events/s")
print(f"ratio forwarder/curl: {fwd_rate/curl_rate:.2f}")
print(f"peak RSS: {rss_kb/1024:.1f} MiB   page->checkpoint latency p50 {p50:.0f} ms, p99 {p99:.0f} ms")
print(f"events written: {lines} of {events}")
ok = lines == events
print("targets: >=200,000 events/s:", "met" if fwd_rate >= 200000 else "NOT met",
      "| RSS < 64 MiB:", "met" if rss_kb < 65536 else "NOT met",
      "| p99 < 300 ms:", "met" if p99 < 300 else "NOT met")
sys.exit(0 if ok else 1)
PY
