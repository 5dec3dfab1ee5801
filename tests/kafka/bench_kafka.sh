#!/usr/bin/env bash
# Kafka sink throughput beside `kcat -P`: the same records, to the same mock
# cluster, with the same producer settings, in interleaved rounds (the
# machine is noisy: medians, not one run).
#
# The baseline kcat produces the very messages the sink produces: key = event
# id, value = the record, and the sink's three headers (-H). kcat without
# headers is printed too, so the cost of the headers the issue asks for is
# visible, not hidden in the ratio.
# usage: bench_kafka.sh BUILD_DIR [MESSAGES] [ROUNDS]
set -euo pipefail
BUILD=${1:-build}; N=${2:-300000}; ROUNDS=${3:-5}
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/kafka.sh"
zf_tmpdir
topics=()
for r in $(seq "$ROUNDS"); do topics+=(--topic "sink-$r:6:3" --topic "kcat-$r:6:3" --topic "kcat-noheaders-$r:6:3"); done
zf_start_mock_cluster "$BUILD/tests/kafka/kafka-mock-cluster" "${topics[@]}"
"$BUILD/tests/kafka/bench_kafka_sink" write "$N" "$ZF_TMP/records.tsv"

kcat_produce() {  # TOPIC [kcat args...]: prints seconds
  local t0 t1
  t0=$(date +%s.%N)
  zf_kcat_produce "$@" <"$ZF_TMP/records.tsv"
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
count_ids() { kcat -C -b "$BOOT" -t "$1" -e -q -f '%k\n' | sort -u | wc -l; }

for r in $(seq "$ROUNDS"); do
  # Both sides timed the same way: the whole process, reading its input
  # included (the harness's own clock, which starts after loading, is kept
  # as a reference only).
  t0=$(date +%s.%N)
  "$BUILD/tests/kafka/bench_kafka_sink" produce "$BOOT" "sink-$r" "$ZF_TMP/records.tsv" >"$ZF_TMP/sink.out"
  t1=$(date +%s.%N)
  read -r n secs failed <"$ZF_TMP/sink.out"
  [ "$failed" = 0 ] || { echo "round $r: $failed batches failed" >&2; exit 1; }
  echo "sink $(echo "$t1 - $t0" | bc -l)" >>"$ZF_TMP/times"
  echo "sink-in-harness $secs" >>"$ZF_TMP/times"
  echo "kcat $(kcat_produce "kcat-$r" -H zendesk-account=acme -H schema-version=2 -H source=zendesk-forwarder)" >>"$ZF_TMP/times"
  echo "kcat-noheaders $(kcat_produce "kcat-noheaders-$r")" >>"$ZF_TMP/times"
done
# Every message is in its topic, once per id. The mock cluster keeps about
# 5 MB per partition, so larger runs cannot be read back whole.
if [ "$N" -le 300000 ]; then
  for t in sink-1 kcat-1; do echo "$t $(count_ids "$t")" >>"$ZF_TMP/counts"; done
else
  printf 'sink-1 unchecked\nkcat-1 unchecked\n' >"$ZF_TMP/counts"
fi

/usr/bin/python3 - "$N" "$ZF_TMP/times" "$ZF_TMP/counts" <<'PY'
import statistics, sys
n = int(sys.argv[1])
runs = {}
for line in open(sys.argv[2]):
    name, secs = line.split()
    runs.setdefault(name, []).append(n / float(secs))
counts = dict(line.split() for line in open(sys.argv[3]))
med = {k: statistics.median(v) for k, v in runs.items()}
rounds = len(runs["sink"])
print(f"{n} messages per run, {rounds} interleaved rounds, median (min-max) messages/s:")
for name, label in (("kcat", "kcat -P, same key, value and headers"), ("kcat-noheaders", "kcat -P, no headers (reference)"),
                    ("sink", "Kafka sink, whole process like kcat"),
                    ("sink-in-harness", "Kafka sink, clock after input loaded (ref.)")):
    v = runs[name]
    print(f"  {label:42s} {med[name]:>9,.0f}  ({min(v):,.0f}-{max(v):,.0f})")
print(f"  distinct ids in topic: sink {counts['sink-1']}, kcat {counts['kcat-1']} (expected {n})")
per_round = [s / k for s, k in zip(runs["sink"], runs["kcat"])]
ratio = med["sink"] / med["kcat"]
print(f"ratio sink/kcat (same messages): {ratio:.2f}, per round {', '.join(f'{x:.2f}' for x in per_round)}"
      f" (target >= 0.90): {'met' if ratio >= 0.9 else 'NOT met'}")
print(f"ratio sink/kcat without headers: {med['sink'] / med['kcat-noheaders']:.2f}"
      f"; the three headers cost kcat {1 - med['kcat'] / med['kcat-noheaders']:.0%} of its rate")
if "unchecked" not in counts.values() and (int(counts["sink-1"]) != n or int(counts["kcat-1"]) != n):
    sys.exit("a topic does not hold every id")
PY
