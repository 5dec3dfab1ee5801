#!/usr/bin/env bash
# Kafka end to end: emulator -> zendesk-forwarder -> librdkafka's mock
# cluster, consumed by an independent client (python3-kafka). Proves exact
# delivery, delivery through broker outages and retriable produce errors, a
# clear stop on a permanent error with the checkpoint held, and no loss
# across SIGKILL.
# usage: e2e_test.sh FORWARDER EMULATOR MOCK_CLUSTER
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/kafka.sh"
FWD=$1 EMU=$2 MOCK=$3
HERE=$(dirname "$0")
zf_tmpdir
zf_start_emulator "$EMU" --events 30000 --seed 31 --rate-limit 0
curl -sf "$EMU_URL/_emulator/ids" | sort >"$ZF_TMP/ids"
zf_start_mock_cluster "$MOCK" --control "$ZF_TMP/control" \
  --topic plain:3:3 --topic outage:3:3 --topic retriable:3:3 --topic crash:3:3 --topic permanent:3:3
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/fwd-*.log 2>/dev/null; exit 1; }
control() { echo "$*" >"$ZF_TMP/control"; sleep 0.2; }

export ZF_PIPELINE="sink_retry_initial: 100ms, sink_retry_max: 1s"
config() {  # config NAME TOPIC [EXTRA_ZENDESK]: $ZF_TMP/NAME/fwd.yaml
  mkdir -p "$ZF_TMP/$1"
  ZF_CHECKPOINT=$ZF_TMP/$1/checkpoint.json zf_forwarder_config "$ZF_TMP/$1/fwd.yaml" \
    "  - {type: kafka, brokers: \"$BOOT\", topic: $2, message_timeout_ms: 5000}" "${3:-  page_size: 1000}"
}

check_topic() {  # check_topic TOPIC: the topic's ids equal the emulator's
  /usr/bin/python3 "$HERE/consume.py" "$BOOT" "$1" "$ZF_TMP/$1.ids" 4 || fail "malformed messages in $1"
  sort -u "$ZF_TMP/$1.ids" >"$ZF_TMP/$1.unique"
  if ! cmp -s "$ZF_TMP/$1.unique" "$ZF_TMP/ids"; then
    fail "$1: $(comm -23 "$ZF_TMP/ids" "$ZF_TMP/$1.unique" | wc -l) ids missing, $(comm -13 "$ZF_TMP/ids" "$ZF_TMP/$1.unique" | wc -l) unexpected"
  fi
  echo "$1: all $(wc -l <"$ZF_TMP/ids") ids present ($(wc -l <"$ZF_TMP/$1.ids") messages)"
}

echo "== exact delivery"
config plain plain
"$FWD" run --once --config "$ZF_TMP/plain/fwd.yaml" 2>"$ZF_TMP/fwd-plain.log" || fail "forwarder exited $?"
check_topic plain
[ "$(wc -l <"$ZF_TMP/plain.ids")" = "$(wc -l <"$ZF_TMP/ids")" ] || fail "duplicates without any fault"

echo "== all brokers down, then up"
config outage outage
control down all
"$FWD" run --once --config "$ZF_TMP/outage/fwd.yaml" 2>"$ZF_TMP/fwd-outage.log" &
pid=$!; ZF_PIDS+=($pid)
sleep 4
[ ! -f "$ZF_TMP/outage/checkpoint.json" ] || fail "checkpoint written while every broker was down"
kill -0 $pid 2>/dev/null || fail "forwarder gave up during the outage"
control up all
wait $pid || fail "forwarder exited $? after the outage"
check_topic outage

echo "== retriable produce errors"
config retriable retriable
control errors 30 NOT_LEADER_FOR_PARTITION
control errors 10 REQUEST_TIMED_OUT
"$FWD" run --once --config "$ZF_TMP/retriable/fwd.yaml" 2>"$ZF_TMP/fwd-retriable.log" || fail "forwarder exited $?"
check_topic retriable

echo "== SIGKILL mid-run, then restart"
config crash crash "  page_size: 500
  rate_limit: {requests: 4, period: 100ms}"
"$FWD" run --config "$ZF_TMP/crash/fwd.yaml" 2>"$ZF_TMP/fwd-crash.log" &
pid=$!; ZF_PIDS+=($pid)
sleep 0.8; kill -9 $pid; wait $pid 2>/dev/null || true
"$FWD" run --once --config "$ZF_TMP/crash/fwd.yaml" 2>>"$ZF_TMP/fwd-crash.log" || fail "restart exited $?"
check_topic crash

echo "== permanent error: stop with a clear message, checkpoint held"
config permanent permanent
control errors 1000 TOPIC_AUTHORIZATION_FAILED
set +e
"$FWD" run --once --config "$ZF_TMP/permanent/fwd.yaml" 2>"$ZF_TMP/fwd-permanent.log"
code=$?
set -e
[ "$code" = 1 ] || fail "exit code $code on a permanent error (expected 1)"
grep -q 'TOPIC_AUTHORIZATION_FAILED' "$ZF_TMP/fwd-permanent.log" || fail "the error does not name the cause"
grep -q 'retrying will not help' "$ZF_TMP/fwd-permanent.log" || fail "the error does not say it is permanent"
[ ! -f "$ZF_TMP/permanent/checkpoint.json" ] || fail "checkpoint moved past undelivered events"
echo "permanent error: exit 1, message: $(grep -o '"msg":"sink \\"kafka\\" cannot deliver[^"]*' "$ZF_TMP/fwd-permanent.log" | head -1 | cut -c8-)"
echo "OK"
