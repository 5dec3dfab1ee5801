#!/usr/bin/env bash
# Exactly once into Kafka (#17): transactional throughput beside the plain
# (idempotent, at-least-once) kafka sink, same broker, same run. A 200,000-
# event backfill from the emulator (no rate limit: the sink is the limit)
# into the test broker with transactions, default settings otherwise, with
# 1, 4 (the default) and 16 batches per transaction. Each figure is the best
# of ROUNDS runs (the machine is shared).
# usage: bench_exactly_once.sh BUILD_DIR [EVENTS] [ROUNDS]
set -euo pipefail
BUILD=${1:-build}; EVENTS=${2:-200000}; ROUNDS=${3:-3}; INFLIGHT=${INFLIGHT:-4}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../integration/lib.sh"
source "$HERE/kafka.sh"
zf_tmpdir
FWD=$(realpath "$BUILD/src/app/zendesk-forwarder")
zf_start_emulator "$BUILD/src/emulator/zendesk-emulator" --events "$EVENTS" --seed 7 --rate-limit 0
topics=()
for r in $(seq "$ROUNDS"); do
  for v in plain eo1 eo4 eo16; do topics+=(--topic "$v-$r:3:3" --topic "$v-$r-ckpt:1:3"); done
done
zf_start_mock_cluster "$BUILD/txn-broker/kafka-txn-mock-cluster" "${topics[@]}"

run() {  # run VARIANT ROUND SINK_KEYS: prints events/s
  cat >"$ZF_TMP/$1-$2.yaml" <<YAML
zendesk:
  base_url: $EMU_URL
  auth: {type: api_token, email: agent@example.com, token: emulator-token}
  start: 1d
  settle_delay: 0s
  late_read_delay: 0s
  rate_limit: {requests: 1000, period: 1s}
checkpoint: {path: $ZF_TMP/$1-$2.json}
pipeline: {max_inflight_batches: $INFLIGHT}
sinks:
  - {type: kafka, brokers: "$BOOT", topic: $1-$2$3}
YAML
  local t0 t1
  t0=$(date +%s.%N)
  "$FWD" run --once --config "$ZF_TMP/$1-$2.yaml" 2>"$ZF_TMP/$1-$2.log" || { tail -3 "$ZF_TMP/$1-$2.log"; exit 1; }
  t1=$(date +%s.%N)
  echo "$EVENTS / ($t1 - $t0)" | bc -l
}

declare -A best
for r in $(seq "$ROUNDS"); do
  for v in plain eo1 eo4 eo16; do
    case $v in
      plain) keys="" ;;
      eo*) keys=", exactly_once: true, checkpoint_topic: $v-$r-ckpt, transactional_id: zf-bench-$v-$r, batches_per_transaction: ${v#eo}" ;;
    esac
    rate=$(run "$v" "$r" "$keys")
    printf '  round %s %-6s %8.0f events/s\n' "$r" "$v" "$rate" >&2
    if [ -z "${best[$v]:-}" ] || [ "$(echo "$rate > ${best[$v]}" | bc -l)" = 1 ]; then best[$v]=$rate; fi
  done
done
echo "$EVENTS-event backfill into the test broker (3 partitions), best of $ROUNDS, same run:"
printf '  plain kafka sink (idempotent, at-least-once): %8.0f events/s\n' "${best[plain]}"
for v in eo1 eo4 eo16; do
  printf '  exactly_once, %2s batches per transaction:    %8.0f events/s = %.2fx plain\n' "${v#eo}" "${best[$v]}" \
    "$(echo "${best[$v]} / ${best[plain]}" | bc -l)"
done
ok=$(echo "${best[eo4]} / ${best[plain]} >= 0.8" | bc -l)
echo "target >= 0.8x plain with the default grouping (4): $([ "$ok" = 1 ] && echo met || echo 'NOT met')"
