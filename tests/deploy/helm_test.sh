#!/usr/bin/env bash
# The Helm chart with real helm v4: lint and template with the defaults and
# each example values file; the rendered manifests parse and carry the
# security context, probes, Secret references and volume; the rendered
# config passes `zendesk-forwarder validate`; bad values are rejected by
# the schema with a clear message; the PrometheusRule's rules are the ones
# in deploy/prometheus/alerts.yaml. With replicas > 1 only with coordination:
# no PVC, a PDB, spread, probes; refused without it, naming the key.
# usage: helm_test.sh FORWARDER
set -euo pipefail
FWD=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CHART=$ROOT/helm/zendesk-forwarder
TOOLS=$("$ROOT/deploy/install-helm.sh")
HELM=$TOOLS/helm/helm
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$HELM" version --short

cmp -s "$ROOT/deploy/prometheus/alerts.yaml" "$CHART/files/alerts.yaml" \
  || fail "helm/zendesk-forwarder/files/alerts.yaml differs from deploy/prometheus/alerts.yaml (copy it)"

for values in "" "$CHART"/examples/values-*.yaml; do
  name=${values:+$(basename "$values")}; name=${name:-defaults}
  "$HELM" lint "$CHART" ${values:+-f "$values"} >"$TMP/lint" 2>&1 || { cat "$TMP/lint"; fail "helm lint ($name)"; }
  "$HELM" template fwd "$CHART" ${values:+-f "$values"} >"$TMP/rendered.yaml" || fail "helm template ($name)"
  /usr/bin/python3 "$ROOT/tests/deploy/check_manifests.py" "$TMP/rendered.yaml" "$TMP/config.yaml" || fail "manifests ($name)"
  ZENDESK_CREDENTIAL=dummy-credential ZENDESK_CREDENTIAL_GLOBEX=dummy-globex KAFKA_PASSWORD=dummy-password ZENDESK_WEBHOOK_SECRET=dummy-secret \
    "$FWD" validate --config "$TMP/config.yaml" \
    || fail "zendesk-forwarder validate rejected the rendered config ($name)"
  echo "ok: $name"
done

# Many accounts: defaults: once, one source per account, an account's own
# credential from its own Secret.
"$HELM" template fwd "$CHART" -f "$CHART/examples/values-many-accounts.yaml" >"$TMP/many.yaml" || fail "helm template (many)"
/usr/bin/python3 - "$TMP/many.yaml" <<'PY' || fail "many accounts"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
config = yaml.safe_load([d for d in docs if d["kind"] == "ConfigMap"][0]["data"]["config.yaml"])
assert "zendesk" not in config and "checkpoint" not in config, config.keys()
d = config["defaults"]
assert d["checkpoint"]["path"] == "/var/lib/zendesk-forwarder/{source}.json", d
assert d["rate_limit"] == {"requests": 40, "period": "60s"}, d["rate_limit"]
assert d["auth"]["token"] == "${ZENDESK_CREDENTIAL}", d["auth"]
names = [s["name"] for s in config["sources"]]
assert names == ["acme", "globex", "initech"], names
globex = config["sources"][1]
assert globex["auth"] == {"token": "${ZENDESK_CREDENTIAL_GLOBEX}"} and "credentialSecret" not in globex, globex
env = {e["name"]: e for e in [d for d in docs if d["kind"] == "Deployment"][0]["spec"]["template"]["spec"]["containers"][0]["env"]}
assert env["ZENDESK_CREDENTIAL_GLOBEX"]["valueFrom"]["secretKeyRef"] == {"name": "zendesk-forwarder-globex", "key": "token"}
print("ok: many accounts,", len(names), "sources under one defaults:")
PY

"$HELM" template fwd "$CHART" -f "$CHART/examples/values-kafka.yaml" | grep -q 'alert: ZendeskForwarderRetentionEdge' \
  || fail "PrometheusRule does not carry the alert rules"

# The verify CronJob: absent by default; when enabled, it runs verify with
# the chart's config and Secret and pushes to the Pushgateway given.
"$HELM" template fwd "$CHART" | grep -q 'kind: CronJob' && fail "a CronJob is rendered although verify is off"
"$HELM" template fwd "$CHART" -f "$CHART/examples/values-kafka.yaml" --set verify.enabled=true \
  --set verify.pushgatewayUrl=http://pushgateway.monitoring:9091 >"$TMP/verify.yaml" || fail "helm template (verify)"
/usr/bin/python3 - "$TMP/verify.yaml" <<'PY' || fail "verify CronJob"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
cron = [d for d in docs if d["kind"] == "CronJob"]
assert len(cron) == 1, "one CronJob"
c = cron[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
args = c["args"]
assert args[:3] == ["verify", "--config", "/etc/zendesk-forwarder/config.yaml"], args
assert args[args.index("--pushgateway") + 1] == "http://pushgateway.monitoring:9091", args
assert args[args.index("--budget-share") + 1] == "0.3", args
assert any(e["name"] == "ZENDESK_CREDENTIAL" for e in c["env"]), "credential from the Secret"
assert c["securityContext"]["readOnlyRootFilesystem"] is True
assert cron[0]["spec"]["concurrencyPolicy"] == "Forbid"
print("ok: verify CronJob", " ".join(args))
PY

# Several replicas with coordination: no PVC, a PDB, probes, spread; the
# config carries the coordination: section.
"$HELM" template fwd "$CHART" -f "$CHART/examples/values-kafka.yaml" --set replicas=3 --set coordination.enabled=true \
  --set coordination.brokers=kafka-0.kafka:9093 >"$TMP/replicated.yaml" || fail "helm template (replicas 3, coordination)"
/usr/bin/python3 - "$TMP/replicated.yaml" <<'PY' || fail "replicas 3 with coordination"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = [d["kind"] for d in docs]
assert "PersistentVolumeClaim" not in kinds, kinds
assert kinds.count("PodDisruptionBudget") == 1, kinds
dep = [d for d in docs if d["kind"] == "Deployment"][0]
assert dep["spec"]["replicas"] == 3 and dep["spec"]["strategy"]["type"] == "RollingUpdate", dep["spec"]
c = dep["spec"]["template"]["spec"]["containers"][0]
assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", c["readinessProbe"]
assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", c["livenessProbe"]
keys = [t["topologyKey"] for t in dep["spec"]["template"]["spec"]["topologySpreadConstraints"]]
assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"], keys
vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
assert "emptyDir" in vols["state"], vols["state"]
config = yaml.safe_load([d for d in docs if d["kind"] == "ConfigMap"][0]["data"]["config.yaml"])
co = config["coordination"]
assert co["enabled"] is True and co["brokers"] == "kafka-0.kafka:9093" and co["group"] == "fwd-zendesk-forwarder", co
assert co["control_topic"] == "fwd-zendesk-forwarder.coordination" and co["partitions"] == 64, co
print("ok: replicas 3 + coordination: no PVC, a PDB, readiness /readyz, liveness /healthz, spread over", keys)
PY
# The default image names no real registry, and says so.
grep -q 'repository: build-and-push-it-yourself.invalid/' "$CHART/values.yaml" && grep -q 'NOBODY PUBLISHES THIS IMAGE' "$CHART/values.yaml" \
  || fail "the default image.repository must say plainly that it has to be built and pushed"

reject() {  # reject "what" "expected message part" helm-args...
  local what=$1 expect=$2; shift 2
  if "$HELM" template fwd "$CHART" "$@" >"$TMP/out" 2>&1; then fail "accepted: $what"; fi
  grep -q -- "$expect" "$TMP/out" || { cat "$TMP/out"; fail "unclear message for: $what"; }
  echo "rejected: $what -> $(grep -m1 -- "$expect" "$TMP/out" | sed 's/^ *//')"
}
reject "missing account" "at '/account'" --set account=
reject "both existingSecret and inline credential" "at '/auth/credential'" --set auth.credential=abc
reject "unknown sink type" "at '/sinks/0/type'" --set 'sinks[0].type=splunk'
reject "more than one replica without coordination" "at '/coordination/enabled'" --set replicas=3
reject "coordination without brokers" "at '/coordination/brokers'" --set replicas=3 --set coordination.enabled=true
reject "coordination with the chart's webhook" "at '/webhook/enabled'" -f "$CHART/examples/values-replicated.yaml" \
  --set webhook.enabled=true
reject "page size above the API's maximum" "at '/zendesk/pageSize'" --set zendesk.pageSize=5000
reject "an account without a name" "at '/accounts/0'" --set 'accounts[0].subdomain=acme'
reject "an account name that is no source name" "at '/accounts/0/name'" --set 'accounts[0].name=Acme Corp'
reject "an account's credentialSecret without its key" "at '/accounts/0/credentialSecret'" \
  --set 'accounts[0].name=acme' --set 'accounts[0].credentialSecret.name=s'
reject "accounts with the chart's webhook" "do not go together" -f "$CHART/examples/values-many-accounts.yaml" \
  --set webhook.enabled=true
reject "verify budget share above 1" "at '/verify/budgetShare'" --set verify.budgetShare=2
echo OK
