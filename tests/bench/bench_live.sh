#!/usr/bin/env bash
# Live-account benchmark (tests/bench/bench_live.py): default settings at
# 300, 1,000 and 2,083 events/s with 5% of events listed up to 8 minutes
# late, a run with 10 SIGKILLs, and release 0.1's defaults as the baseline,
# in parallel, in the same run. Takes about 25 minutes.
# usage: bench_live.sh BUILD_DIR [extra bench_live.py options, e.g. --rates 300 --measure 120]
# The baseline is built once from git (commit $BASELINE_REV) into
# BUILD_DIR/baseline-0.1; BASELINE=none skips it, BASELINE=path uses that binary.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd); shift || true
HERE=$(cd "$(dirname "$0")" && pwd)
BASELINE_REV=${BASELINE_REV:-e45a5ea}
baseline_args=()
if [ "${BASELINE:-}" = none ]; then
  :
elif [ -n "${BASELINE:-}" ]; then
  baseline_args=(--baseline "$BASELINE")
else
  bin="$BUILD/baseline-0.1/build/src/app/zendesk-forwarder"
  if [ ! -x "$bin" ]; then
    echo "building the baseline (release 0.1 at $BASELINE_REV) once into $BUILD/baseline-0.1 ..." >&2
    rm -rf "$BUILD/baseline-0.1"
    git -C "$(git -C "$HERE" rev-parse --show-toplevel)" archive --prefix=baseline-0.1/ "$BASELINE_REV" | tar -x -C "$BUILD"
    cmake -S "$BUILD/baseline-0.1" -B "$BUILD/baseline-0.1/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DZF_BUILD_TESTS=OFF >/dev/null
    cmake --build "$BUILD/baseline-0.1/build" --target zendesk-forwarder >/dev/null
  fi
  baseline_args=(--baseline "$bin")
fi
exec /usr/bin/python3 "$HERE/bench_live.py" --forwarder "$BUILD/src/app/zendesk-forwarder" \
  --emulator "$BUILD/src/emulator/zendesk-emulator" "${baseline_args[@]}" "$@"
