#!/usr/bin/env bash
# RELP against a receiver that refuses messages (issue 27, item 4), with
# tests/syslog/relp_receiver.py (rsyslog cannot refuse at random):
#  1. 2% of messages refused at random for RUN_S s while about EVENTS
#     events arrive (a backlog, then live): every event arrives, none more
#     than 3 times (only the refused messages are sent again, not their
#     batches).
#  2. One message always refused, no dead-letter file: the forwarder stops
#     with an error naming the event after relp_max_refusals refusals, and
#     the checkpoint does not pass it.
#  3. The same with relp_dead_letter_file: the message is written there once,
#     every other event arrives, the run ends normally.
# usage: relp_refusals_test.sh FORWARDER EMULATOR [EVENTS [RUN_S]]
#   (CTest runs 5,000 events over 15 s; issue 27 asks for 20,000 over 90 s.)
source "$(dirname "$0")/../integration/lib.sh"
FWD=$1 EMU=$2 EVENTS=${3:-5000} RUN_S=${4:-15} HERE=$(dirname "$0")
zf_tmpdir
fail() { echo "FAIL: $*"; for f in "$ZF_TMP"/fwd*.log; do [ -f "$f" ] && tail -n 5 "$f"; done; exit 1; }
export ZF_PIPELINE="sink_retry_initial: 100ms, sink_retry_max: 1s"

# receiver NAME ARGS...: a RELP receiver writing $ZF_TMP/NAME.out; sets PORT.
receiver() {
  local name=$1; shift
  rm -f "$ZF_TMP/$name.port"
  /usr/bin/python3 "$HERE/relp_receiver.py" "$ZF_TMP/$name.port" "$ZF_TMP/$name.out" "$@" \
    2>"$ZF_TMP/$name.receiver.log" &
  ZF_PIDS+=($!)
  zf_wait_file "$ZF_TMP/$name.port" 10
  PORT=$(cat "$ZF_TMP/$name.port")
}
# config NAME SINK_YAML [EXTRA_ZENDESK]: $ZF_TMP/NAME.yaml with its own checkpoint.
config() { ZF_CHECKPOINT=$ZF_TMP/$1.checkpoint.json zf_forwarder_config "$ZF_TMP/$1.yaml" "$2" "${3:-}"; }
# check OUT IDS MAX_COPIES [EXCEPT_ID]: every id (but EXCEPT_ID) in OUT, at most MAX_COPIES times.
check() {
  /usr/bin/python3 - "$@" <<'PY'
import collections, re, sys
out, ids_path, max_copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
skip = sys.argv[4] if len(sys.argv) > 4 else None
expected = {l.strip() for l in open(ids_path) if l.strip()} - {skip}
seen = collections.Counter(re.search(r'\[zendesk@32473 id="([^"]+)"', l).group(1) for l in open(out))
missing, extra = expected - set(seen), set(seen) - expected
worst = max(seen.values(), default=0)
copies = collections.Counter(seen.values())
print(f"{out}: {sum(seen.values())} messages, {len(seen)} ids of {len(expected)}, missing {len(missing)}, "
      f"unexpected {len(extra)}, most copies of one message {worst}, ids by copies {dict(sorted(copies.items()))}")
sys.exit(0 if not missing and not extra and worst <= max_copies else 1)
PY
}

echo "== 2% of messages refused at random for $RUN_S s, about $EVENTS events"
# A backlog of a quarter of the events, the rest arriving live during RUN_S.
backlog=$((EVENTS / 4))
zf_start_emulator "$EMU" --events "$backlog" --span 10m --end-gap 0s --seed 61 --rate-limit 0 \
  --live-rate $(((EVENTS - backlog) / RUN_S))
receiver random --refuse-rate 0.02 --seed 7
config random "  - {type: syslog, host: 127.0.0.1, port: $PORT, transport: relp}" "  poll_interval: 1s
  page_size: 1000"
"$FWD" run --config "$ZF_TMP/random.yaml" 2>"$ZF_TMP/fwd-random.log" &
fwd=$!; ZF_PIDS+=($fwd)
sleep "$RUN_S"
curl -sf -X POST -d '{"live_rate": 0}' "$EMU_URL/_emulator/config" >/dev/null
curl -sf "$EMU_URL/_emulator/ids" >"$ZF_TMP/ids"
# Everything served must arrive within 30 s of the end (a poll and its retries).
deadline=$((SECONDS + 30))
until check "$ZF_TMP/random.out" "$ZF_TMP/ids" 1000000 >/dev/null; do
  [ $SECONDS -lt $deadline ] || break
  sleep 1
done
kill -TERM "$fwd"; wait "$fwd" || fail "forwarder exited $? after SIGTERM"
echo "refusals: $(wc -l <"$ZF_TMP/random.out.refused"); batches retried:" \
     "$(grep -c '"msg":"sink could not deliver a batch' "$ZF_TMP/fwd-random.log" || true)"
check "$ZF_TMP/random.out" "$ZF_TMP/ids" 3 || fail "not every event delivered, or more than 3 copies"

echo "== one message always refused, no dead-letter file: the forwarder stops"
kill "${ZF_PIDS[-2]}"  # the first emulator
zf_start_emulator "$EMU" --events 5000 --seed 62 --rate-limit 0
curl -sf "$EMU_URL/_emulator/ids" >"$ZF_TMP/ids"
poison=$(sed -n 2345p "$ZF_TMP/ids")
receiver stop --poison "$poison"
config stop "  - {type: syslog, host: 127.0.0.1, port: $PORT, transport: relp, relp_max_refusals: 3}"
start=$SECONDS
rc=0; timeout 60 "$FWD" run --once --config "$ZF_TMP/stop.yaml" 2>"$ZF_TMP/fwd-stop.log" || rc=$?
echo "exit $rc after $((SECONDS - start)) s; refusals of $poison: $(grep -c "$poison" "$ZF_TMP/stop.out.refused")"
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "expected the forwarder to stop with an error, exit $rc"
[ "$(grep -c "$poison" "$ZF_TMP/stop.out.refused")" = 3 ] || fail "expected exactly 3 refusals"
grep -q "refused event $poison 3 times" "$ZF_TMP/fwd-stop.log" || fail "the error does not name the event"
grep -o "refused event $poison[^\"]*" "$ZF_TMP/fwd-stop.log" | head -1
delivered=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events_delivered"])' \
  "$ZF_TMP/stop.checkpoint.json" 2>/dev/null || echo 0)
echo "checkpoint: $delivered events delivered"
[ "$delivered" -lt 2345 ] || fail "the checkpoint moved past the refused event"

echo "== the same with relp_dead_letter_file: set aside once, everything else delivered"
receiver dead --poison "$poison"
config dead "  - {type: syslog, host: 127.0.0.1, port: $PORT, transport: relp, relp_max_refusals: 3,
     relp_dead_letter_file: $ZF_TMP/dead-letters.log}"
timeout 60 "$FWD" run --once --config "$ZF_TMP/dead.yaml" 2>"$ZF_TMP/fwd-dead.log" || fail "forwarder exited $?"
check "$ZF_TMP/dead.out" "$ZF_TMP/ids" 3 "$poison" || fail "events missing or repeated"
grep -q "id=\"$poison\"" "$ZF_TMP/dead.out" && fail "the refused message reached the receiver"
[ "$(wc -l <"$ZF_TMP/dead-letters.log")" = 1 ] && grep -q "id=\"$poison\"" "$ZF_TMP/dead-letters.log" ||
  fail "the dead-letter file does not hold the refused message exactly once"
grep -q '"msg":"RELP receiver refused a message too often; written to the dead-letter file' "$ZF_TMP/fwd-dead.log" ||
  fail "no error logged for the dead letter"
echo "dead-letter file: $(wc -l <"$ZF_TMP/dead-letters.log") message, id $poison"
echo OK
