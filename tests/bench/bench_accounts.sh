#!/usr/bin/env bash
# Many accounts in one forwarder (issue #29): N = 10, 100 and 1,000 emulated
# accounts (one emulator process, each account its own credentials, budget
# and data), 1 h of history each, a live tail where 1% of the accounts run
# at 300 events/s and the others at 1 event/s; a config written with
# defaults: and sources_from:, a jsonl sink, default settings otherwise.
# Prints per N: threads, open files, peak (catch-up) and steady RSS, CPU and
# us per event at steady state, catch-up time, requests per account per
# minute, 429s, first page after start, missing and duplicates
# (tests/bench/bench_accounts.py says how each is measured).
# About 15 minutes with the baseline at 10, 100 and 1,000 on 2 cores.
#
# usage: bench_accounts.sh [BUILD_DIR] [extra bench_accounts.py options]
# environment:
#   ACCOUNTS="10 100 1000"  the values of N
#   FORWARDER=path          the forwarder measured [BUILD_DIR/src/app/zendesk-forwarder]
#   BASELINE=path           another binary measured in the same run ("today's release"); none = skip
#                           [/work/wt-bench-base/build/src/app/zendesk-forwarder when it exists]
#   LABEL, BASELINE_LABEL   their names in the table [forwarder, baseline]
#   KILL9=1                 SIGKILL the forwarder half-way through the simultaneous catch-up,
#                           restart it, and count what is missing at the end
#   STEADY=60 SETTLE=10     seconds of the steady window, and of the wait before it
#   HISTORY=1h HISTORY_RATE=1 HOT_SHARE=1% HOT_RATE=300 LIVE_RATE=1
#   HOT_HISTORY_RATE=300    hot accounts' history at their live rate too (1.08 million events each:
#                           their catch-up alone takes about 9 minutes at 50 requests a minute)
#   CATCHUP_TIMEOUT=0       bound of each catch-up in s (0 = 60 s + 0.3 s per account)
#   KEEP=dir                keep each run's directory (config, logs, jsonl)
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd); shift || true
HERE=$(cd "$(dirname "$0")" && pwd)
# 1,000 sources hold thousands of sockets and files (the emulator as many).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FORWARDER=${FORWARDER:-$BUILD/src/app/zendesk-forwarder}
if [ -z "${BASELINE:-}" ] && [ -x /work/wt-bench-base/build/src/app/zendesk-forwarder ]; then
  BASELINE=/work/wt-bench-base/build/src/app/zendesk-forwarder
fi
args=(--forwarder "$FORWARDER" --emulator "$BUILD/src/emulator/zendesk-emulator"
      --accounts "${ACCOUNTS:-10 100 1000}" --steady "${STEADY:-60}" --settle "${SETTLE:-10}"
      --history "${HISTORY:-1h}" --history-rate "${HISTORY_RATE:-1}" --hot-share "${HOT_SHARE:-1%}"
      --hot-history-rate "${HOT_HISTORY_RATE:--1}" --hot-rate "${HOT_RATE:-300}" --live-rate "${LIVE_RATE:-1}" --catchup-timeout "${CATCHUP_TIMEOUT:-0}")
[ -n "${BASELINE:-}" ] && [ "$BASELINE" != none ] && args+=(--baseline "$BASELINE" --baseline-label "${BASELINE_LABEL:-baseline}")
[ -n "${LABEL:-}" ] && args+=(--label "$LABEL")
[ -n "${KILL9:-}" ] && [ "$KILL9" != 0 ] && args+=(--kill9)
[ -n "${KEEP:-}" ] && args+=(--keep "$KEEP")
exec /usr/bin/python3 "$HERE/bench_accounts.py" "${args[@]}" "$@"
