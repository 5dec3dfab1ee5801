#!/usr/bin/env bash
# export (#15) against Zendesk's own script, on the same emulator data (40
# agents, 30 days): the script with its one-line cursor fix and
# `zendesk-forwarder export` write the same rows in the script's four
# columns (Agent ID, Agent name, Ticket/User accessed, Time accessed), as
# multisets, for tickets and for users. The one difference is the script's:
# it counts a user *search* whose URL holds two digits (a query with a
# space is %20) as a visit to user "20"; those rows are derived from our own
# searches export and must be exactly the surplus. The script as published
# is also run, to show what it misses. Every request is counted by the
# emulator.
# usage: parity_test.sh FORWARDER EMULATOR
source "$(dirname "$0")/../integration/lib.sh"
FWD=$1 EMU=$2
SCRIPT=$(cd "$(dirname "$0")" && pwd)/zendesk_access_log_export.py
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }
# The real limit (50 a minute) scaled to 50 every 2 s; Retry-After on 429s,
# which the script honours.
zf_start_emulator "$EMU" --events 20000 --seed 15 --span 29d --agents 40 --end-users 500 --no-awkward \
  --rate-limit 50 --rate-window 2s --reset-format retry-after
zf_forwarder_config "$ZF_TMP/export.yaml" "  - {type: jsonl, path: $ZF_TMP/unused.jsonl}" \
  "  rate_limit: {requests: 50, period: 2s}"
stats() { curl -sf "$EMU_URL/_emulator/stats" | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["requests"] + s["users_requests"])'; }

run_script() {  # run_script DIR RESOURCE [CURSOR_FIX]: the script's CSV in DIR
  mkdir -p "$1"
  (cd "$1" && printf '%s\n30\n' "$2" | ZENDESK_BASE_URL=$EMU_URL ZENDESK_USERNAME=agent@example.com \
     ZENDESK_PASSWORD=emulator-password CURSOR_FIX=${3:-0} /usr/bin/python3 "$SCRIPT" >script.log 2>&1) ||
    fail "the script failed: $(tail -3 "$1/script.log")"
  ls "$1"/agent_"$2"_access_logs_*.csv >/dev/null 2>&1 || fail "the script wrote no CSV: $(tail -3 "$1/script.log")"
}

for resource in tickets users; do
  before=$(stats)
  run_script "$ZF_TMP/script-$resource" $resource 1
  script_requests=$(( $(stats) - before ))
  before=$(stats)
  "$FWD" export --config "$ZF_TMP/export.yaml" --days 30 --resource $resource --output "$ZF_TMP/ours-$resource.csv" \
    2>"$ZF_TMP/export-$resource.log" || fail "export --resource $resource exited $?"
  ours_requests=$(( $(stats) - before ))
  echo "$resource: requests: script (fixed) $script_requests, export $ours_requests"
done
"$FWD" export --config "$ZF_TMP/export.yaml" --days 30 --resource searches --format jsonl \
  --output "$ZF_TMP/ours-searches.jsonl" 2>"$ZF_TMP/export-searches.log" || fail "export --resource searches exited $?"
run_script "$ZF_TMP/published" tickets 0

/usr/bin/python3 - "$ZF_TMP" <<'PY' || fail "the exports differ"
import collections, csv, glob, json, re, sys
tmp = sys.argv[1]
def rows(path):
    with open(path, newline="") as f:
        r = list(csv.reader(f))
    return r[0], [tuple(x[:4]) for x in r[1:]]
ok = True
for resource in ("tickets", "users"):
    s_head, script = rows(glob.glob(f"{tmp}/script-{resource}/*.csv")[0])
    o_head, ours = rows(f"{tmp}/ours-{resource}.csv")
    want = collections.Counter(script)
    got = collections.Counter(ours)
    surplus = collections.Counter()
    if resource == "users":
        # The script's false visits: user searches with two digits in the URL.
        for line in open(f"{tmp}/ours-searches.jsonl"):
            r = json.loads(line)
            m = re.search(r"\d{2,}", r["url"])
            if "/api/v2/users/" in r["url"] and m:
                surplus[(r["agent_id"], r["agent_name"], m.group(), r["time"])] += 1
    same_head = s_head == o_head[:4]
    equal = want == got + surplus
    print(f"{resource}: script (fixed) {len(script)} rows, export {len(ours)} rows"
          + (f" + {sum(surplus.values())} user searches the script counts as profile visits" if surplus else "")
          + f"; header {'same' if same_head else 'DIFFERS'}; multisets {'equal' if equal else 'DIFFER'}")
    if not equal:
        print("  only in the script:", list((want - got - surplus).items())[:5])
        print("  only in the export:", list((got + surplus - want).items())[:5])
    ok = ok and same_head and equal and len(ours) > 1000
    agents = {r[0] for r in ours}
    named = all(r[1] for r in ours)
    print(f"  {len(agents)} agents, every row named: {named}")
    ok = ok and len(agents) == 40 and named
_, published = rows(glob.glob(f"{tmp}/published/*.csv")[0])
_, fixed = rows(glob.glob(f"{tmp}/script-tickets/*.csv")[0])
print(f"the script as published: {len(published)} of {len(fixed)} ticket rows ({100 * len(published) / len(fixed):.1f}%): "
      f"agents 2..40 start from agent 1's last cursor")
ok = ok and len(published) < len(fixed)
sys.exit(0 if ok else 1)
PY
echo "PASS"
