# Shared helpers for the integration scripts: start the emulator, wait for
# ports, and kill everything we started on exit.
set -euo pipefail

ZF_PIDS=()
zf_cleanup() {
  for pid in "${ZF_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  [ -n "${ZF_TMP:-}" ] && [ -z "${ZF_KEEP_TMP:-}" ] && rm -rf "$ZF_TMP"
  return 0
}
trap zf_cleanup EXIT

zf_tmpdir() {
  ZF_TMP=$(mktemp -d "${TMPDIR:-/tmp}/zf-it-XXXXXX")
}

# zf_wait_file FILE SECONDS: wait until FILE exists and is non-empty.
zf_wait_file() {
  local deadline=$((SECONDS + $2))
  while [ ! -s "$1" ]; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for $1" >&2; return 1; }
    sleep 0.05
  done
}

# zf_start_emulator EMULATOR_BINARY ARGS...: sets EMU_URL.
zf_start_emulator() {
  local bin=$1; shift
  rm -f "$ZF_TMP/emu.port"
  "$bin" --host 127.0.0.1 --port 0 --port-file "$ZF_TMP/emu.port" "$@" >"$ZF_TMP/emulator.log" 2>&1 &
  ZF_PIDS+=($!)
  zf_wait_file "$ZF_TMP/emu.port" 60
  EMU_URL="http://127.0.0.1:$(cat "$ZF_TMP/emu.port")"
}

# zf_forwarder_config FILE SINK_YAML [EXTRA_ZENDESK_YAML]: the one config
# writer of the test scripts. The checkpoint is $ZF_TMP/checkpoint.json
# unless ZF_CHECKPOINT names another; ZF_START replaces the start (1d);
# ZF_PIPELINE adds keys to the pipeline section; ZF_TOP adds top-level
# sections (metrics: ...).
zf_forwarder_config() {
  cat >"$1" <<YAML
zendesk:
  base_url: $EMU_URL
  auth: {type: api_token, email: agent@example.com, token: emulator-token}
  start: ${ZF_START:-1d}
  settle_delay: 0s
  retry: {initial_backoff: 50ms, max_backoff: 500ms}
${3:-}
checkpoint: {path: ${ZF_CHECKPOINT:-$ZF_TMP/checkpoint.json}}
pipeline: {progress_interval: 1s${ZF_PIPELINE:+, $ZF_PIPELINE}}
${ZF_TOP:-}
sinks:
$2
YAML
}


# Crash runs. zf_kill_runs CONFIG OUT KILLS MIN_S MAX_S starts the forwarder
# KILLS times, SIGKILLs it after a random MIN_S..MAX_S each time, and appends
# one "first_line end_line acknowledged" row per run to $ZF_TMP/regions
# (for check_delivery.py). zf_region_start / zf_region_end bracket a last run.
zf_lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
zf_acked() {
  [ -f "$ZF_TMP/checkpoint.json" ] &&
    /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events_delivered"])' \
      "$ZF_TMP/checkpoint.json" || echo 0
}
zf_region_start() { ZF_FIRST=$(zf_lines "$1"); ZF_ACKED_BEFORE=$(zf_acked); }
zf_region_end() {
  local end acked_after
  end=$(zf_lines "$1"); acked_after=$(zf_acked)
  echo "$ZF_FIRST $end $((acked_after - ZF_ACKED_BEFORE))" >>"$ZF_TMP/regions"
  ZF_REGION="output lines $ZF_FIRST -> $end, acknowledged +$((acked_after - ZF_ACKED_BEFORE))"
}
zf_kill_runs() {
  local config=$1 out=$2 kills=$3 min=$4 max=$5 i pid
  for i in $(seq 1 "$kills"); do
    zf_region_start "$out"
    "$FWD" run --config "$config" 2>>"$ZF_TMP/forwarder.log" &
    pid=$!; ZF_PIDS+=($pid)
    sleep "$(/usr/bin/python3 -c "import random; print(round(random.uniform($min, $max), 3))")"
    kill -9 "$pid"; wait "$pid" 2>/dev/null || true
    # The sink may have left a torn line; the next start repairs it.
    zf_region_end "$out"
    echo "kill $i: $ZF_REGION"
  done
}
