#!/usr/bin/env bash
# End to end, emulator -> Kafka: the forwarder (`run --once`: fetch, ECS
# records, Kafka sink, checkpoint on acknowledgement) beside the two halves
# of the transport done by standard tools, each timed alone as the bound a
# pipeline of them could reach: curl walking the same pages (the API side,
# summing only curl's own transfer times, not its process start-ups),
# and one `kcat -P` with the sink's producer settings sending the pages'
# events as "id<TAB>raw event" lines from a file (the Kafka side). The
# chained script (curl | jq | kcat) is printed too. The rest are timed as
# whole processes, in interleaved rounds, each into its own topic.
# usage: bench_e2e.sh BUILD_DIR [EVENTS] [ROUNDS]
set -euo pipefail
BUILD=${1:-build}; N=${2:-300000}; ROUNDS=${3:-3}
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/kafka.sh"
command -v jq >/dev/null || { echo "bench_e2e: needs jq (deploy/install-deps.sh installs it)"; exit 1; }
zf_tmpdir
zf_start_emulator "$BUILD/src/emulator/zendesk-emulator" --events "$N" --seed 61 --rate-limit 0
topics=()
for r in $(seq "$ROUNDS"); do topics+=(--topic "fwd-$r:6:3" --topic "script-$r:6:3" --topic "kcat-$r:6:3"); done
zf_start_mock_cluster "$BUILD/tests/kafka/kafka-mock-cluster" "${topics[@]}"
now() { date +%s.%N; }

first_page="$EMU_URL/api/v2/access_logs?page%5Bsize%5D=1000&filter%5Bstart%5D=$(date -u -d "1 day ago" +%Y-%m-%dT%H:%M:%SZ)"
get() { curl -sf -u agent@example.com/token:emulator-token "$@"; }
next_link() { grep -o '"next":"[^"]*"' "$1" | sed 's/^"next":"//; s/"$//' || true; }

pages_run() {  # every page, nothing else; curl's own transfer times summed into $ZF_TMP/transfer
  local url=$first_page
  : >"$ZF_TMP/transfer"
  while [ -n "$url" ]; do
    get "$url" -o "$ZF_TMP/page.json" -w '%{time_total}\n' >>"$ZF_TMP/transfer"
    url=$(next_link "$ZF_TMP/page.json")
  done
}

script_run() {  # TOPIC: the pages, as they come, cut by jq, into one kcat; keeps the lines
  local url=$first_page
  while [ -n "$url" ]; do
    get "$url" >"$ZF_TMP/page.json"
    jq -r '.access_logs[] | "\(.id)\t\(tojson)"' "$ZF_TMP/page.json"
    url=$(next_link "$ZF_TMP/page.json")
  done | tee "$ZF_TMP/lines.tsv" | zf_kcat_produce "$1"
}

fwd_run() {  # TOPIC
  ZF_CHECKPOINT=$ZF_TMP/$1.checkpoint.json zf_forwarder_config "$ZF_TMP/$1.yaml" "  - {type: kafka, brokers: \"$BOOT\", topic: $1}" \
    "  page_size: 1000
  rate_limit: {requests: 100000, period: 1s}  # the emulator has none here; the script obeys none"
  "$BUILD/src/app/zendesk-forwarder" run --once --config "$ZF_TMP/$1.yaml" 2>"$ZF_TMP/$1.log"
}

for r in $(seq "$ROUNDS"); do
  t0=$(now); fwd_run "fwd-$r"; t1=$(now)
  echo "forwarder $(echo "$t1 - $t0" | bc -l)" >>"$ZF_TMP/times"
  t0=$(now); script_run "script-$r"; t1=$(now)
  echo "script $(echo "$t1 - $t0" | bc -l)" >>"$ZF_TMP/times"
  t0=$(now); pages_run; t1=$(now)
  echo "pages $(echo "$t1 - $t0" | bc -l)" >>"$ZF_TMP/times"
  echo "transfer $(paste -sd+ "$ZF_TMP/transfer" | bc -l)" >>"$ZF_TMP/times"
  t0=$(now); zf_kcat_produce "kcat-$r" <"$ZF_TMP/lines.tsv"; t1=$(now)
  echo "kcat $(echo "$t1 - $t0" | bc -l)" >>"$ZF_TMP/times"
done
count_ids() { kcat -C -b "$BOOT" -t "$1" -e -q -f '%k\n' | sort -u | wc -l; }
echo "fwd-1 $(count_ids fwd-1)" >"$ZF_TMP/counts"
echo "script-1 $(count_ids script-1)" >>"$ZF_TMP/counts"
acked=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events_delivered"])' "$ZF_TMP/fwd-1.checkpoint.json")

/usr/bin/python3 - "$N" "$ZF_TMP/times" "$ZF_TMP/counts" "$acked" <<'PY'
import statistics, sys
n, acked = int(sys.argv[1]), int(sys.argv[4])
runs = {}
for line in open(sys.argv[2]):
    name, secs = line.split()
    runs.setdefault(name, []).append(n / float(secs))
counts = dict(line.split() for line in open(sys.argv[3]))
med = {k: statistics.median(v) for k, v in runs.items()}
print(f"{n} events from the emulator (no rate limit) into Kafka, {len(runs['forwarder'])} interleaved rounds, "
      "median (min-max) events/s, whole processes:")
for name, label in (("pages", "curl, the pages alone, a process per page"),
                    ("transfer", "curl's transfer time alone, summed (API side)"),
                    ("kcat", "kcat -P, the events from a file (Kafka side)"),
                    ("script", "curl | jq | kcat -P chained (raw events)"),
                    ("forwarder", "zendesk-forwarder run --once (ECS, checkpointed)")):
    print(f"  {label:52s} {med[name]:>9,.0f}  ({min(runs[name]):,.0f}-{max(runs[name]):,.0f})")
print(f"  distinct ids in topic: forwarder {counts['fwd-1']} (checkpoint says {acked} delivered), "
      f"script {counts['script-1']}, expected {n}")
bound = min(med["transfer"], med["kcat"])
print(f"ratio forwarder / slower half alone (the bound for tools in a pipeline): {med['forwarder'] / bound:.2f}; "
      f"forwarder / chained script: {med['forwarder'] / med['script']:.2f}")
if int(counts["fwd-1"]) != n or acked != n:
    sys.exit("the forwarder's topic does not hold every id")
PY
