#!/usr/bin/env bash
# verify beside a live forwarder whose jsonl file rotates while verify reads
# it (#27 item 3). The forwarder backfills HISTORY events, then ships a live
# account's events (LIVE_RATE a second) to a file rotated every
# ROTATE_BYTES, keeping every rotation (nothing is deleted, so the file and
# its rotations hold every event). RUNS verifies of a period that ends in
# the past (every event of it is in the files) must each report 0 missing,
# 0 duplicated, 0 unknown and exit 0, while the files keep being renamed
# under them; they run with --repair, and the files hold no id twice at the
# end. A reader that takes the list of files once reads one file twice and
# skips another when a rotation falls in between, and its repair ships the
# "missing" events again.
# usage: verify_rotation_test.sh FORWARDER EMULATOR [RUNS] [LIVE_RATE] [ROTATE_BYTES]
#   CTest: 12 runs, 1,000 events/s, 64 KiB (several rotations a second);
#   the issue's check: 40 runs, 300 events/s, 512 KiB (a rotation every 2-3 s)
#   with PAUSE=1 MIN_ROTATIONS=1; a harsher one: 40 runs at the CTest rates.
source "$(dirname "$0")/lib.sh"
FWD=$1 EMU=$2 RUNS=${3:-12} LIVE_RATE=${4:-1000} ROTATE_BYTES=${5:-65536}
# HISTORY: events before the start; MIN_ROTATIONS: rotations the verifies
# must overlap for the run to count (default RUNS); PAUSE: seconds between
# verifies (spreads them over the rotation cycle).
HISTORY=${HISTORY:-30000} MIN_ROTATIONS=${MIN_ROTATIONS:-$RUNS} PAUSE=${PAUSE:-0}
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }

zf_start_emulator "$EMU" --events "$HISTORY" --seed 27 --span 2h --rate-limit 0 --live-rate "$LIVE_RATE"
SINCE=$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:%SZ)
ZF_START=$SINCE zf_forwarder_config "$ZF_TMP/run.yaml" \
  "  - {type: jsonl, path: $ZF_TMP/out.jsonl, fsync: false, rotate_bytes: $ROTATE_BYTES, rotate_keep: 1000}" \
  "  page_size: 100
  rate_limit: {requests: 100000, period: 60s}
  poll_interval: 1s
  late_read_delay: 15s"
"$FWD" run --config "$ZF_TMP/run.yaml" 2>"$ZF_TMP/forwarder.log" &
FWD_PID=$!
ZF_PIDS+=($FWD_PID)
records() { cat "$ZF_TMP"/out.jsonl* 2>/dev/null | wc -l; }
for _ in $(seq 120); do [ "$(records)" -ge "$HISTORY" ] && break; sleep 0.5; done
[ "$(records)" -ge "$HISTORY" ] || fail "the forwarder did not backfill $HISTORY events"

files() { ls "$ZF_TMP" | grep -c '^out\.jsonl'; }
false_reports=0 rotations=0
for i in $(seq "$RUNS"); do
  # Every event before UNTIL has been shipped (poll 1 s, late read 15 s
  # after its window): the period is complete in the files.
  UNTIL=$(date -u -d '-30 seconds' +%Y-%m-%dT%H:%M:%SZ)
  before=$(files)
  set +e
  "$FWD" verify --config "$ZF_TMP/run.yaml" --since "$SINCE" --until "$UNTIL" --budget-share 1 --repair \
    --report "$ZF_TMP/report.json" >"$ZF_TMP/verify.out" 2>"$ZF_TMP/verify.log"
  code=$?
  set -e
  after=$(files)
  rotations=$((rotations + after - before))
  line=$(/usr/bin/python3 - "$ZF_TMP/report.json" "$code" <<'PY'
import json, sys
r, code = json.load(open(sys.argv[1])), int(sys.argv[2])
s = r["sources"][0]
k = s["sinks"][0]
bad = code != 0 or not r["complete"] or k.get("missing") or k.get("duplicated") or k.get("unknown")
print(("FALSE " if bad else "ok ") + f"exit {code}: {s['api_events']} at the API, {len(k.get('missing', []))} missing, "
      f"{len(k.get('duplicated', {}))} duplicated, {len(k.get('unknown', []))} unknown" + (f" ({k['error']})" if "error" in k else ""))
PY
  ) || fail "no report from verify run $i (exit $code): $(tail -2 "$ZF_TMP/verify.log")"
  echo "verify $i: $line; $((after - before)) rotations while it ran, $after files"
  [ "${line%% *}" = ok ] || false_reports=$((false_reports + 1))
  sleep "$PAUSE"
done
kill -0 $FWD_PID 2>/dev/null || fail "the forwarder died"
kill -TERM $FWD_PID; wait $FWD_PID || fail "the forwarder exited $? on SIGTERM"
# A false "missing" would have been repaired: shipped a second time.
copies=$(cat "$ZF_TMP"/out.jsonl* | /usr/bin/python3 -c '
import collections, json, sys
c = collections.Counter(json.loads(l)["event"]["id"] for l in sys.stdin)
print(sum(n - 1 for n in c.values()))')
echo "$RUNS verifies with --repair, $rotations rotations during them, $false_reports false reports;" \
  "ids held twice in the files afterwards: $copies"
[ "$rotations" -ge "$MIN_ROTATIONS" ] || fail "too few rotations during the verifies ($rotations): this run proves nothing"
[ "$false_reports" = 0 ] || fail "$false_reports of $RUNS verifies reported events missing or duplicated that the files hold once"
[ "$copies" = 0 ] || fail "the repairs shipped $copies events the files already held"
echo "PASS"
