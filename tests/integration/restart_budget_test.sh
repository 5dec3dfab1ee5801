#!/usr/bin/env bash
# A restart does not spend the account's budget twice (#26 item 14): during a
# budget-bound backfill (20 requests per 2 s, enforced by the emulator as
# Zendesk does; Zendesk's period is longer, the property is the same) the forwarder is SIGKILLed at a random moment and started
# again at once, KILLS times. The API counted the dead process's requests,
# so a restarted process that started with a full budget got 429s; it must
# spend only what the dead one left: 0 requests answered 429.
# usage: restart_budget_test.sh FORWARDER EMULATOR [KILLS]
source "$(dirname "$0")/lib.sh"
FWD=$1 EMU=$2 KILLS=${3:-4}
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }

zf_start_emulator "$EMU" --events 200000 --span 6h --rate-limit 20 --rate-window 2s --seed 14
zf_forwarder_config "$ZF_TMP/f.yaml" "  - {type: jsonl, path: $ZF_TMP/out.jsonl, fsync: false}" \
  "  page_size: 100
  rate_limit: {requests: 20, period: 2s}"
for i in $(seq "$KILLS"); do
  "$FWD" run --config "$ZF_TMP/f.yaml" 2>>"$ZF_TMP/forwarder.log" &
  pid=$!
  ZF_PIDS+=($pid)
  # 0.8-2.8 s: inside the first period, or after the first burst while pacing.
  sleep "$(/usr/bin/python3 -c 'import random; print(round(random.uniform(0.8, 2.8), 2))')"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
done
"$FWD" run --config "$ZF_TMP/f.yaml" 2>>"$ZF_TMP/forwarder.log" &
pid=$!
ZF_PIDS+=($pid)
sleep 3
kill -TERM "$pid"; wait "$pid" || fail "the last run exited $? on SIGTERM"
curl -sf "$EMU_URL/_emulator/stats" | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
print("emulator: %d requests over %s SIGKILLs and restarts, %d answered 429" % (s["requests"], sys.argv[1], s["rate_limited"]))
sys.exit(0 if s["rate_limited"] == 0 and s["requests"] > 40 else 1)' "$KILLS" || fail "a restart spent the budget again"
echo "PASS"
