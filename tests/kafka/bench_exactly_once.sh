#!/usr/bin/env bash
# Exactly once into Kafka (#17): transactional throughput beside the plain
# (idempotent, at-least-once) kafka sink, same broker, same run. A 200,000-
# event backfill from the emulator (no rate limit: the sink is the limit)
# into the test broker with transactions, default settings otherwise, with
# 1, 4 (the default) and 16 batches per transaction. Each figure is the best
# of ROUNDS runs (the machine is shared).
# Then live accounts at users' loads (300, 1,000 and 2,083 events/s), all
# settings default: each rate read by a plain and an exactly_once
# forwarder side by side (each with its own emulator, same seed and rate,
# Zendesk's 50 requests a minute) for LIVE_SECONDS (240; 0 skips): events
# delivered, freshness, CPU per 1,000 events, transactions and their p99.
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
LIVE_RATES=${LIVE_RATES:-300 1000 2083}
for rate in $LIVE_RATES; do topics+=(--topic "live-$rate:3:3" --topic "live-eo-$rate:3:3" --topic "live-eo-$rate-ckpt:1:3"); done
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

LIVE_SECONDS=${LIVE_SECONDS:-240}
[ "$LIVE_SECONDS" -gt 0 ] || exit 0
declare -A fwd_pid emu_url fwd_start
for rate in $LIVE_RATES; do
  for v in plain eo; do
    # 5 minutes of history, then live; the emulator's default rate limit.
    zf_start_emulator "$BUILD/src/emulator/zendesk-emulator" --events $((rate * 300)) --span 300s --end-gap 0s \
      --seed 7 --live-rate "$rate"
    emu_url[$v-$rate]=$EMU_URL
    keys=""
    [ $v = eo ] && keys=", exactly_once: true, checkpoint_topic: live-eo-$rate-ckpt, transactional_id: zf-live-$rate"
    topic=live-$rate; [ $v = eo ] && topic=live-eo-$rate
    cat >"$ZF_TMP/live-$v-$rate.yaml" <<YAML
zendesk:
  base_url: $EMU_URL
  auth: {type: api_token, email: agent@example.com, token: emulator-token}
  start: 5m
checkpoint: {path: $ZF_TMP/live-$v-$rate.json}
metrics: {listen: 127.0.0.1:0}
sinks:
  - {type: kafka, brokers: "$BOOT", topic: $topic$keys}
YAML
    "$FWD" run --config "$ZF_TMP/live-$v-$rate.yaml" 2>"$ZF_TMP/live-$v-$rate.log" &
    fwd_pid[$v-$rate]=$!
    fwd_start[$v-$rate]=$(date +%s.%N)
    ZF_PIDS+=($!)
  done
done
echo "live accounts, default settings, $LIVE_SECONDS s each, all six forwarders at once..." >&2
ticks=$(getconf CLK_TCK)
echo "live accounts, default settings (settle 60 s, poll 30 s, late reads at 10 min), $LIVE_SECONDS s from a 5-minute backfill:"
printf '  %-10s %-13s %10s %8s %8s %14s %13s %12s\n' "events/s" sink delivered "lag (s)" "429s" "CPU ms/1k ev" transactions "txn p99 (s)"
declare -A cpu_per_k
for rate in $LIVE_RATES; do
  for v in plain eo; do
    pid=${fwd_pid[$v-$rate]}
    # Each stops LIVE_SECONDS after its own start: the API's budget comes in
    # 60 s periods, so a common stop time would favour whichever started first.
    sleep "$(echo "x = ${fwd_start[$v-$rate]} + $LIVE_SECONDS - $(date +%s.%N); if (x < 0) 0 else x" | bc -l)"
    cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    addr=$(grep -o '"address":"[^"]*"' "$ZF_TMP/live-$v-$rate.log" | head -1 | cut -d'"' -f4)
    curl -sf "http://$addr/metrics" >"$ZF_TMP/live-$v-$rate.prom" || true
    limited=$(curl -sf "${emu_url[$v-$rate]}/_emulator/stats" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["rate_limited"])')
    kill -TERM "$pid"
    wait "$pid" || echo "the $v forwarder at $rate events/s exited $?" >&2
    read -r delivered lag txns p99 < <(/usr/bin/python3 - "$ZF_TMP/live-$v-$rate.prom" "$ZF_TMP/live-$v-$rate.log" <<'PY'
import json, re, sys
prom = open(sys.argv[1]).read()
def value(name, label=""):
    for line in prom.splitlines():
        if line.startswith(name) and label in line:
            return float(line.rsplit(" ", 1)[1])
    return None
buckets = [(float(m.group(1).replace("+Inf", "inf")), float(m.group(2))) for m in
           re.finditer(r'zendesk_forwarder_kafka_transaction_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\S+)', prom)]
p99 = "-"
if buckets and buckets[-1][1] > 0:
    p99 = next(f"<={le:g}" for le, n in buckets if n >= 0.99 * buckets[-1][1])
txns = value("zendesk_forwarder_kafka_transactions_total", 'outcome="committed"')
stopped = [json.loads(l) for l in open(sys.argv[2]) if '"msg":"stopped"' in l]
delivered = int(stopped[-1]["events_delivered_total"]) if stopped else 0
lag = value("zendesk_forwarder_lag_seconds")
print(delivered, f"{lag:.0f}" if lag is not None else "-", int(txns) if txns is not None else "-", p99)
PY
)
    cpu_per_k[$v-$rate]=$(echo "1000 * $cpu / $ticks * 1000 / ($delivered + 1)" | bc -l)
    printf '  %-10s %-13s %10s %8s %8s %14.1f %13s %12s\n' "$rate" "$([ $v = eo ] && echo exactly_once || echo plain)" \
      "$delivered" "$lag" "$limited" "${cpu_per_k[$v-$rate]}" "$txns" "$p99"
  done
done

