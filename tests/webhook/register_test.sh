#!/usr/bin/env bash
# `webhook register` / `webhook status` (#16) against the emulator's
# Webhooks API: register creates one webhook subscribed to
# access_log.created and writes its signing secret to a mode-600 file
# (never to the terminal or the log); registering again with another URL
# updates the same webhook; status shows it; an http:// URL is refused.
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
echo "PASS"
