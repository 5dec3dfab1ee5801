#!/usr/bin/env bash
# Proves the README's two commands on a fresh Debian 12: debootstraps a
# minimal bookworm (cached), copies a clean clone of this repository into a
# new chroot, and runs the commands there in the given order, e.g.
#   deploy/image/fresh-machine-check.sh demo test   # demo alone, then the tests
#   deploy/image/fresh-machine-check.sh test demo   # the tests alone, then demo
# Each order gets its own fresh chroot. Slow (tens of minutes): not part of
# the default test run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-/var/tmp/zendesk-forwarder-fresh}
[ $# -gt 0 ] || set -- demo test
mkdir -p "$WORK"
dpkg-query -W -f='${Status}' debootstrap 2>/dev/null | grep -q "ok installed" ||
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
MIRROR=$(grep -rhE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
         grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ' || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
if [ ! -f "$WORK/base.tar" ]; then
  echo "== debootstrap bookworm from $MIRROR"
  rm -rf "$WORK/base"
  debootstrap --variant=minbase bookworm "$WORK/base" "$MIRROR" >"$WORK/debootstrap.log" 2>&1
  echo "deb $MIRROR bookworm main" >"$WORK/base/etc/apt/sources.list"
  tar -C "$WORK/base" -cf "$WORK/base.tar" . && rm -rf "$WORK/base"
fi

order="$*"
name=$(echo "$order" | tr ' ' '-')
R="$WORK/root-$name"
cleanup() {
  for m in dev/pts dev proc sys; do umount -l "$R/$m" 2>/dev/null || true; done
}
trap cleanup EXIT
cleanup
rm -rf "$R" && mkdir -p "$R"
tar -C "$R" -xf "$WORK/base.tar"
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
# Where this machine reaches registries through a TLS-inspecting proxy, the
# chroot must trust the same extra authorities as the host (for npm, which
# installs helm); a machine with direct access needs none.
EXTRA_CA=""
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  mkdir -p "$R/usr/local/share/ca-certificates"
  cat /usr/local/share/ca-certificates/*.crt >"$R/usr/local/share/ca-certificates/host-extra.crt"
  EXTRA_CA=/usr/local/share/ca-certificates/host-extra.crt
fi
git clone -q "$ROOT" "$R/src"
mount -t proc proc "$R/proc"; mount -t sysfs sys "$R/sys"; mount --bind /dev "$R/dev"; mount --bind /dev/pts "$R/dev/pts"
# git is not on a minimal Debian; the scripts do not need it.
for step in "$@"; do
  t0=$SECONDS
  case "$step" in
    demo) chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
            bash -c 'cd /src && deploy/demo.sh --events 2000 >/tmp/demo.out 2>/tmp/demo.err; echo "exit $?"' |
            tee "$WORK/$name-demo.status"
          lines=$(wc -l <"$R/tmp/demo.out")
          echo "demo: $lines JSON lines on stdout in $((SECONDS - t0)) s"
          grep -q "Top agents by distinct tickets" "$R/tmp/demo.err" && echo "demo: ends with the report" &&
          grep -q "exit 0" "$WORK/$name-demo.status" && [ "$lines" -eq 2000 ] ||
            { tail -20 "$R/tmp/demo.err"; exit 1; } ;;
    test) chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root CI=true \
            ${EXTRA_CA:+NODE_EXTRA_CA_CERTS=$EXTRA_CA} \
            bash -c 'cd /src && deploy/test.sh </dev/null >/tmp/test.out 2>&1; echo "exit $?"' |
            tee "$WORK/$name-test.status"
          grep -E "tests passed|tests failed" "$R/tmp/test.out" || true
          echo "test: $((SECONDS - t0)) s"
          grep -q "exit 0" "$WORK/$name-test.status" || { tail -40 "$R/tmp/test.out"; exit 1; } ;;
    *) echo "unknown step $step (demo, test)"; exit 2 ;;
  esac
done
echo "fresh Debian 12 ($order): OK"
