#!/usr/bin/env bash
# report (#15): an export of 30 days of an account with 40 agents is turned
# into the text report and the HTML page. The text's figures equal those
# computed independently from the export file; the page opens in headless
# Chromium with no console errors, its charts are drawn (SVG cells and bars
# in the DOM Chromium built, bar-blue pixels in the screenshot), and the
# screenshot is kept as report-screenshot.png in the test's directory.
# usage: report_test.sh FORWARDER EMULATOR
source "$(dirname "$0")/../integration/lib.sh"
FWD=$1 EMU=$2
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }
command -v chromium >/dev/null || fail "chromium is not installed (deploy/install-deps.sh installs it)"
zf_start_emulator "$EMU" --events 20000 --seed 16 --span 29d --agents 40 --end-users 500 --rate-limit 0
zf_forwarder_config "$ZF_TMP/f.yaml" "  - {type: jsonl, path: $ZF_TMP/unused.jsonl}"
"$FWD" export --config "$ZF_TMP/f.yaml" --days 30 --resource all --output "$ZF_TMP/all.csv" 2>"$ZF_TMP/export.log" ||
  fail "export exited $?"
"$FWD" report --input "$ZF_TMP/all.csv" --html "$ZF_TMP/report.html" >"$ZF_TMP/report.txt" 2>"$ZF_TMP/report.log" ||
  fail "report exited $?"
head -22 "$ZF_TMP/report.txt"

/usr/bin/python3 - "$ZF_TMP" <<'PY' || fail "the report's figures differ from the export's"
import collections, csv, datetime, re, sys
tmp = sys.argv[1]
rows = list(csv.DictReader(open(f"{tmp}/all.csv", newline="")))
text = open(f"{tmp}/report.txt").read()
tickets = {r["Resource accessed"] for r in rows if r["Resource type"] == "ticket"}
profiles = {r["Resource accessed"] for r in rows if r["Resource type"] == "user"}
searches = sum(1 for r in rows if r["Resource type"] == "search")
failed = sum(1 for r in rows if r["Status"].startswith("4"))
def off(t):
    d = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ")
    return d.weekday() >= 5 or d.hour < 8 or d.hour >= 18
outside = sum(1 for r in rows if off(r["Time accessed"]))
agents = {r["Agent ID"] for r in rows}
want = (f"Accesses: {len(rows)} by {len(agents)} agents: {len(tickets)} distinct tickets, {len(profiles)} user profiles, "
        f"{searches} searches; {failed} failed (4xx); {outside} outside working hours")
per = collections.defaultdict(set)
for r in rows:
    if r["Resource type"] in ("ticket", "user"): per[(r["Agent ID"], r["Agent name"])].add((r["Resource type"], r["Resource accessed"]))
(top_id, top_name), top_set = max(per.items(), key=lambda kv: len(kv[1]))
top_line = re.search(r"^\s+1 (.+?) \((\d+)\)\s+(\d+)\s+(\d+)", text, re.M)
ok = want in text and top_line and top_line.group(2) == top_id and int(top_line.group(3)) + int(top_line.group(4)) == len(top_set)
hot = collections.Counter(r["Resource accessed"] for r in rows if r["Resource type"] == "ticket").most_common(1)[0]
ok = ok and re.search(rf"^\s+{hot[0]}\s+{hot[1]}\s", text, re.M) is not None
print(f"totals line as computed from the CSV: {'yes' if want in text else 'NO'}; top agent {top_name} with {len(top_set)} "
      f"distinct tickets + profiles: {'yes' if top_line and top_line.group(2) == top_id else 'NO'}; "
      f"most-accessed ticket {hot[0]} ({hot[1]}x) listed")
sys.exit(0 if ok else 1)
PY

# Lookups on the real export: --ticket, --user and --agent EMAIL against a
# recomputation from the file.
read -r TICKET USER EMAIL < <(/usr/bin/python3 - "$ZF_TMP/all.csv" <<'PY'
import collections, csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
c = lambda k: collections.Counter(r["Resource accessed"] for r in rows if r["Resource type"] == k).most_common(1)[0][0]
print(c("ticket"), c("user"), next(r["Agent email"] for r in rows if r["Agent email"]))
PY
)
"$FWD" report --input "$ZF_TMP/all.csv" --ticket "$TICKET" --user "$USER" --agent "$EMAIL" --csv "$ZF_TMP/lookup.csv" \
  >"$ZF_TMP/lookup.txt" 2>"$ZF_TMP/lookup.log" || fail "report with lookups exited $?"
/usr/bin/python3 - "$ZF_TMP" "$TICKET" "$USER" "$EMAIL" <<'PY' || fail "the lookups differ from the export"
import collections, csv, sys
tmp, ticket, user, email = sys.argv[1:]
rows = list(csv.DictReader(open(f"{tmp}/all.csv", newline="")))
ids = {r["Agent ID"] for r in rows if r["Agent email"] == email}
want = collections.Counter(r["Event ID"] for r in rows
                           if (r["Resource type"] == "ticket" and r["Resource accessed"] == ticket)
                           or (r["Resource type"] == "user" and r["Resource accessed"] == user) or r["Agent ID"] in ids)
got = collections.Counter(r["Event ID"] for r in csv.DictReader(open(f"{tmp}/lookup.csv", newline="")))
text = open(f"{tmp}/lookup.txt").read()
n_t = sum(1 for r in rows if r["Resource type"] == "ticket" and r["Resource accessed"] == ticket)
ok = got == want and f"Who accessed ticket {ticket}: {n_t} access" in text
print(f"lookups (ticket {ticket}, user {user}, agent {email}): {sum(got.values())} rows, "
      f"{'equal to' if got == want else 'DIFFERENT from'} the recomputation from the export")
sys.exit(0 if ok else 1)
PY

# Headless Chromium: the DOM it built, its console, and a screenshot.
PROFILE=$ZF_TMP/chromium-profile
run_chromium() {
  timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --user-data-dir="$PROFILE" \
    --enable-logging=stderr --v=0 "$@" "file://$ZF_TMP/report.html"
}
run_chromium --dump-dom >"$ZF_TMP/dom.html" 2>"$ZF_TMP/chromium-dom.log" || fail "chromium --dump-dom failed"
run_chromium --window-size=1400,5000 --screenshot="$ZF_TMP/report.png" 2>"$ZF_TMP/chromium-shot.log" ||
  fail "chromium --screenshot failed"
cp "$ZF_TMP/report.png" "$PWD/report-screenshot.png"; cp "$ZF_TMP/report.html" "$PWD/report-page.html"
if grep -hE "CONSOLE|Uncaught|SyntaxError|Failed to load" "$ZF_TMP"/chromium-*.log; then fail "console errors"; fi
/usr/bin/python3 - "$ZF_TMP" <<'PY' || fail "the charts did not render"
import re, sys
from PIL import Image
tmp = sys.argv[1]
dom = open(f"{tmp}/dom.html").read()
cells, bars = len(re.findall(r'<rect class="cell"', dom)), len(re.findall(r'<rect class="bar"', dom))
img = Image.open(f"{tmp}/report.png").convert("RGB")
blue = sum(1 for p in img.getdata() if abs(p[0] - 0x3b) < 12 and abs(p[1] - 0x6f) < 12 and abs(p[2] - 0xb6) < 12)
print(f"Chromium DOM: {cells} heat-map cells, {bars} bars; screenshot {img.size[0]}x{img.size[1]}, {blue} bar-blue pixels")
sys.exit(0 if cells >= 40 * 29 and bars >= 10 and blue > 5000 else 1)
PY
echo "screenshot: $PWD/report-screenshot.png"
echo "PASS"
