#!/usr/bin/env bash
# verify on every shape of config (#26 items 2 and 9): it either proves the
# period or exits non-zero saying what it could not prove; never a pass
# that checked nothing.
#   1. pull only: proves the period (exit 0); with only a syslog sink, which
#      cannot be read back, exit 1 naming it.
#   2. push only (a webhook source, no API credentials for its account):
#      exit 1 "cannot verify: no API credentials for account ...", with and
#      without --ledger, and the report says complete: false.
#   3. push + pull: events only push delivered are verified with the pull
#      source's API listing of the account: exit 0; with --ledger, the
#      webhook source's ledger (where it keeps one) counts with the pull
#      source's; three of them deleted from the file are named missing
#      (exit 1).
#   4. several accounts into one file (and a third account's webhook with
#      no credentials): each account's events proved, the other account's
#      records not counted as unknown; exit 1 naming only the third
#      account; without it, exit 0.
#   5. exactly_once Kafka (the test broker with transactions): verify reads
#      read_committed and finds what the forwarder did not ship; --repair
#      into that sink is refused (exit 2, naming the sink and what to do)
#      and writes nothing to the checkpoint topic; the repair it advises (a
#      copy of the config with exactly_once off) ships them; verify then
#      proves the period on the exactly_once config.
# usage: verify_shapes_test.sh FORWARDER EMULATOR TXN_BROKER
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/kafka.sh"
FWD=$1 EMU=$2 BROKER=$3
zf_tmpdir
fail() { echo "FAIL: $*"; tail -3 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export ZF_HOOK_SECRET=shapes-secret

# Two accounts' APIs, and a third with no history that pushes live events.
zf_start_emulator "$EMU" --events 3000 --seed 26 --span 1h --rate-limit 0
A_URL=$EMU_URL
zf_start_emulator "$EMU" --events 2000 --seed 62 --span 1h --rate-limit 0
B_URL=$EMU_URL
zf_start_emulator "$EMU" --events 0 --seed 9 --rate-limit 0
P_URL=$EMU_URL
zf_start_mock_cluster "$BROKER" --topic eo:3:1 --topic eo-checkpoints:1:1

pull_yaml() {  # NAME URL ACCOUNT [EXTRA_KEY]
  cat <<YAML
  - type: zendesk_pull
    name: $1
    base_url: $2
    account: $3
    auth: {type: api_token, email: agent@example.com, token: emulator-token}
    start: ${START:-1d}
    settle_delay: 0s
    late_read_delay: 0s
    page_size: 1000
    rate_limit: {requests: 1000, period: 1s}
    checkpoint: {path: $ZF_TMP/$1.json}
${4:+    $4}
YAML
}
webhook_yaml() {  # NAME ACCOUNT PORT
  cat <<YAML
  - type: zendesk_webhook
    name: $1
    account: $2
    listen: 127.0.0.1:$3
    signing_secret: \${ZF_HOOK_SECRET}
    checkpoint: {path: $ZF_TMP/$1.ids}
YAML
}
jsonl() { echo "  - {type: jsonl, path: $ZF_TMP/$1, fsync: false}"; }
# verify_run NAME CONFIG [ARGS...]: exit code in $code, report $ZF_TMP/NAME.json, stdout NAME.out
verify_run() {
  set +e
  "$FWD" verify --config "$ZF_TMP/$2.yaml" --since 1d --until 1s --budget-share 1 --report "$ZF_TMP/$1.json" "${@:3}" \
    >"$ZF_TMP/$1.out" 2>"$ZF_TMP/$1.log"
  code=$?
  set -e
  sed "s/^/  $1: /" "$ZF_TMP/$1.out"
}
report() {  # report NAME PYTHON_EXPR: the expression over r (the report) must hold
  /usr/bin/python3 -c "import json, sys; r = json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$ZF_TMP/$1.json"
}

echo "== 1. pull only"
{ echo "sources:"; pull_yaml a "$A_URL" alpha; echo "sinks:"; jsonl a.jsonl; } >"$ZF_TMP/pull.yaml"
"$FWD" run --once --config "$ZF_TMP/pull.yaml" 2>"$ZF_TMP/run-pull.log" || fail "run exited $?"
verify_run pull pull
[ "$code" = 0 ] || fail "verify of a complete pull-only period exited $code"
report pull 'r["complete"] and r["sources"][0]["api_events"] == 3000 and not r["sources"][0]["sinks"][0]["missing"]' ||
  fail "pull only: the report does not prove 3000 events"
{ echo "sources:"; pull_yaml a "$A_URL" alpha; echo "sinks:"; echo "  - {type: syslog, host: 127.0.0.1, port: 9, transport: udp}"; } \
  >"$ZF_TMP/syslog-only.yaml"
verify_run syslog-only syslog-only
[ "$code" = 1 ] || fail "verify with only a syslog sink (nothing read) exited $code"
grep -q "a -> syslog: not verified (a syslog sink cannot be read back" "$ZF_TMP/syslog-only.out" || fail "syslog not named"

echo "== 2. push only"
{ echo "sources:"; webhook_yaml push 127.0.0.1 "$(free_port)"; echo "sinks:"; jsonl push-only.jsonl; } >"$ZF_TMP/push.yaml"
for ledger in "" --ledger; do
  verify_run "push$ledger" push $ledger
  [ "$code" = 1 ] || fail "verify ${ledger} of a push-only config exited $code: a pass that checked nothing"
  grep -q "push (zendesk_webhook): not verified, cannot verify: no API credentials for account 127.0.0.1" \
    "$ZF_TMP/push$ledger.out" || fail "verify $ledger does not say why push-only cannot be verified"
  report "push$ledger" 'not r["complete"] and r["unverified"][0]["source"] == "push"' || fail "push-only report"
done

echo "== 3. push + pull"
HOOK_PORT=$(free_port)
{ echo "sources:"; webhook_yaml push 127.0.0.1 "$HOOK_PORT"; echo "sinks:"; jsonl pushed.jsonl; } >"$ZF_TMP/push-run.yaml"
{ echo "sources:"; webhook_yaml push 127.0.0.1 "$HOOK_PORT"; pull_yaml pull "$P_URL" 127.0.0.1 "dedup_with: push"
  echo "sinks:"; jsonl pushed.jsonl; } >"$ZF_TMP/push-pull.yaml"
# Only push ships: every record of the file came through the webhook.
"$FWD" run --config "$ZF_TMP/push-run.yaml" 2>"$ZF_TMP/run-push.log" &
FWD_PID=$!
ZF_PIDS+=($FWD_PID)
for _ in $(seq 100); do grep -q "webhook listening" "$ZF_TMP/run-push.log" && break; sleep 0.1; done
curl -sf -XPOST "$P_URL/_emulator/config" -d "{\"push\": {\"url\": \"http://127.0.0.1:$HOOK_PORT/zendesk/access-logs\",
  \"secret\": \"$ZF_HOOK_SECRET\"}, \"live_rate\": 300}" >/dev/null || fail "emulator push config"
sleep 3
curl -sf -XPOST "$P_URL/_emulator/config" -d '{"live_rate": 0}' >/dev/null
total=$(curl -sf "$P_URL/_emulator/ids" | wc -l)
for _ in $(seq 100); do [ "$(zf_lines "$ZF_TMP/pushed.jsonl")" -ge "$total" ] && break; sleep 0.1; done
kill -TERM $FWD_PID; wait $FWD_PID || fail "the push-only forwarder exited $?"
[ "$total" -gt 100 ] && [ "$(zf_lines "$ZF_TMP/pushed.jsonl")" = "$total" ] || fail "push shipped $(zf_lines "$ZF_TMP/pushed.jsonl") of $total"
sleep 3  # the period ends 1 s ago (in whole seconds): past the last push
verify_run push-pull push-pull
[ "$code" = 0 ] || fail "verify of the pushed events with the pull source's listing exited $code"
report push-pull "r['complete'] and r['push_sources'][0]['verified_with'] == 'pull' and r['sources'][0]['api_events'] == $total" ||
  fail "push + pull: the report does not prove the $total pushed events"
# --ledger: the webhook source keeps a ledger of what every sink
# acknowledged (the pipeline feeds it at commit, #28), beside its
# checkpoint. It must hold exactly the pushed events, minute by minute (the
# same FNV-1a digest, computed here from the jsonl), and with it the pull
# source's ledger and the push source's together agree with the listing:
# the sink need not be read. Without it those minutes differ and the sink
# is read. The ledger counts whole minutes: the period ends at the next
# one, after the last push (no event comes later).
/usr/bin/python3 - "$ZF_TMP/pushed.jsonl" "$ZF_TMP/push.ids.ledger" <<'PY' || fail "the webhook source's ledger is not what it delivered"
import datetime, json, struct, sys
want = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    t = datetime.datetime.strptime(r["@timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    s = int(t.timestamp())
    h = 1469598103934665603  # the ledger's FNV-1a (src/proof/delivery_ledger.cpp)
    for c in r["event"]["id"].encode():
        h = ((h ^ c) * 1099511628211) % 2**64
    n, d = want.get(s - s % 60, (0, 0))
    want[s - s % 60] = (n + 1, (d + h) % 2**64)
got = {}
data = open(sys.argv[2], "rb").read()
for i in range(0, len(data) - len(data) % 24, 24):
    start, n, d = struct.unpack("<qQQ", data[i:i + 24])
    gn, gd = got.get(start, (0, 0))
    got[start] = (gn + n, (gd + d) % 2**64)
print(f"  push ledger: {len(got)} minutes, {sum(n for n, _ in got.values())} events")
sys.exit(0 if got == want and want else 1)
PY
MINUTE=$(date -u -d '+1 minute' +%Y-%m-%dT%H:%M:00Z)
verify_run push-pull-ledger push-pull --ledger --until "$MINUTE"
[ "$code" = 0 ] || fail "verify --ledger with the webhook's ledger exited $code"
report push-pull-ledger "r['sources'][0]['api_events'] == $total and r['sources'][0]['ledger']['minutes_differing'] == 0 and
  'verified_by' in r['sources'][0]['sinks'][0]" ||
  fail "verify --ledger did not add the webhook source's ledger to the pull source's"
mv "$ZF_TMP/push.ids.ledger" "$ZF_TMP/push.ids.ledger.kept"
verify_run push-pull-ledger2 push-pull --ledger --until "$MINUTE"
[ "$code" = 0 ] || fail "verify --ledger without the webhook's ledger exited $code"
report push-pull-ledger2 "r['sources'][0]['api_events'] == $total and r['sources'][0]['ledger']['minutes_differing'] > 0 and
  r['sources'][0]['sinks'][0]['delivered'] == $total" ||
  fail "verify --ledger did not read the sink for the minutes only push delivered"
mv "$ZF_TMP/push.ids.ledger.kept" "$ZF_TMP/push.ids.ledger"
head -n -3 "$ZF_TMP/pushed.jsonl" >"$ZF_TMP/cut" && tail -3 "$ZF_TMP/pushed.jsonl" >"$ZF_TMP/gone"
mv "$ZF_TMP/cut" "$ZF_TMP/pushed.jsonl"
verify_run push-pull-cut push-pull
[ "$code" = 1 ] || fail "verify with 3 pushed events deleted exited $code"
/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
gone = sorted(json.loads(l)["event"]["id"] for l in open(sys.argv[2]))
sys.exit(0 if sorted(r["sources"][0]["sinks"][0]["missing"]) == gone else 1)' "$ZF_TMP/push-pull-cut.json" "$ZF_TMP/gone" ||
  fail "the 3 deleted pushed events are not the ones named missing"

echo "== 4. several accounts"
# Sources of their own (checkpoints): the first shape's source a shipped to another file.
{ echo "sources:"; pull_yaml alpha "$A_URL" alpha; pull_yaml beta "$B_URL" beta; echo "sinks:"; jsonl both.jsonl; } >"$ZF_TMP/two.yaml"
"$FWD" run --once --config "$ZF_TMP/two.yaml" 2>"$ZF_TMP/run-two.log" || fail "run of two accounts exited $?"
{ echo "sources:"; pull_yaml alpha "$A_URL" alpha; pull_yaml beta "$B_URL" beta; webhook_yaml gamma-push gamma "$(free_port)"
  echo "sinks:"; jsonl both.jsonl; } >"$ZF_TMP/three.yaml"
verify_run three three
[ "$code" = 1 ] || fail "verify with a webhook account without credentials exited $code"
report three 'not r["complete"] and [u["account"] for u in r["unverified"]] == ["gamma"] and
  [(s["source"], s["api_events"], len(s["sinks"][0]["missing"]), len(s["sinks"][0]["unknown"]), s["sinks"][0]["other_account_records"])
   for s in r["sources"]] == [("alpha", 3000, 0, 0, 2000), ("beta", 2000, 0, 0, 3000)]' ||
  fail "several accounts: each account proved, the other's records not unknown, only gamma unverified"
verify_run two two
[ "$code" = 0 ] || fail "verify of two complete accounts exited $code"

echo "== 5. exactly_once"
eo_sink="  - {type: kafka, name: events, brokers: \"$BOOT\", topic: eo, exactly_once: true, checkpoint_topic: eo-checkpoints, transactional_id: zf-eo}"
# The forwarder starts 30 minutes back: the hour's first half is not shipped.
{ echo "sources:"; START=30m pull_yaml eo "$A_URL" alpha; echo "sinks:"; echo "$eo_sink"; } >"$ZF_TMP/eo.yaml"
"$FWD" run --once --config "$ZF_TMP/eo.yaml" 2>"$ZF_TMP/run-eo.log" || fail "exactly_once run exited $?"
verify_run eo eo
[ "$code" = 1 ] || fail "verify of a half-shipped exactly_once topic exited $code"
missing=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["sources"][0]["sinks"][0]["missing"]))' "$ZF_TMP/eo.json")
shipped=$(kcat -C -b "$BOOT" -t eo -e -q -X isolation.level=read_committed -f '%k\n' 2>/dev/null | wc -l)
[ "$missing" -gt 0 ] && [ "$shipped" -gt 0 ] && [ $((missing + shipped)) = 3000 ] || fail "exactly_once: $missing missing + $shipped shipped is not 3000"
positions() { kcat -C -b "$BOOT" -t eo-checkpoints -e -q -X isolation.level=read_uncommitted -f '%k\n' 2>/dev/null | wc -l; }
before=$(positions)
verify_run eo-repair eo --repair
[ "$code" = 2 ] || fail "verify --repair into an exactly_once sink exited $code (expected 2: refused)"
grep -q 'verify --repair cannot ship into sink \\"events\\": it is exactly_once' "$ZF_TMP/eo-repair.log" ||
  fail "the refusal does not name the sink"
grep -q "exactly_once off" "$ZF_TMP/eo-repair.log" || fail "the refusal does not say what to do"
[ "$(positions)" = "$before" ] || fail "the refused repair wrote to the checkpoint topic"
[ "$(kcat -C -b "$BOOT" -t eo -e -q -f '%k\n' 2>/dev/null | wc -l)" = "$shipped" ] || fail "the refused repair wrote records"
# The repair the message advises: the same topic through a plain sink.
sed 's/, exactly_once: true, checkpoint_topic: eo-checkpoints, transactional_id: zf-eo//' "$ZF_TMP/eo.yaml" >"$ZF_TMP/eo-plain.yaml"
grep -q exactly_once "$ZF_TMP/eo-plain.yaml" && fail "eo-plain.yaml still has exactly_once"
verify_run eo-plain-repair eo-plain --repair
[ "$code" = 0 ] || fail "the repair through a plain sink exited $code"
verify_run eo-after eo
[ "$code" = 0 ] || fail "verify of the repaired exactly_once topic exited $code"
report eo-after 'r["complete"] and not r["sources"][0]["sinks"][0]["missing"] and not r["sources"][0]["sinks"][0]["duplicated"]' ||
  fail "exactly_once after the repair: not complete"
[ "$(positions)" = "$before" ] || fail "the plain repair wrote to the checkpoint topic"
echo "PASS"
