#!/usr/bin/env bash
# Syslog end to end against a real rsyslog on loopback:
#  1. one forwarder with three syslog sinks (TCP, TLS, UDP) ships the
#     emulator's events, awkward values included: rsyslog parses each as
#     RFC 5424 with our structured data; ids match exactly on TCP and TLS,
#     UDP loses nothing beyond the kernel's counted drops; no value split a
#     message (messages == events).
#  2. rsyslog stopped and restarted mid-run: nothing lost.
#  3. TLS with a wrong CA, and with a wrong host name: refused, clear error.
# usage: e2e_test.sh FORWARDER EMULATOR
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/rsyslog.sh"
FWD=$1 EMU=$2 HERE=$(dirname "$0")
zf_tmpdir
PORT_UDP=$(zf_free_port) PORT_TCP=$(zf_free_port) PORT_TLS=$(zf_free_port)
zf_make_pki
zf_start_rsyslog
zf_start_emulator "$EMU" --events 20000 --seed 51 --rate-limit 0
curl -sf "$EMU_URL/_emulator/ids" >"$ZF_TMP/ids"
fail() { echo "FAIL: $*"; for f in "$ZF_TMP"/fwd*.log; do tail -n 5 "$f"; done; exit 1; }
udp_drops() { awk '/^Udp:/ {getline; print $4}' /proc/net/snmp; }  # InErrors (receive-buffer drops included)

export ZF_PIPELINE="sink_retry_initial: 100ms, sink_retry_max: 1s"
config() {  # config DIR SINKS_YAML [EXTRA_ZENDESK]: $ZF_TMP/DIR/fwd.yaml
  mkdir -p "$ZF_TMP/$1"
  ZF_CHECKPOINT=$ZF_TMP/$1/checkpoint.json zf_forwarder_config "$ZF_TMP/$1/fwd.yaml" "$2" "${3:-  page_size: 1000}"
}


echo "== TCP, TLS and UDP at once"
config all "  - {type: syslog, name: tcp, host: 127.0.0.1, port: $PORT_TCP, transport: tcp}
  - type: syslog
    name: tls
    host: 127.0.0.1
    port: $PORT_TLS
    transport: tls
    tls: {ca_file: $ZF_TMP/pki/ca.pem}
  - {type: syslog, name: udp, host: 127.0.0.1, port: $PORT_UDP, transport: udp, max_message_bytes: 2048}"
drops0=$(udp_drops)
"$FWD" run --once --config "$ZF_TMP/all/fwd.yaml" 2>"$ZF_TMP/fwd-all.log" || fail "forwarder exited $?"
zf_settle "$ZF_TMP"/rsyslog/{tcp,tls,udp}.log  # rsyslog writes asynchronously
drops=$(( $(udp_drops) - drops0 ))
/usr/bin/python3 "$HERE/check_rsyslog.py" "$ZF_TMP/rsyslog/tcp.log" "$ZF_TMP/ids" exact || fail "TCP"
/usr/bin/python3 "$HERE/check_rsyslog.py" "$ZF_TMP/rsyslog/tls.log" "$ZF_TMP/ids" exact || fail "TLS"
/usr/bin/python3 "$HERE/check_rsyslog.py" "$ZF_TMP/rsyslog/udp.log" "$ZF_TMP/ids" udp "$drops" || fail "UDP"
echo "UDP datagrams dropped by the kernel during the run: $drops"
# Values with CR/LF/NUL/]/"/\ arrived escaped inside one message: find one.
/usr/bin/python3 - "$ZF_TMP/rsyslog/tcp.log" <<'PY' || fail "awkward values"
import json, sys
found = {"lf": False, "quote_bracket": False}
for line in open(sys.argv[1]):
    m = json.loads(line)
    url = json.loads(m["msg"])["url"]["original"]
    sd = m["sd"]
    if "\n" in url and "\r" in url and "\\\\n" in sd and "\\\\r" in sd:
        found["lf"] = True
    if '"' in url and "]" in url and "\\" in url and '\\"' in sd and "\\]" in sd and "\\\\" in sd:
        found["quote_bracket"] = True
print("awkward values arrived escaped in the SD and intact in the record:", found)
sys.exit(0 if all(found.values()) else 1)
PY

echo "== rsyslog stopped and restarted mid-run"
zf_stop_rsyslog
mv "$ZF_TMP/rsyslog/tcp.log" "$ZF_TMP/rsyslog/tcp-phase1.log"
zf_start_rsyslog
# 10 pages of 500 per second: the run lasts ~4 s, the outage 2 s of it.
config restart "  - {type: syslog, host: 127.0.0.1, port: $PORT_TCP, transport: tcp}" "  page_size: 500
  rate_limit: {requests: 2, period: 200ms}"
"$FWD" run --once --config "$ZF_TMP/restart/fwd.yaml" 2>"$ZF_TMP/fwd-restart.log" &
pid=$!; ZF_PIDS+=($pid)
sleep 1.5
zf_stop_rsyslog
echo "rsyslog stopped"
sleep 2
zf_start_rsyslog
echo "rsyslog restarted"
wait $pid || fail "forwarder exited $? across the restart"
zf_settle "$ZF_TMP/rsyslog/tcp.log"
/usr/bin/python3 "$HERE/check_rsyslog.py" "$ZF_TMP/rsyslog/tcp.log" "$ZF_TMP/ids" all || fail "loss across the restart"
grep -c '"msg":"sink could not deliver a batch' "$ZF_TMP/fwd-restart.log" | sed 's/^/batches retried during the outage: /'

echo "== TLS refuses a wrong CA and a wrong host name"
for case in "ca_file: $ZF_TMP/pki/other.pem|certificate verification failed" \
            "ca_file: $ZF_TMP/pki/ca.pem, server_name: wrong.example|certificate verification failed"; do
  tls=${case%%|*} expect=${case##*|}
  # shutdown_timeout 1s: at timeout's SIGTERM the sink still cannot deliver,
  # and the default 10 s flush would only make the test wait.
  ZF_PIPELINE="$ZF_PIPELINE, shutdown_timeout: 1s" \
    config tlsbad "  - {type: syslog, host: 127.0.0.1, port: $PORT_TLS, transport: tls, tls: {$tls}}"
  rm -f "$ZF_TMP/tlsbad/checkpoint.json"
  timeout 5 "$FWD" run --once --config "$ZF_TMP/tlsbad/fwd.yaml" 2>"$ZF_TMP/fwd-tlsbad.log" || true
  grep -q "$expect" "$ZF_TMP/fwd-tlsbad.log" || fail "no clear TLS error for {$tls}"
  [ ! -f "$ZF_TMP/tlsbad/checkpoint.json" ] || fail "checkpoint moved although TLS was refused"
  echo "refused {$tls}: $(grep -o 'certificate verification failed: [^(]*' "$ZF_TMP/fwd-tlsbad.log" | head -1)"
done
echo OK
