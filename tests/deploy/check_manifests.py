#!/usr/bin/python3
"""Structural checks of `helm template` output (what kubectl's client-side
dry run would parse, plus what this chart promises).

usage: check_manifests.py RENDERED_YAML CONFIG_OUT
Writes the ConfigMap's config.yaml to CONFIG_OUT for `zendesk-forwarder validate`.
"""
import sys

import yaml

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
problems = []
def need(cond, what):
    if not cond:
        problems.append(what)

for d in docs:
    need(isinstance(d.get("apiVersion"), str) and isinstance(d.get("kind"), str), f"object without apiVersion/kind: {d}")
    need(isinstance(d.get("metadata", {}).get("name"), str), f"{d.get('kind')} without metadata.name")
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)

dep = by_kind["Deployment"][0]["spec"]
pod = dep["template"]["spec"]
parsed_config = yaml.safe_load(by_kind["ConfigMap"][0]["data"]["config.yaml"])
coordinated = (parsed_config.get("coordination") or {}).get("enabled") is True
if coordinated:
    # Replicas share the accounts through Kafka: no volume, rolling update,
    # a PodDisruptionBudget on the same pods, spread over zones and nodes.
    need(dep["replicas"] >= 1, "replicas")
    need(dep["strategy"]["type"] == "RollingUpdate", "strategy RollingUpdate with coordination")
    need(dep["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, "a rolling update never drops below replicas")
    need("PersistentVolumeClaim" not in by_kind, "no PersistentVolumeClaim with coordination")
    pdbs = by_kind.get("PodDisruptionBudget", [])
    need(len(pdbs) == 1 and pdbs[0]["spec"]["selector"]["matchLabels"] == dep["selector"]["matchLabels"],
         "a PodDisruptionBudget selecting the Deployment's pods")
    spread = pod.get("topologySpreadConstraints", [])
    need(len(spread) >= 1 and all(t["labelSelector"]["matchLabels"] == dep["selector"]["matchLabels"] for t in spread),
         "topology spread constraints on the Deployment's pods")
    need(pod.get("terminationGracePeriodSeconds", 0) >= 30, "time to hand the accounts over on SIGTERM")
    need(parsed_config["coordination"].get("brokers"), "coordination.brokers in the config")
else:
    need(dep["replicas"] == 1, "replicas must be 1")
    need(dep["strategy"]["type"] == "Recreate", "strategy must be Recreate (one pod per checkpoint)")
    need("PodDisruptionBudget" not in by_kind, "no PodDisruptionBudget for a single pod")
need(pod["securityContext"].get("runAsNonRoot") is True, "pod runAsNonRoot")
need(pod["securityContext"].get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp RuntimeDefault")
c = pod["containers"][0]
sc = c["securityContext"]
need(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
need(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false")
need(sc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities drop ALL")
need(c["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness probe on /healthz")
env = {e["name"]: e for e in c["env"]}
need("secretKeyRef" in env.get("ZENDESK_CREDENTIAL", {}).get("valueFrom", {}), "credential from a Secret")
mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
need(mounts.get("state") == "/var/lib/zendesk-forwarder", "state volume at /var/lib/zendesk-forwarder")
vols = {v["name"]: v for v in pod["volumes"]}
pvc_names = [p["metadata"]["name"] for p in by_kind.get("PersistentVolumeClaim", [])]
if coordinated:
    need("emptyDir" in vols["state"], "scratch state volume with coordination (positions in Kafka)")
else:
    need("persistentVolumeClaim" in vols["state"] and vols["state"]["persistentVolumeClaim"]["claimName"] in pvc_names,
         "checkpoint on the chart's PVC")
need(c["readinessProbe"]["periodSeconds"] > 0, "a readiness probe")
config = by_kind["ConfigMap"][0]["data"]["config.yaml"]
parsed = yaml.safe_load(config)
# With the webhook: a push and a pull source; else the zendesk: shorthand.
# With many accounts: the type and the shared credential are in defaults:.
defaults = parsed.get("defaults") or {}
kind = lambda s: s.get("type", defaults.get("type"))
pushes = [s for s in parsed.get("sources", []) if kind(s) == "zendesk_webhook"]
pull = defaults if defaults else (next((s for s in parsed.get("sources", []) if kind(s) == "zendesk_pull"), None)
                                  or parsed.get("zendesk"))
# Readiness routes the webhook Service: with a push source, on its health
# alone (a revoked pull token must not take pushes offline).
want_ready = "/readyz?source=" + pushes[0]["name"] if pushes else "/readyz"
need(c["readinessProbe"]["httpGet"]["path"] == want_ready, "readiness probe on " + want_ready)
need(pull is not None, "a pull source")
need(len(by_kind.get("Service", [])) == 1 + len(pushes), "a metrics Service (and a webhook Service with the webhook)")
need(pull["auth"].get("token", pull["auth"].get("password", pull["auth"].get("oauth_token"))) == "${ZENDESK_CREDENTIAL}",
     "the ConfigMap refers to the credential, never holds it")
for push in pushes:
    need(push["signing_secret"] == "${ZENDESK_WEBHOOK_SECRET}", "the signing secret from the environment")
    need("secretKeyRef" in env.get("ZENDESK_WEBHOOK_SECRET", {}).get("valueFrom", {}), "signing secret from a Secret")
    need(pull.get("dedup_with") == push["name"], "the pull source reconciles behind push (dedup_with)")
    need(push["checkpoint"]["path"].startswith("/var/lib/zendesk-forwarder/"), "push's delivered ids on the state volume")
    need(any(p.get("name") == "webhook" for p in c["ports"]), "the webhook container port")
    for ing in by_kind.get("Ingress", []):
        paths = [p for r in ing["spec"]["rules"] for p in r["http"]["paths"]]
        need([p["path"] for p in paths] == [push["path"]], "the Ingress exposes only the webhook path")
secret_name = env["ZENDESK_CREDENTIAL"]["valueFrom"]["secretKeyRef"]["name"]
for s in by_kind.get("Secret", []):
    need(s["metadata"]["name"] == secret_name, "the created Secret is the one referenced")
open(sys.argv[2], "w").write(config)
print(f"{len(docs)} objects: " + ", ".join(sorted(f"{k}x{len(v)}" for k, v in by_kind.items())))
for p in problems:
    print("PROBLEM:", p)
sys.exit(1 if problems else 0)
