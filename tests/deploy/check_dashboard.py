#!/usr/bin/python3
"""Checks the Grafana dashboard: valid JSON, and every metric named in any
query is one the forwarder exports (names taken from the sources that define
metrics, plus the _bucket/_sum/_count series of its histograms).

usage: check_dashboard.py DASHBOARD_JSON SOURCE_CPP...
"""
import json
import re
import sys

dashboard = json.load(open(sys.argv[1]))
source = "".join(open(f).read() for f in sys.argv[2:])
exported = set(re.findall(r'"((?:zendesk_forwarder|process)_[a-z_]+)"', source))
histograms = {n for n in exported if re.search(r'BuildHistogram\(\)(,\s*[^,]+,\s*|\s*\.Name\()"' + n, source)}
exported |= {h + s for h in histograms for s in ("_bucket", "_sum", "_count")}
exported.add("up")

promql_words = {"sum", "by", "rate", "increase", "histogram_quantile", "le", "and", "or", "on", "without", "avg", "max", "min", "time", "topk", "bottomk"}
exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
exprs += [v["query"] for v in dashboard.get("templating", {}).get("list", []) if isinstance(v.get("query"), str) and "(" in v["query"]]
bad = []
for e in exprs:
    # Drop label matchers, strings, ranges, grouping labels, label_values' label.
    stripped = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]|\b(by|without)\s*\([^)]*\)|,\s*[a-z_]+\)', "", e)
    for name in re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", stripped):
        if name in promql_words or name.startswith("label_values"):
            continue
        if name not in exported:
            bad.append((name, e))
print(f"{len(dashboard['panels'])} panels, {len(exprs)} queries, {len(exported)} exported series names")
for name, e in bad:
    print(f"unknown metric {name} in: {e}")
sys.exit(1 if bad or not exprs else 0)
