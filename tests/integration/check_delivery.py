#!/usr/bin/python3
"""Checks a JSON-lines output against the emulator's ids.

usage: check_delivery.py OUTPUT IDS [REGIONS]

- every line is one JSON object with event.id;
- the set of ids equals the emulator's set exactly;
- with REGIONS (one line per forwarder run: "first_line end_line acked_lines"),
  no id appears twice inside acknowledged regions, and every duplicate
  occurrence lies in a region that was never acknowledged (in flight when the
  process was killed).
"""
import json
import sys
from collections import defaultdict

out_path, ids_path = sys.argv[1], sys.argv[2]
regions_path = sys.argv[3] if len(sys.argv) > 3 else None

expected = {l.strip() for l in open(ids_path) if l.strip()}
occurrences = defaultdict(list)
with open(out_path, encoding="utf-8") as f:
    for n, line in enumerate(f):
        rec = json.loads(line)
        occurrences[rec["event"]["id"]].append(n)

got = set(occurrences)
missing = expected - got
extra = got - expected
dups = {i: lines for i, lines in occurrences.items() if len(lines) > 1}
print(f"lines={sum(len(v) for v in occurrences.values())} unique={len(got)} expected={len(expected)} "
      f"missing={len(missing)} unexpected={len(extra)} duplicated_ids={len(dups)}")
ok = not missing and not extra
if missing:
    print("missing ids, e.g.:", sorted(missing)[:5])
if extra:
    print("ids the emulator never had, e.g.:", sorted(extra)[:5])

if regions_path:
    acked = []
    for row in open(regions_path):
        first, end, acked_lines = map(int, row.split())
        acked.append((first, first + acked_lines))
    def in_acked(n):
        return any(a <= n < b for a, b in acked)
    for i, lines in occurrences.items():
        acked_hits = [n for n in lines if in_acked(n)]
        if len(acked_hits) > 1:
            ok = False
            print(f"id {i} was acknowledged twice, at lines {acked_hits}")
        if len(lines) > 1 and len(lines) - len(acked_hits) < len(lines) - 1:
            ok = False
            print(f"id {i} duplicated outside unacknowledged regions: lines {lines}")
    unacked_total = sum(int(r.split()[1]) - int(r.split()[0]) - int(r.split()[2]) for r in open(regions_path))
    print(f"runs={len(acked)} unacknowledged_lines={unacked_total} duplicate_occurrences="
          f"{sum(len(v) - 1 for v in dups.values())}")
elif dups:
    print("duplicates without a crash:", list(dups)[:5])
    ok = False

print("OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
