#!/usr/bin/env bash
# export and report from the command line, against the emulator:
# - report --source b is titled with b's account, not the first source's (#26.4)
# - report --days 3 says "3 days", not the 4 calendar days it touches (#26.10)
# - export refuses to write through a planted <output>.partial symlink (#27.7)
# - export --output - to a terminal shows ESC/OSC/BEL/C1/bidi escaped; to a
#   file the bytes stay as they are (#27.8)
# - export with a Users API that keeps failing (500, 429, a bad body)
#   finishes within --users-api-wait, marks the names unavailable, says the
#   API failed and exits 3 (#27.5)
# usage: report_cli_test.sh FORWARDER EMULATOR
source "$(dirname "$0")/../integration/lib.sh"
FWD=$1 EMU=$2
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }
zf_start_emulator "$EMU" --events 3000 --seed 7 --span 5d --agents 8 --end-users 20 --rate-limit 0 --hostile-names
cat >"$ZF_TMP/two.yaml" <<YAML
sources:
  - {type: zendesk_pull, name: a, base_url: $EMU_URL, account: first-account,
     auth: {type: api_token, email: agent@example.com, token: emulator-token},
     checkpoint: {path: $ZF_TMP/a.json}}
  - {type: zendesk_pull, name: b, base_url: $EMU_URL, account: second-account,
     auth: {type: api_token, email: agent@example.com, token: emulator-token},
     checkpoint: {path: $ZF_TMP/b.json}}
sinks:
  - {type: jsonl, path: $ZF_TMP/unused.jsonl}
YAML

# 1 and 2: the title and the period.
"$FWD" report --config "$ZF_TMP/two.yaml" --source b --days 3 >"$ZF_TMP/report.txt" 2>"$ZF_TMP/report.log" ||
  fail "report --source b exited $?"
head -5 "$ZF_TMP/report.txt"
grep -q "^Zendesk access report: second-account\$" "$ZF_TMP/report.txt" || fail "report --source b is not titled with b's account"
! grep -q "first-account" "$ZF_TMP/report.txt" || fail "report --source b names the first source's account"
grep -q "^Period: .* (3 days)$" "$ZF_TMP/report.txt" || fail "report --days 3 does not say 3 days"

# 5: a planted symlink at the temp name is not followed.
zf_forwarder_config "$ZF_TMP/f.yaml" "  - {type: jsonl, path: $ZF_TMP/unused.jsonl}"
echo "precious" >"$ZF_TMP/victim"
ln -s "$ZF_TMP/victim" "$ZF_TMP/out.csv.partial"
code=0
"$FWD" export --config "$ZF_TMP/f.yaml" --days 5 --resource all --output "$ZF_TMP/out.csv" 2>"$ZF_TMP/export.log" || code=$?
[ "$(cat "$ZF_TMP/victim")" = "precious" ] || fail "export wrote through the planted symlink into its target"
[ ! -L "$ZF_TMP/out.csv" ] || fail "the export is a symlink"
[ $code -eq 0 ] && [ -f "$ZF_TMP/out.csv" ] || fail "export exited $code"
echo "planted .partial symlink: not followed, victim intact, export written ($(wc -l <"$ZF_TMP/out.csv") lines)"
head -1 "$ZF_TMP/out.csv" | grep -q ",Agent email,Account" || fail "the export carries no Account column"
account=$(grep "^  *name:\|account" "$ZF_TMP/export.log" | head -0; "$FWD" validate --config "$ZF_TMP/f.yaml" | sed -n 's/.*account \([^,]*\),.*/\1/p' | head -1)
"$FWD" report --input "$ZF_TMP/out.csv" 2>/dev/null | head -1 | grep -qF "Zendesk access report: $account" ||
  fail "a report from the export file does not name its account ($account)"
echo "the export carries its account ($account); a report from the file names it"

# 3: hostile names (--hostile-names: OSC/BEL/ESC, C1 CSI, U+202E, zero-width)
# on a terminal (script(1) gives the export a pty) and into a pipe.
script -qfec "$FWD export --config $ZF_TMP/f.yaml --days 5 --resource all --output - 2>$ZF_TMP/tty-export.log" "$ZF_TMP/tty.out" \
  >/dev/null 2>&1 </dev/null || fail "export to a terminal exited $?"
"$FWD" export --config "$ZF_TMP/f.yaml" --days 5 --resource all --output - >"$ZF_TMP/pipe.out" 2>/dev/null ||
  fail "export to a pipe exited $?"
python3 - "$ZF_TMP" <<'PY' || fail "control characters reach the terminal, or the file is not byte-faithful"
import re, sys
tmp = sys.argv[1]
tty = open(f"{tmp}/tty.out", "rb").read()
# script(1) adds its own header/footer lines; the export's bytes are between them.
body = b"\n".join(l for l in tty.split(b"\n") if not l.startswith(b"Script "))
pipe = open(f"{tmp}/pipe.out", "rb").read()
bad = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\x8b-\x8f\xaa-\xae]|\xe2\x81[\xa6-\xa9]")
in_pipe, in_tty = len(bad.findall(pipe)), len(bad.findall(body))
print(f"control characters: {in_pipe} in the CSV written to a pipe (kept byte for byte), {in_tty} on the terminal")
sys.exit(0 if in_pipe > 0 and in_tty == 0 else 1)
PY

# 4: a Users API that keeps failing.
for fault in 500 429 garbage; do
  curl -sf -X POST -d "{\"users_fault\": \"$fault\"}" "$EMU_URL/_emulator/config" >/dev/null || fail "emulator config"
  start=$SECONDS
  code=0
  timeout 60 "$FWD" export --config "$ZF_TMP/f.yaml" --days 5 --resource tickets --users-api-wait 4s \
    --output "$ZF_TMP/noname-$fault.csv" 2>"$ZF_TMP/noname-$fault.log" || code=$?
  took=$((SECONDS - start))
  echo "Users API $fault: export exited $code after ${took}s"
  [ $code -eq 3 ] || fail "Users API $fault: exit $code, want 3 (written, names unavailable)"
  grep -q "the Users API failed" "$ZF_TMP/noname-$fault.log" || fail "Users API $fault: the log does not say the API failed"
  ! grep -q "did not list them" "$ZF_TMP/noname-$fault.log" || fail "Users API $fault: the log blames the agents"
  python3 - "$ZF_TMP/noname-$fault.csv" <<'PY' || fail "Users API $fault: names not marked unavailable"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
marked = sum(1 for r in rows if r["Agent name"] == "(name unavailable: the Users API failed)")
print(f"  {len(rows)} rows, {marked} with the name marked unavailable")
sys.exit(0 if rows and marked == len(rows) else 1)
PY
done
curl -sf -X POST -d '{"users_fault": ""}' "$EMU_URL/_emulator/config" >/dev/null
echo "PASS"
