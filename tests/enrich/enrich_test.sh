#!/usr/bin/env bash
# Enrichment (#15): with enrich: {users: true}, a run against an account of
# 40 agents and 3,000 end users ships every record with the actor's name,
# email and role, and the accessed user's name for profile reads, equal to
# what the Users API holds; the Users API requests stay within one per 100
# new ids a page; the name cache's hit ratio is reported. Then with the
# Users API down every record is still delivered, without names, counted
# as unnamed.
# usage: enrich_test.sh FORWARDER EMULATOR
source "$(dirname "$0")/../integration/lib.sh"
FWD=$1 EMU=$2
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }
zf_start_emulator "$EMU" --events 30000 --seed 21 --agents 40 --end-users 3000 --rate-limit 0
curl -sf "$EMU_URL/_emulator/users" >"$ZF_TMP/people.json"
enrich="  enrich: {users: true}"
zf_forwarder_config "$ZF_TMP/on.yaml" "  - {type: jsonl, path: $ZF_TMP/named.jsonl, fsync: false}
  - {type: jsonl, name: ocsf, path: $ZF_TMP/named.ocsf.jsonl, fsync: false, encoding: ocsf_json}" "$enrich"
"$FWD" run --once --config "$ZF_TMP/on.yaml" 2>"$ZF_TMP/on.log" || fail "the run exited $?"
users_requests=$(curl -sf "$EMU_URL/_emulator/stats" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["users_requests"])')

/usr/bin/python3 - "$ZF_TMP" "$users_requests" <<'PY' || fail "names are wrong"
import json, math, sys
tmp, requests = sys.argv[1], int(sys.argv[2])
people = {str(p["id"]): p for p in json.load(open(f"{tmp}/people.json"))}
records = [json.loads(l) for l in open(f"{tmp}/named.jsonl")]
wrong, targets, distinct, pages_new = 0, 0, set(), 0
for r in records:
    u, p = r["user"], people[r["user"]["id"]]
    if (u.get("name"), u.get("email"), u.get("roles")) != (p["name"], p["email"], [p["role"]]): wrong += 1
    distinct.add(u["id"])
    t = u.get("target")
    if t and t["id"] in people:
        targets += 1
        distinct.add(t["id"])
        if (t.get("name"), t.get("email")) != (people[t["id"]]["name"], people[t["id"]]["email"]): wrong += 1
ocsf = [json.loads(l) for l in open(f"{tmp}/named.ocsf.jsonl")]
ocsf_wrong = sum(1 for o in ocsf if o["actor"]["user"].get("name") != people[o["actor"]["user"]["uid"]]["name"])
summary = [json.loads(l) for l in open(f"{tmp}/on.log") if "enrichment" in l][0]
pages = math.ceil(len(records) / 2500)  # the default page size
bound = math.ceil(len(distinct) / 100) + pages
print(f"{len(records)} records, {targets} profile reads; names wrong: {wrong} (ECS), {ocsf_wrong} (OCSF)")
print(f"Users API: {requests} requests for {len(distinct)} distinct users "
      f"(bound: ceil(distinct/100) + one partial batch per page = {bound}); "
      f"cache hit ratio {summary['cache_hit_ratio']:.3f}; unnamed {summary['records_unnamed']}")
ok = (len(records) == 30000 and wrong == 0 and ocsf_wrong == 0 and targets > 1000 and requests <= bound
      and summary["records_unnamed"] == 0 and summary["cache_hit_ratio"] > 0.5)
sys.exit(0 if ok else 1)
PY

# The Users API down: every record still goes out, without names, counted.
curl -sf -X POST "$EMU_URL/_emulator/config" -d '{"users_down": true}' >/dev/null
ZF_CHECKPOINT=$ZF_TMP/down.checkpoint.json zf_forwarder_config "$ZF_TMP/down.yaml" \
  "  - {type: jsonl, path: $ZF_TMP/unnamed.jsonl, fsync: false}" "$enrich"
"$FWD" run --once --config "$ZF_TMP/down.yaml" 2>"$ZF_TMP/down.log" || fail "the run with the Users API down exited $?"
/usr/bin/python3 - "$ZF_TMP" <<'PY' || fail "records were lost or named with the Users API down"
import json, sys
tmp = sys.argv[1]
records = [json.loads(l) for l in open(f"{tmp}/unnamed.jsonl")]
named = sum(1 for r in records if "name" in r["user"])
summary = [json.loads(l) for l in open(f"{tmp}/down.log") if "enrichment" in l][0]
print(f"Users API down: {len(records)} records delivered, {named} named; counted unnamed: {summary['records_unnamed']}, "
      f"Users API failures: {summary['users_api_failures']}")
sys.exit(0 if len(records) == 30000 and named == 0 and summary["records_unnamed"] == 30000
         and summary["users_api_failures"] >= 1 else 1)
PY
grep -q "emulator-token" "$ZF_TMP/on.log" "$ZF_TMP/down.log" && fail "a secret was logged"
echo "PASS"
