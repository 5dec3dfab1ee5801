#!/usr/bin/env bash
# `webhook register` / `webhook status` (#16) against the emulator's
# Webhooks API: register creates one webhook subscribed to
# access_log.created and writes its signing secret to a mode-600 file
# (never to the terminal or the log); registering again with another URL
# updates the same webhook; status shows it; an http:// URL is refused; an
# account that refuses the access_log.created subscription gets one clear
# message and exit 1, and pull still ships every event (#26 item 11).
# usage: register_test.sh FORWARDER EMULATOR
source "$(dirname "$0")/../integration/lib.sh"
FWD=$(realpath "$1") EMU=$(realpath "$2")
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log "$ZF_TMP"/*.out 2>/dev/null; exit 1; }
zf_start_emulator "$EMU" --events 10
zf_forwarder_config "$ZF_TMP/f.yaml" "  - {type: jsonl, path: \"-\"}"
cd "$ZF_TMP"
"$FWD" webhook status --config f.yaml >status0.out 2>status0.log && fail "status found a webhook before any was registered"
grep -q 'no webhook named' status0.out || fail "status does not say there is none"
"$FWD" webhook register --config f.yaml --url https://hook-1.example.com/zendesk/access-logs >reg1.out 2>reg1.log ||
  fail "register exited $?"
"$FWD" webhook register --config f.yaml --url https://hook-2.example.com/zendesk/access-logs --secret-file s2 >reg2.out 2>reg2.log ||
  fail "register (update) exited $?"
"$FWD" webhook status --config f.yaml >status.out 2>status.log || fail "status exited $?"
cat reg1.out status.out
/usr/bin/python3 - "$EMU_URL" <<'PY' || fail "the webhooks in Zendesk are wrong"
import base64, json, os, stat, sys, urllib.request
emu = sys.argv[1]
auth = "Basic " + base64.b64encode(b"agent@example.com/token:emulator-token").decode()
get = lambda p: json.load(urllib.request.urlopen(urllib.request.Request(emu + p, headers={"Authorization": auth})))
hooks = get("/api/v2/webhooks")["webhooks"]
assert len(hooks) == 1, hooks
h = hooks[0]
secret = get(f"/api/v2/webhooks/{h['id']}/signing_secret")["signing_secret"]["secret"]
checks = [
    (h["endpoint"] == "https://hook-2.example.com/zendesk/access-logs", "one webhook, updated to the second URL"),
    (h["subscriptions"] == ["zen:event-type:access_log.created"] and h["status"] == "active", "subscribed to access_log.created, active"),
    (open("zendesk-webhook-signing-secret").read() == secret and open("s2").read() == secret, "the secret files hold the signing secret"),
    (stat.S_IMODE(os.stat("s2").st_mode) == 0o600, "the secret file is mode 600"),
    (all(secret not in open(f).read() for f in ("reg1.out", "reg1.log", "reg2.out", "reg2.log", "status.out", "status.log")),
     "the secret is in no output or log"),
    (h["id"] in open("status.out").read() and "hook-2.example.com" in open("status.out").read(), "status shows the webhook"),
]
for ok, what in checks: print(("ok   " if ok else "FAIL ") + what)
sys.exit(0 if all(ok for ok, _ in checks) else 1)
PY
"$FWD" webhook register --config f.yaml --url http://hook.example.com/x >plain.out 2>plain.log && fail "an http:// URL was accepted"
grep -q "https" plain.log || fail "the refusal of http:// does not say why"

# #26 item 11: an account that does not offer access_log.created (Zendesk's
# public event-type reference does not list it). Register says so in one
# message and exits 1, changes nothing, and pull keeps working.
emu_config() { curl -fsS -X POST -H 'Content-Type: application/json' -d "$1" "$EMU_URL/_emulator/config" >/dev/null; }
refusal_ok() {  # LOG: one error line, naming the subscription, the account and pull
  /usr/bin/python3 - "$1" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
errors = [l for l in lines if l.get("level") == "error"]
assert len(errors) == 1, f"{len(errors)} error lines: {lines}"
msg = json.dumps(errors[0])
for want in ("refused the subscription to zen:event-type:access_log.created", "does not offer access-log webhooks",
             "pull source", "keeps working", "not a valid event type"):
    assert want in msg, f"no {want!r} in {msg}"
print("ok   " + sys.argv[1] + ": " + errors[0].get("msg", errors[0].get("message", "")))
PY
}
for status in 400 422; do
  emu_config "{\"refuse_subscription\": $status}"
  rm -f refused-secret
  # An existing webhook re-pointed (PATCH), then a new one (POST).
  set +e
  "$FWD" webhook register --config f.yaml --url https://hook-3.example.com/x --secret-file refused-secret >upd$status.out 2>upd$status.log
  rc_update=$?
  "$FWD" webhook register --config f.yaml --name "another $status" --url https://hook-4.example.com/x \
    --secret-file refused-secret >new$status.out 2>new$status.log
  rc_create=$?
  set -e
  [ $rc_update -eq 1 ] || fail "register (update) on a refused subscription ($status) exited $rc_update, not 1"
  [ $rc_create -eq 1 ] || fail "register (create) on a refused subscription ($status) exited $rc_create, not 1"
  refusal_ok upd$status.log || fail "the refused update ($status) does not say so plainly"
  refusal_ok new$status.log || fail "the refused create ($status) does not say so plainly"
  [ ! -e refused-secret ] || fail "a secret file was written for a refused subscription"
done
/usr/bin/python3 - "$EMU_URL" <<'PY' || fail "a refused register changed the account's webhooks"
import base64, json, sys, urllib.request
auth = "Basic " + base64.b64encode(b"agent@example.com/token:emulator-token").decode()
hooks = json.load(urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/api/v2/webhooks", headers={"Authorization": auth})))["webhooks"]
assert len(hooks) == 1 and hooks[0]["endpoint"] == "https://hook-2.example.com/zendesk/access-logs", hooks
print("ok   the refused registers left the one webhook as it was")
PY
# Pull, on the same account and config, ships every event.
"$FWD" run --once --config f.yaml >pulled.jsonl 2>pull.log || fail "pull exited $? on an account that refuses the subscription"
/usr/bin/python3 - "$EMU_URL" <<'PY' || fail "pull did not ship every event"
import json, sys, urllib.request
want = set(urllib.request.urlopen(sys.argv[1] + "/_emulator/ids").read().decode().split())
got = [json.loads(l)["event"]["id"] for l in open("pulled.jsonl") if l.strip()]
assert len(want) == 10 and sorted(got) == sorted(want), (len(want), len(got))
print(f"ok   pull shipped all {len(got)} events")
PY
echo "PASS"
