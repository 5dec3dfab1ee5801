#!/usr/bin/env python3
"""A 40-agent, 30-day account with planted behaviour, written as an export
CSV of zendesk-forwarder (its columns, the account last), for the report's
"who stands out" test. Deterministic (seeded). Every agent works Monday to
Friday, 09:00-17:00 UTC, from one or two addresses used from the first week
on, reading 6-12 distinct tickets a day; then:
  heavy    reads 5 times the team's distinct tickets a day (in hours)
  night    does most of its reading between 22:00 and 04:00 UTC
  burst    opens 40 distinct tickets within 8 minutes once
  newip    works from an address it never used in the first week
Six agents carry hostile names (markup, bidi override, zero-width, C0/C1
controls, 300 characters) and behave like the rest.
usage: planted_dataset.py OUT.csv SINCE_UNIX  (prints the planted agents as JSON)"""
import csv, datetime, json, random, sys

out, since = sys.argv[1], int(sys.argv[2])
rng = random.Random(31)
DAY = 86400
HOSTILE = ["<script>alert(1)</script><img src=x onerror=alert(2)>",
           "Spoof\u202eadnaN",
           "Zero\u200bWidth\u2066Iso\ufeff",
           "Esc\x1b]0;pwned\x07\x1b[2JAna",
           "Csi\u009b31mBo",
           "L" * 296 + "Long"]
agents = []
for i in range(40):
    aid = str(360000000000 + i * 7919)
    name = HOSTILE[i - 30] if 30 <= i < 36 else f"Agent {i:02d} Example"
    agents.append({"id": aid, "name": name, "email": f"agent{i}@example.com",
                   "ips": [f"10.1.{i}.{k + 1}" for k in range(1 + i % 2)]})
planted = {"heavy": agents[3]["id"], "night": agents[7]["id"], "burst": agents[12]["id"], "newip": agents[21]["id"]}
rows = []
profiles = [str(9000000 + k) for k in range(300)]
def add(agent, t, kind, what, ip=None, status=None):
    st = status if status is not None else (403 if rng.random() < 0.03 else 200)
    if kind == "ticket": url = f"/api/v2/tickets/{what}.json"
    elif kind == "user": url = f"/api/v2/users/{what}.json"
    else: url = "/api/v2/search.json?query=" + what
    rows.append([agent["id"], agent["name"], what, datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 kind, f"{kind}.read", "GET", str(st), ip or rng.choice(agent["ips"]), url,
                 f"E{len(rows):08d}", agent["email"], "planted-account"])
day0 = since - since % DAY + DAY  # whole days from the first midnight after since
for d in range(29):
    start = day0 + d * DAY
    if datetime.datetime.fromtimestamp(start, datetime.timezone.utc).weekday() >= 5: continue
    for i, a in enumerate(agents):
        n = rng.randint(6, 12) * (5 if a["id"] == planted["heavy"] else 1)
        tickets = rng.sample(range(100000, 130000), n)
        for k, t in enumerate(tickets):
            if a["id"] == planted["night"] and k < n * 0.7:
                when = start + 22 * 3600 + rng.randint(0, 6 * 3600 - 60)   # 22:00-04:00
            else:
                when = start + 9 * 3600 + int(k * (8 * 3600 - 60) / n) + rng.randint(0, 50)
            ip = "198.51.100.77" if a["id"] == planted["newip"] and d >= 14 and k % 2 == 0 else None
            add(a, when, "ticket", str(t), ip)
        if d < 5:  # every address in use in the first week: the baseline
            for ip in a["ips"]: add(a, start + 9 * 3600 + 30, "ticket", str(rng.randint(100000, 130000)), ip)
        for _ in range(rng.randint(0, 3)):
            add(a, start + 10 * 3600 + rng.randint(0, 6 * 3600), "user", rng.choice(profiles))
        if rng.random() < 0.3:
            add(a, start + 11 * 3600 + rng.randint(0, 3600), "search", rng.choice(["refund", "invoice 2026", "vip"]))
b = next(a for a in agents if a["id"] == planted["burst"])
burst_at = day0 + 10 * DAY + 14 * 3600  # a weekday? pick the next weekday
while datetime.datetime.fromtimestamp(burst_at, datetime.timezone.utc).weekday() >= 5: burst_at += DAY
for k in range(40):
    add(b, burst_at + k * 12, "ticket", str(200000 + k))
rows.sort(key=lambda r: r[3])
with open(out, "w", newline="") as f:
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(["Agent ID", "Agent name", "Resource accessed", "Time accessed", "Resource type", "Action", "Method", "Status",
                "Source IP", "URL", "Event ID", "Agent email", "Account"])
    for r in rows:
        # the export's formula guard, as csv_field writes it
        w.writerow([("'" + v) if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v for v in r])
json.dump({"planted": planted, "hostile": [a["id"] for a in agents[30:36]], "agents": [a["id"] for a in agents],
           "rows": len(rows)}, sys.stdout)
