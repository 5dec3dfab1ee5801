#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, undefined behaviour
# fatal) and runs each for SECONDS (default 30) on its seed corpus, with a
# dictionary for YAML or JSON inputs; RUNS=N (environment) also stops a
# target after N executions, whichever comes first. Crashes are saved under
# BUILD/crashes/<target>/ and fail the run. Prints exec/s and coverage.
# usage: tests/fuzz/run.sh [SECONDS] [BUILD_DIR] [TARGET...]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${1:-30}; BUILD=${2:-$ROOT/build-fuzz}; shift $(( $# > 2 ? 2 : $# )) || true
TARGETS=("$@"); [ ${#TARGETS[@]} -gt 0 ] || TARGETS=(ratelimit_reset page config normalize relp csv webhook http_head checkpoint)
command -v clang++ >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null; }
CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -G Ninja -DZF_BUILD_FUZZ=ON -DZF_BUILD_TESTS=ON -DZF_UNIT_TESTS_ONLY=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" --target $(printf 'fuzz_%s ' "${TARGETS[@]}") >/dev/null
status=0
for t in "${TARGETS[@]}"; do
  case $t in ratelimit_reset) corpus=reset dict="" ;; config) corpus=config dict=yaml.dict ;; relp|http_head) corpus=$t dict="" ;;
              *) corpus=$t dict=json.dict ;; esac
  work=$(mktemp -d); cp "$ROOT/tests/fuzz/corpus/$corpus/"* "$work/"
  mkdir -p "$BUILD/crashes/$t"
  args=(-max_total_time="$SECS" -artifact_prefix="$BUILD/crashes/$t/" -print_final_stats=1 -timeout=120 -rss_limit_mb=2048)
  [ -n "${RUNS:-}" ] && args+=(-runs="$RUNS")
  [ -n "$dict" ] && args+=(-dict="$ROOT/tests/fuzz/dict/$dict")
  if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$BUILD/tests/fuzz/fuzz_$t" "${args[@]}" "$work" \
       >"$BUILD/fuzz-$t.log" 2>&1; then
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$BUILD/fuzz-$t.log" | grep -oE '[0-9]+$' || echo ?)
    rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$BUILD/fuzz-$t.log" | grep -oE '[0-9]+$' || echo ?)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$BUILD/fuzz-$t.log" | tail -1)
    took=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$BUILD/fuzz-$t.log" | grep -oE '[0-9]+ second' | grep -oE '[0-9]+' || echo "$SECS")
    echo "fuzz_$t: clean, $execs executions in ${took} s, $rate exec/s, $cov"
  else
    echo "fuzz_$t: FAILED (artifacts in $BUILD/crashes/$t/)"; tail -30 "$BUILD/fuzz-$t.log"; status=1
  fi
  rm -rf "$work"
done
exit $status
