#!/usr/bin/env bash
# RELP end to end against a real rsyslog (imrelp) on loopback:
#  1. RELP and RELP over TLS: every event arrives exactly once, as RFC 5424
#     with our structured data; a wrong CA is refused with a clear error.
#  2. rsyslog SIGKILLed for 4 s mid-run, RUNS times (default 5), 90,000
#     events each: RELP loses nothing. A TCP sink shipping the same events
#     to the same rsyslog at the same time is measured beside it (its losses
#     are reported, not failed: plain TCP cannot prevent them). Each run has
#     its own rsyslog; RELP_PARALLEL (default 5: all) of them run at a time.
# usage: relp_test.sh FORWARDER EMULATOR [RUNS]
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/rsyslog.sh"
FWD=$1 EMU=$2 RUNS=${3:-5} HERE=$(dirname "$0")
zf_tmpdir
PORT_TCP=$(zf_free_port) PORT_RELP=$(zf_free_port) PORT_RELP_TLS=$(zf_free_port)
zf_make_pki
zf_start_rsyslog_relp
fail() { echo "FAIL: $*"; for f in "$ZF_TMP"/fwd*.log; do tail -n 5 "$f"; done; tail -n 5 "$ZF_TMP/rsyslog/stdout"; exit 1; }
export ZF_PIPELINE="sink_retry_initial: 100ms, sink_retry_max: 1s"

# config NAME SINK_YAML [EXTRA_ZENDESK]: $ZF_TMP/NAME.yaml with its own checkpoint.
config() { ZF_CHECKPOINT=$ZF_TMP/$1.checkpoint.json zf_forwarder_config "$ZF_TMP/$1.yaml" "$2" "${3:-}"; }

echo "== RELP and RELP over TLS, 20,000 events"
zf_start_emulator "$EMU" --events 20000 --seed 52 --rate-limit 0
curl -sf "$EMU_URL/_emulator/ids" >"$ZF_TMP/ids"
first_emulator=${ZF_PIDS[-1]}
config both "  - {type: syslog, name: relp, host: 127.0.0.1, port: $PORT_RELP, transport: relp}
  - type: syslog
    name: relptls
    host: 127.0.0.1
    port: $PORT_RELP_TLS
    transport: relp
    tls: {ca_file: $ZF_TMP/pki/ca.pem, cert_file: $ZF_TMP/pki/client.pem, key_file: $ZF_TMP/pki/client.key}"
timeout 120 "$FWD" run --once --config "$ZF_TMP/both.yaml" 2>"$ZF_TMP/fwd-both.log" || fail "forwarder exited $?"
zf_settle "$ZF_TMP"/rsyslog/relp*.log
/usr/bin/python3 "$HERE/check_rsyslog.py" "$ZF_TMP/rsyslog/relp.log" "$ZF_TMP/ids" exact || fail "RELP"
/usr/bin/python3 "$HERE/check_rsyslog.py" "$ZF_TMP/rsyslog/relptls.log" "$ZF_TMP/ids" exact || fail "RELP over TLS"

echo "== RELP over TLS refuses a wrong CA"
# shutdown_timeout 1s: at timeout's SIGTERM the sink still cannot deliver, and
# the default 10 s flush would only make the test wait.
ZF_PIPELINE="$ZF_PIPELINE, shutdown_timeout: 1s" config badca "  - {type: syslog, host: 127.0.0.1, port: $PORT_RELP_TLS, transport: relp, tls: {ca_file: $ZF_TMP/pki/other.pem, cert_file: $ZF_TMP/pki/client.pem, key_file: $ZF_TMP/pki/client.key}}"
timeout 5 "$FWD" run --once --config "$ZF_TMP/badca.yaml" 2>"$ZF_TMP/fwd-badca.log" || true
grep -q "certificate verification failed" "$ZF_TMP/fwd-badca.log" || fail "no clear TLS error for a wrong CA"
[ ! -f "$ZF_TMP/badca.checkpoint.json" ] || fail "checkpoint moved although TLS was refused"
echo "refused: $(grep -o 'certificate verification failed: [^(]*' "$ZF_TMP/fwd-badca.log" | head -1)"

echo "== rsyslog SIGKILLed for 4 s mid-run, $RUNS runs of 90,000 events, RELP and TCP side by side"
kill "$first_emulator"
zf_start_emulator "$EMU" --events 90000 --seed 53 --rate-limit 0
curl -sf "$EMU_URL/_emulator/ids" >"$ZF_TMP/ids"
# 10 pages of 1,000 a second: a run lasts about 9 s, the outage 4 s of it.
pace="  page_size: 1000
  rate_limit: {requests: 10, period: 1s}"
# one_run N: run N in $ZF_TMP/run-N with its own rsyslog (its own ports and
# files: rsyslog keeps its files open) and its own checkpoints; prints its line.
one_run() {
  local run=$1 relp tcp retried relp_pid tcp_pid
  ZF_TMP=$ZF_TMP/run-$run ZF_KEEP_TMP=1 ZF_PIDS=()
  trap zf_cleanup EXIT
  trap 'exit 143' TERM
  mkdir -p "$ZF_TMP/rsyslog"
  ln -s ../pki "$ZF_TMP/pki"
  PORT_TCP=$(zf_free_port) PORT_RELP=$(zf_free_port) PORT_RELP_TLS=$(zf_free_port)
  zf_start_rsyslog_relp
  config relp "  - {type: syslog, host: 127.0.0.1, port: $PORT_RELP, transport: relp}" "$pace"
  config tcp "  - {type: syslog, host: 127.0.0.1, port: $PORT_TCP, transport: tcp}" "$pace"
  "$FWD" run --once --config "$ZF_TMP/relp.yaml" 2>"$ZF_TMP/fwd-relp.log" & relp_pid=$!; ZF_PIDS+=($relp_pid)
  "$FWD" run --once --config "$ZF_TMP/tcp.yaml" 2>"$ZF_TMP/fwd-tcp.log" & tcp_pid=$!; ZF_PIDS+=($tcp_pid)
  sleep "$(/usr/bin/python3 -c 'import random; print(round(random.uniform(2, 4), 2))')"
  kill -9 "$RSYSLOG_PID"; wait "$RSYSLOG_PID" 2>/dev/null || true
  sleep 4
  zf_run_rsyslog "$PORT_TCP" "$PORT_RELP" "$PORT_RELP_TLS"
  # --once ends when caught up; a sink that never recovers would keep it retrying.
  ( sleep 120; kill "$relp_pid" "$tcp_pid" 2>/dev/null ) & ZF_PIDS+=($!)
  wait "$relp_pid" || fail "run $run: RELP forwarder exited $? across the kill"
  wait "$tcp_pid" || fail "run $run: TCP forwarder exited $? across the kill"
  zf_settle "$ZF_TMP"/rsyslog/{relp,tcp}.log
  relp=$(/usr/bin/python3 "$HERE/check_rsyslog.py" "$ZF_TMP/rsyslog/relp.log" "$ZF_TMP/../ids" all) ||
    { echo "$relp"; echo "run $run: RELP lost events"; }
  tcp=$(/usr/bin/python3 "$HERE/check_rsyslog.py" "$ZF_TMP/rsyslog/tcp.log" "$ZF_TMP/../ids" all || true)
  retried=$(grep -c '"msg":"sink could not deliver a batch' "$ZF_TMP/fwd-relp.log" || true)
  echo "run $run: RELP $(echo "$relp" | grep -o 'missing [0-9]*, .*duplicates [0-9]*') ($retried batches retried);" \
       "TCP $(echo "$tcp" | grep -o 'missing [0-9]*, .*duplicates [0-9]*')"
}
# The runs are independent (each its own rsyslog, ports and checkpoints; the
# emulator has no rate limit), so RELP_PARALLEL of them run at the same time.
zf_stop_rsyslog
run_pids=()
trap 'kill -TERM "${run_pids[@]}" 2>/dev/null || true; zf_cleanup' EXIT
for run in $(seq "$RUNS"); do
  ( one_run "$run" ) >"$ZF_TMP/run-$run.out" 2>&1 & run_pids+=($!)
  if [ $((run % ${RELP_PARALLEL:-5})) = 0 ] || [ "$run" = "$RUNS" ]; then
    wait "${run_pids[@]}" || true
    run_pids=()
  fi
done
cat "$ZF_TMP"/run-*.out
relp_lost=0
grep -q "RELP lost events\|^FAIL" "$ZF_TMP"/run-*.out && relp_lost=1
[ "$(grep -c '^run [0-9]*: RELP missing 0' "$ZF_TMP"/run-*.out | awk -F: '{s += $2} END {print s}')" = "$RUNS" ] || relp_lost=1
[ "$relp_lost" = 0 ] || fail "RELP lost events across a receiver SIGKILL"
echo OK
