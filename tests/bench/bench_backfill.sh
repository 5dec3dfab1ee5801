#!/usr/bin/env bash
# One account's backfill into a JSON-lines file (ECS, `run --once`): this
# build against release 0.1 (or any other binary) on the same emulator data,
# the two run alternately so that a busy neighbour or a warm page cache
# favours neither. Prints events/s of every run and the ratio new/old of the
# medians.
# usage: bench_backfill.sh BUILD_DIR [EVENTS] [ROUNDS]
# The baseline is built once from git (commit $BASELINE_REV, default
# e45a5ea = release 0.1) into BUILD_DIR/baseline-0.1 as bench_live.sh does;
# BASELINE=path uses that binary instead. PERF="perf record -g -o FILE" (any
# command prefix) wraps the new binary's runs, for a profile.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd); EVENTS=${2:-1000000}; ROUNDS=${3:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
BASELINE_REV=${BASELINE_REV:-e45a5ea}
source "$HERE/../integration/lib.sh"

old=${BASELINE:-}
if [ -z "$old" ]; then
  old="$BUILD/baseline-0.1/build/src/app/zendesk-forwarder"
  if [ ! -x "$old" ]; then
    echo "building the baseline (release 0.1 at $BASELINE_REV) once into $BUILD/baseline-0.1 ..." >&2
    rm -rf "$BUILD/baseline-0.1"
    git -C "$(git -C "$HERE" rev-parse --show-toplevel)" archive --prefix=baseline-0.1/ "$BASELINE_REV" | tar -x -C "$BUILD"
    # No build type given: the project's default for users (RelWithDebInfo).
    cmake -S "$BUILD/baseline-0.1" -B "$BUILD/baseline-0.1/build" -G Ninja -DZF_BUILD_TESTS=OFF >/dev/null
    cmake --build "$BUILD/baseline-0.1/build" --target zendesk-forwarder >/dev/null
  fi
fi
new="$BUILD/src/app/zendesk-forwarder"

zf_tmpdir
echo "generating $EVENTS events in the emulator..."
zf_start_emulator "$BUILD/src/emulator/zendesk-emulator" --events "$EVENTS" --seed 42 --rate-limit 0 --span 20h
START=$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:%SZ)

# One config both releases read: release 0.1 knows neither `encoding:` (ECS
# was its only one, and is still the default) nor the late-read keys, so the
# config names only keys both share. The request budget is out of the way.
cat >"$ZF_TMP/fwd.yaml" <<YAML
zendesk:
  base_url: $EMU_URL
  auth: {type: api_token, email: agent@example.com, token: emulator-token}
  start: $START
  settle_delay: 0s
  max_window: 90d
  rate_limit: {requests: 100000, period: 60s}
checkpoint: {path: $ZF_TMP/checkpoint.json}
sinks:
  - {type: jsonl, path: $ZF_TMP/out.jsonl}
YAML

# run NAME BINARY [PREFIX...]: one backfill from scratch; appends
# "name seconds lines" to $ZF_TMP/runs.
run() {
  local name=$1 bin=$2; shift 2
  rm -rf "$ZF_TMP/out.jsonl" "$ZF_TMP/checkpoint.json"*
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$ZF_TMP/cpu" "$@" "$bin" run --once --config "$ZF_TMP/fwd.yaml" 2>"$ZF_TMP/$name.log"
  t1=$(date +%s.%N)
  local lines; lines=$(wc -l <"$ZF_TMP/out.jsonl")
  if [ "$lines" -ne "$EVENTS" ]; then
    echo "$name wrote $lines lines, expected $EVENTS" >&2; tail -5 "$ZF_TMP/$name.log" >&2; exit 1
  fi
  local s cpu; s=$(echo "$t1 - $t0" | bc -l); cpu=$(awk '{print $1 + $2}' "$ZF_TMP/cpu")
  printf '%-4s %6.2f s %9.0f events/s  CPU %5.2f s (%.2f us/event)\n' "$name" "$s" "$(echo "$lines / $s" | bc -l)" \
    "$cpu" "$(echo "$cpu * 1000000 / $lines" | bc -l)"
  echo "$name $s $lines $cpu" >>"$ZF_TMP/runs"
}

# One untimed run of each warms the emulator's and the page cache's state.
run warm-old "$old" >/dev/null; run warm-new "$new" >/dev/null; : >"$ZF_TMP/runs"
read -r -a prefix <<<"${PERF:-}"
for i in $(seq 1 "$ROUNDS"); do
  run old "$old"
  run new "$new" "${prefix[@]}"
done
/usr/bin/python3 - "$ZF_TMP/runs" <<'PY'
import statistics, sys
rates = {"old": [], "new": []}
cpu = {"old": [], "new": []}
for line in open(sys.argv[1]):
    name, s, lines, c = line.split()
    rates[name].append(int(lines) / float(s))
    cpu[name].append(float(c) * 1e6 / int(lines))
old, new = statistics.median(rates["old"]), statistics.median(rates["new"])
print(f"median old {old:,.0f} events/s, new {new:,.0f} events/s, new/old {new / old:.2f}")
old, new = statistics.median(cpu["old"]), statistics.median(cpu["new"])
print(f"median CPU (user+sys) per event: old {old:.2f} us, new {new:.2f} us, new/old {new / old:.2f}")
PY
