#!/usr/bin/python3
"""Checks what rsyslog parsed against the emulator's ids.

usage: check_rsyslog.py PARSED_LOG IDS MODE [UDP_DROPS]
MODE exact: every id once, nothing else. MODE all: every id at least once
(duplicates allowed, after a receiver restart). MODE udp: no corruption, and
ids missing only up to UDP_DROPS (kernel receive-buffer drops, counted).
Every line must be a message rsyslog parsed as RFC 5424 (version 1) with our
structured data, whose id matches the record's event.id when the record is
whole.
"""
import json
import re
import sys

path, ids_path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
drops = int(sys.argv[4]) if len(sys.argv) > 4 else 0
expected = {l.strip() for l in open(ids_path) if l.strip()}
seen = []
bad = 0
for n, line in enumerate(open(path, encoding="utf-8", errors="replace")):
    m = json.loads(line)
    sd = m.get("sd", "")
    sd_id = re.search(r'\[zendesk@32473 id="([^"]+)"', sd)
    if m.get("version") != "1" or m.get("app") != "zendesk-forwarder" or m.get("msgid") != "access" or not sd_id:
        bad += 1
        if bad < 5:
            print(f"line {n}: not our RFC 5424 message as rsyslog parsed it: {line[:200]}")
        continue
    try:
        record = json.loads(m["msg"])
        if record["event"]["id"] != sd_id.group(1):
            bad += 1
            print(f"line {n}: SD id {sd_id.group(1)} != record id {record['event']['id']}")
    except ValueError:
        if mode != "udp":  # only UDP may truncate the record
            bad += 1
            print(f"line {n}: MSG is not the whole JSON record")
    seen.append(sd_id.group(1))
got = set(seen)
missing, extra = expected - got, got - expected
print(f"{path}: {len(seen)} messages, {len(got)} ids, expected {len(expected)}, missing {len(missing)}, "
      f"unexpected {len(extra)}, duplicates {len(seen) - len(got)}, malformed {bad}")
ok = bad == 0 and not extra
if mode == "exact":
    ok = ok and not missing and len(seen) == len(got)
elif mode == "all":
    ok = ok and not missing
elif mode == "udp":
    ok = ok and len(missing) <= drops
print("OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
