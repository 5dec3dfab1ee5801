#!/usr/bin/env bash
# Kafka sink throughput beside `kcat -P`, same records, same mock cluster,
# same producer settings (zstd, acks=all, idempotence, linger 20 ms).
# usage: bench_kafka.sh BUILD_DIR [MESSAGES]
set -euo pipefail
BUILD=${1:-build}; N=${2:-500000}
source "$(dirname "$0")/../integration/lib.sh"
zf_tmpdir
"$BUILD/tests/kafka/kafka-mock-cluster" --brokers 3 --bootstrap-file "$ZF_TMP/bootstrap" \
  --topic sink:6:3 --topic kcat:6:3 >/dev/null 2>&1 &
ZF_PIDS+=($!)
zf_wait_file "$ZF_TMP/bootstrap" 30
B=$(cat "$ZF_TMP/bootstrap")
read -r n sink_s failed < <("$BUILD/tests/kafka/bench_kafka_sink" "$B" sink "$N" "$ZF_TMP/records.tsv")
t0=$(date +%s.%N)
kcat -P -b "$B" -t kcat -K $'\t' -z zstd -X enable.idempotence=true -X acks=all -X linger.ms=20 \
  -X batch.size=1000000 -X batch.num.messages=10000 <"$ZF_TMP/records.tsv"
t1=$(date +%s.%N)
kcat_s=$(echo "$t1 - $t0" | bc -l)
got=$(kcat -C -b "$B" -t kcat -e -q -f '%k\n' | wc -l)
/usr/bin/python3 - "$n" "$sink_s" "$kcat_s" "$got" "$failed" <<'PY'
import sys
n, sink_s, kcat_s, got, failed = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
sink, kcat = n / sink_s, n / kcat_s
print(f"kcat -P : {n} messages in {kcat_s:.2f} s = {kcat:,.0f} msg/s ({got} in topic)")
print(f"sink    : {n} messages in {sink_s:.2f} s = {sink:,.0f} msg/s (acknowledged from delivery reports, {failed} failed batches)")
print(f"ratio sink/kcat: {sink/kcat:.2f} (target >= 0.90): {'met' if sink >= 0.9 * kcat else 'NOT met'}")
PY
