#!/usr/bin/python3
"""Turns a /metrics scrape into a promtool rule test: every sample held
constant for 40 minutes (and the scrape job up), every alert of the rules
file expected silent at 30 minutes. A healthy, idle forwarder must fire
nothing: a series a source type never sets (a retention margin of 0 on a
webhook source) would.

usage: scrape_alerts.py SCRAPE RULES OUT_TEST_YAML
"""
import json
import re
import sys

scrape, rules, out = sys.argv[1:4]
series = ['{"series": "up{job=\\"zendesk-forwarder\\"}", "values": "1+0x40"}']
for line in open(scrape):
    if not line.strip() or line.startswith("#"):
        continue
    name, value = line.rsplit(" ", 1)
    series.append(json.dumps({"series": name, "values": f"{float(value)!r}+0x40"}))
alerts = re.findall(r"^\s*- alert: (\S+)", open(rules).read(), re.M)
tests = [json.dumps({"eval_time": "30m", "alertname": a, "exp_alerts": []}) for a in alerts]
with open(out, "w") as f:
    f.write(f"rule_files: [{json.dumps(rules)}]\nevaluation_interval: 1m\ntests:\n")
    f.write("  - interval: 1m\n    input_series:\n")
    f.writelines(f"      - {s}\n" for s in series)
    f.write("    alert_rule_test:\n")
    f.writelines(f"      - {t}\n" for t in tests)
print(f"{len(series)} series, {len(alerts)} alerts expected silent")
