#!/usr/bin/env bash
# Each source type exports only the series it sets (#26 item 3): a
# webhook-only config exports no pull-source series (a retention margin of 0
# fired the critical RetentionEdge alert), and in a push+pull config the
# pull series carry only the pull source's label. For both, the scrape
# passes `promtool check metrics`, and promtool evaluates every alert rule
# over it held for 30 minutes: none fires on a healthy idle forwarder.
# usage: source_series_test.sh FORWARDER EMULATOR RULES
source "$(dirname "$0")/../integration/lib.sh"
FWD=$1 EMU=$2 RULES=$3
HERE=$(cd "$(dirname "$0")" && pwd)
zf_tmpdir
fail() { echo "FAIL: $*"; tail -5 "$ZF_TMP"/*.log 2>/dev/null; exit 1; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
zf_start_emulator "$EMU" --events 200 --span 10m --seed 3
export ZF_HOOK_SECRET=series-secret

scrape() {  # NAME SOURCES_YAML: runs the forwarder, scrapes it after its first commit
  local name=$1 port pid
  port=$(free_port)
  printf 'sources:\n%s\nmetrics: {listen: 127.0.0.1:%s}\nsinks:\n  - {type: jsonl, path: %s/%s.jsonl, fsync: false}\n' \
    "$2" "$port" "$ZF_TMP" "$name" >"$ZF_TMP/$name.yaml"
  "$FWD" run --config "$ZF_TMP/$name.yaml" 2>"$ZF_TMP/$name.log" &
  pid=$!
  ZF_PIDS+=($pid)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/metrics" >"$ZF_TMP/$name.prom" && break; sleep 0.1; done
  # A pull source's first commit, so its series hold what it set.
  for _ in $(seq 100); do
    grep -q '"pull"' "$ZF_TMP/$name.yaml" || break
    curl -sf "http://127.0.0.1:$port/metrics" | grep -qE '^zendesk_forwarder_checkpoint_commits_total\{[^}]*source="pull"\} [1-9]' && break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$port/metrics" >"$ZF_TMP/$name.prom" || fail "$name: no /metrics"
  kill -TERM $pid; wait $pid || fail "$name: the forwarder exited $?"
  promtool check metrics <"$ZF_TMP/$name.prom" || fail "$name: promtool check metrics"
  /usr/bin/python3 "$HERE/scrape_alerts.py" "$ZF_TMP/$name.prom" "$RULES" "$ZF_TMP/$name.test.yaml"
  promtool test rules "$ZF_TMP/$name.test.yaml" >"$ZF_TMP/$name.promtool" 2>&1 ||
    { cat "$ZF_TMP/$name.promtool"; fail "$name: an alert fires on a healthy idle forwarder"; }
}
PUSH="  - {type: zendesk_webhook, name: push, account: acme, listen: 127.0.0.1:0, signing_secret: \"\${ZF_HOOK_SECRET}\",
     checkpoint: {path: $ZF_TMP/push.ids}}"
PULL="  - {type: zendesk_pull, name: pull, base_url: $EMU_URL, start: 1h, settle_delay: 0s, dedup_with: push,
     auth: {type: api_token, email: agent@example.com, token: emulator-token}, checkpoint: {path: $ZF_TMP/cp.json}}"

scrape webhook_only "$PUSH"
pull_only_series='zendesk_forwarder_(retention_margin_seconds|api_requests_total|rate_limit_[a-z_]+|late_read_[a-z_]+|position_timestamp_seconds|backfill_remaining_seconds)'
if grep -E "^$pull_only_series" "$ZF_TMP/webhook_only.prom"; then fail "a webhook-only config exports pull-source series"; fi
echo "webhook only: $(grep -c '^zendesk_forwarder_' "$ZF_TMP/webhook_only.prom") samples, no pull-source series, no alert"

scrape push_and_pull "$PUSH
$PULL"
grep -qE '^zendesk_forwarder_retention_margin_seconds\{.*source="pull"' "$ZF_TMP/push_and_pull.prom" ||
  fail "the pull source's retention margin is missing"
if grep -E "^$pull_only_series\{[^}]*source=\"push\"" "$ZF_TMP/push_and_pull.prom"; then
  fail "the push source carries pull-source series"
fi
grep -qE '^zendesk_forwarder_webhook_requests_total|^zendesk_forwarder_webhook_ack_latency' "$ZF_TMP/push_and_pull.prom" &&
  grep -E '^zendesk_forwarder_webhook_ack_latency_seconds_count\{[^}]*source="pull"' "$ZF_TMP/push_and_pull.prom" &&
  fail "the pull source carries webhook series"
echo "push and pull: $(grep -c '^zendesk_forwarder_' "$ZF_TMP/push_and_pull.prom") samples, pull series only on source=pull, no alert"
echo "PASS"
