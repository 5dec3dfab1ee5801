#!/usr/bin/env bash
# The auditor's report (#31) over a 40-agent, 30-day account with planted
# behaviour (planted_dataset.py): one agent reading 5x the team, one
# working nights, one burst, one new source IP, six hostile names.
# - who stands out: each planted case found with its reason, nothing else
#   flagged at the default thresholds (the findings are printed);
# - --ticket / --user / --agent EMAIL: equal to a recomputation from the file;
# - the HTML page in headless chromium and the PDF (--pdf, A4 and Letter)
#   through pdftotext and pdftoppm: every agent and its id present, legend
#   present, headers with account and period on every page, nothing past the
#   right margin; hostile names inert and every id intact, in HTML, PDF and
#   text. Screenshots and page PNGs are kept in the test's build directory.
# usage: report_audit_test.sh FORWARDER
source "$(dirname "$0")/../integration/lib.sh"
FWD=$1
HERE=$(cd "$(dirname "$0")" && pwd)
ART=$PWD/report-audit
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }
for tool in chromium pdftotext pdftoppm pdfinfo; do
  command -v $tool >/dev/null || fail "$tool is not installed (deploy/install-deps.sh installs chromium and poppler-utils)"
done
rm -rf "$ART" && mkdir -p "$ART"
/usr/bin/python3 "$HERE/planted_dataset.py" "$ZF_TMP/planted.csv" $(( $(date +%s) - 30 * 86400 )) >"$ZF_TMP/planted.json" ||
  fail "the dataset generator failed"

"$FWD" report --input "$ZF_TMP/planted.csv" --findings "$ZF_TMP/findings.csv" --html "$ZF_TMP/report.html" \
  --pdf "$ZF_TMP/report.pdf" >"$ZF_TMP/report.txt" 2>"$ZF_TMP/report.log" || fail "report exited $?"
"$FWD" report --input "$ZF_TMP/planted.csv" --findings "$ZF_TMP/alerts.jsonl" --pdf "$ZF_TMP/letter.pdf" --paper letter \
  >/dev/null 2>"$ZF_TMP/report-letter.log" || fail "report --paper letter exited $?"
sed -n '1,/^Top agents/p' "$ZF_TMP/report.txt" | head -14
"$FWD" report --input "$ZF_TMP/planted.csv" --top 40 >"$ZF_TMP/report-all.txt" 2>/dev/null || fail "report --top 40 exited $?"

/usr/bin/python3 - "$ZF_TMP" <<'PY' || fail "the findings are not the planted ones"
import csv, json, sys
tmp = sys.argv[1]
p = json.load(open(f"{tmp}/planted.json"))["planted"]
found = [(r["Finding"], r["Agent ID"], r["Why"]) for r in csv.DictReader(open(f"{tmp}/findings.csv", newline=""))]
for f in found: print("flagged:", f[0], f[1], "-", f[2][:150])
want = {("volume", p["heavy"]): "times the team's median", ("off_hours", p["night"]): "outside working hours",
        ("burst", p["burst"]): "distinct tickets within 10 minutes", ("new_ip", p["newip"]): "198.51.100.77"}
got = {(k, a): why for k, a, why in found}
ok = set(got) == set(want) and all(want[k] in got[k] for k in want)
alerts = [json.loads(l) for l in open(f"{tmp}/alerts.jsonl")]
ok = ok and len(alerts) == 4 and all(a["event"]["kind"] == "alert" and a["message"] for a in alerts)
print(f"planted cases found with their reasons and nothing else: {'yes' if ok else 'NO'}; {len(alerts)} ECS alert records")
sys.exit(0 if ok else 1)
PY

# Zendesk's script CSV (four columns): what it lacks is "not in this input".
/usr/bin/python3 - "$ZF_TMP" <<'PY'
import csv, sys
tmp = sys.argv[1]
rows = list(csv.reader(open(f"{tmp}/planted.csv", newline="")))
with open(f"{tmp}/script.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(["Agent ID", "Agent name", "Ticket accessed", "Time accessed"])
    for r in rows[1:]:
        if r[4] == "ticket": w.writerow(r[:4])
PY
"$FWD" report --input "$ZF_TMP/script.csv" --html "$ZF_TMP/script.html" >"$ZF_TMP/script.txt" 2>"$ZF_TMP/script.log" ||
  fail "report of the script's CSV exited $?"
grep -q "failed (4xx): not in this input" "$ZF_TMP/script.txt" || fail "the script's CSV: failed accesses are not said to be missing"
grep -q "New source IPs: not in this input" "$ZF_TMP/script.txt" || fail "the script's CSV: source IPs are not said to be missing"
grep -q "(account not in this input)" "$ZF_TMP/script.txt" || fail "the script's CSV: the missing account is not said"
grep -q "Not in this input (it has no Status column)" "$ZF_TMP/script.html" || fail "the script's CSV: the page counts failures"
echo "Zendesk's script CSV: status, source IP and account said to be not in this input"

# Lookups, against an independent recomputation from the file.
read -r TICKET USER EMAIL < <(/usr/bin/python3 - "$ZF_TMP/planted.csv" <<'PY'
import collections, csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
t = collections.Counter(r["Resource accessed"] for r in rows if r["Resource type"] == "ticket").most_common(1)[0][0]
u = collections.Counter(r["Resource accessed"] for r in rows if r["Resource type"] == "user").most_common(1)[0][0]
print(t, u, "agent7@example.com")
PY
)
"$FWD" report --input "$ZF_TMP/planted.csv" --ticket "$TICKET" --user "$USER" --agent "$EMAIL" --csv "$ZF_TMP/lookup.csv" \
  --html "$ZF_TMP/lookup.html" >"$ZF_TMP/lookup.txt" 2>"$ZF_TMP/lookup.log" || fail "report with lookups exited $?"
grep "^Who accessed" "$ZF_TMP/lookup.txt"
/usr/bin/python3 - "$ZF_TMP" "$TICKET" "$USER" "$EMAIL" <<'PY' || fail "the lookups differ from the recomputation"
import collections, csv, re, sys
tmp, ticket, user, email = sys.argv[1:]
rows = list(csv.DictReader(open(f"{tmp}/planted.csv", newline="")))
ids = {r["Agent ID"] for r in rows if r["Agent email"] == email}
want = {"ticket " + ticket: [r for r in rows if r["Resource type"] == "ticket" and r["Resource accessed"] == ticket],
        "user profile " + user: [r for r in rows if r["Resource type"] == "user" and r["Resource accessed"] == user],
        "agent " + email: [r for r in rows if r["Agent ID"] in ids]}
got = collections.Counter(r["Event ID"] for r in csv.DictReader(open(f"{tmp}/lookup.csv", newline="")))
expect = collections.Counter({r["Event ID"] for v in want.values() for r in v})  # an access answering two lookups: one row
text = open(f"{tmp}/lookup.txt").read()
html = open(f"{tmp}/lookup.html").read()
ok = got == expect
for q, v in want.items():
    line = f"Who accessed {q}: {len(v)} access"
    ok = ok and line in text and re.search(rf'class="lookup">Who accessed {re.escape(q)}: {len(v)} access', html) is not None
    print(f"{q}: {len(v)} accesses recomputed, {'same' if line in text else 'DIFFERENT'} in the report")
print(f"lookup CSV: {sum(got.values())} rows, {'equal to' if got == expect else 'DIFFERENT from'} the recomputation")
sys.exit(0 if ok and len(want['ticket ' + ticket]) >= 2 else 1)
PY

# The page in headless chromium; the PDFs through poppler.
PROFILE=$ZF_TMP/chromium-profile
run_chromium() {
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$PROFILE" "$@" "file://$ZF_TMP/report.html"
}
run_chromium --dump-dom >"$ZF_TMP/dom.html" 2>"$ZF_TMP/chromium-dom.log" || fail "chromium --dump-dom failed"
run_chromium --window-size=1024,2600 --screenshot="$ART/report-1024.png" 2>"$ZF_TMP/chromium-shot.log" ||
  fail "chromium --screenshot failed"
pdftotext -layout "$ZF_TMP/report.pdf" "$ZF_TMP/report.pdf.txt"
pdftoppm -r 50 -png "$ZF_TMP/report.pdf" "$ART/report-page"
cp "$ZF_TMP/report.pdf" "$ZF_TMP/letter.pdf" "$ZF_TMP/report.html" "$ART/"
pdfinfo "$ZF_TMP/report.pdf" >"$ZF_TMP/a4.info"
pdfinfo "$ZF_TMP/letter.pdf" >"$ZF_TMP/letter.info"
/usr/bin/python3 - "$ZF_TMP" "$ART" <<'PY' || fail "the page or the PDF is not right"
import glob, json, re, sys
from PIL import Image
tmp, art = sys.argv[1:]
meta = json.load(open(f"{tmp}/planted.json"))
dom = open(f"{tmp}/dom.html", encoding="utf-8").read()
pdf = open(f"{tmp}/report.pdf.txt", encoding="utf-8").read()
text = open(f"{tmp}/report-all.txt", encoding="utf-8").read()
problems = []
raw = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
for name, doc in (("HTML", dom), ("text report", text), ("PDF text", pdf)):
    if raw.search(doc): problems.append(f"raw control characters in the {name}")
if re.search(r"<script|<img|<b ", dom): problems.append("markup from a name became elements")
heat = re.search(r'<svg id="heatmap".*?</svg>', dom, re.S).group(0)
pdf_flat = re.sub(r"\s+", " ", pdf)
for aid in meta["agents"]:
    if f'class="agent-id"' not in heat or f'>{aid}</text>' not in heat: problems.append(f"{aid} not in the heat map")
    if f'<span class="id">{aid}</span>' not in dom: problems.append(f"{aid} without its id in the agents table")
    if aid not in pdf: problems.append(f"{aid} not in the PDF")
    if aid not in text and aid in meta["hostile"]: problems.append(f"hostile agent {aid} has no id in the text report")
    if aid in meta["hostile"] and aid[::-1] in pdf + dom: problems.append(f"{aid} shown reversed")
if "[U+202E]" not in dom or "[U+202E]" not in pdf_flat: problems.append("the bidi override is not shown as a marker")
if 'id="legend"' not in dom or "Colour legend" not in pdf: problems.append("no colour legend")
pages = pdf.split("\f")
pages = [p for p in pages if p.strip()]
for i, p in enumerate(pages):
    if "planted-account" not in p or not re.search(r"\(\d+ days\)", p): problems.append(f"PDF page {i + 1} has no header with account and period")
a4, letter = open(f"{tmp}/a4.info").read(), open(f"{tmp}/letter.info").read()
if "(A4)" not in a4 or "612 x 792" not in letter: problems.append("paper sizes wrong")
# Nothing past the right margin: the last 5 mm of every page stay white.
for png in sorted(glob.glob(f"{art}/report-page-*.png")):
    img = Image.open(png).convert("L")
    w, h = img.size
    strip = img.crop((w - int(w * 5 / 210), 0, w, h))
    if strip.getextrema()[0] < 200: problems.append(f"{png}: ink in the right margin")
shot = Image.open(f"{art}/report-1024.png").convert("L")
edge = shot.crop((shot.size[0] - 6, 0, shot.size[0], shot.size[1]))
if edge.getextrema()[0] < 200: problems.append("the page is wider than a 1024 px window")
print(f"HTML: {len(meta['agents'])} agents in the heat map with ids; PDF: {len(pages)} A4 pages, every agent id, legend, "
      f"headers; {len(glob.glob(art + '/report-page-*.png'))} page PNGs in {art}")
for p in problems[:20]: print("  problem:", p)
sys.exit(1 if problems else 0)
PY
echo "PASS"
