#!/usr/bin/env bash
# Builds the container image without a Docker engine and smoke-tests it:
#   1. debootstrap a Debian 12 base and import it as localhost/debian:12;
#   2. buildah builds the Dockerfile (chroot isolation): the build stage
#      compiles and runs the unit tests, the runtime stage is the image;
#   3. the image's filesystem is exported and, in a chroot, the binary runs
#      as the non-root user: --version, and validate of an example config,
#      with no library missing.
# Slow (several minutes): not part of the default test run.
# usage: deploy/image/build-and-smoke.sh [WORKDIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${1:-/var/tmp/zendesk-forwarder-image}
mkdir -p "$WORK"
missing=()
for p in podman buildah debootstrap; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The mirror this machine's apt already uses (only Debian's registry is reachable).
MIRROR=$(grep -rhE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
         grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ' || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
t0=$SECONDS

if ! podman image exists localhost/debian:12; then
  echo "== debootstrap bookworm from $MIRROR"
  rm -rf "$WORK/base"
  debootstrap --variant=minbase bookworm "$WORK/base" "$MIRROR" >"$WORK/debootstrap.log" 2>&1
  echo "deb $MIRROR bookworm main" >"$WORK/base/etc/apt/sources.list"
  tar -C "$WORK/base" -c . | podman import - localhost/debian:12 >/dev/null
fi

echo "== buildah bud (isolation chroot)"
buildah bud --isolation=chroot --build-arg BASE=localhost/debian:12 -t localhost/zendesk-forwarder:test \
  -f "$ROOT/Dockerfile" "$ROOT" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; exit 1; }
grep -E "test cases|Status" "$WORK/build.log" | tail -2

echo "== export and smoke test in a chroot as uid 65532"
rm -rf "$WORK/rootfs" && mkdir -p "$WORK/rootfs"
cid=$(podman create localhost/zendesk-forwarder:test)
podman export "$cid" | tar -C "$WORK/rootfs" -x
podman rm "$cid" >/dev/null
user=$(podman image inspect localhost/zendesk-forwarder:test --format '{{.Config.User}}')
[ "$user" = "65532:65532" ] || { echo "image user is '$user', expected 65532:65532"; exit 1; }
if chroot "$WORK/rootfs" ldd /usr/local/bin/zendesk-forwarder | grep -q "not found"; then
  chroot "$WORK/rootfs" ldd /usr/local/bin/zendesk-forwarder | grep "not found"; exit 1
fi
chroot --userspec=65532:65532 "$WORK/rootfs" /usr/local/bin/zendesk-forwarder --version
ZENDESK_API_TOKEN=dummy chroot --userspec=65532:65532 "$WORK/rootfs" \
  /usr/local/bin/zendesk-forwarder validate --config /etc/zendesk-forwarder/examples/jsonl.yaml
echo "image built and smoke-tested in $((SECONDS - t0)) s"
