#!/usr/bin/env bash
# Installs every Debian package that building, running and testing need.
# Safe to run any number of times; installs only what is missing.
#   deploy/install-deps.sh            build + runtime + test tools
#   deploy/install-deps.sh --build    only what building needs
set -euo pipefail

build_pkgs=(cmake ninja-build g++ pkg-config
  libcurl4-openssl-dev nlohmann-json3-dev librdkafka-dev prometheus-cpp-dev libjemalloc-dev
  doctest-dev libyaml-cpp-dev libcpp-httplib-dev libsimdjson-dev libssl-dev)
test_pkgs=(curl rsyslog rsyslog-openssl rsyslog-relp kcat python3-kafka python3-zstandard prometheus openssl
  unzip time bc python3-yaml jq python3-requests python3-arrow chromium poppler-utils python3-pil dpkg-dev patch)

want=("${build_pkgs[@]}")
[ "${1:-}" = "--build" ] || want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# rsyslog is used only as a test peer: never leave the system daemon running.
if [ "${1:-}" != "--build" ] && command -v systemctl >/dev/null && systemctl is-active -q rsyslog 2>/dev/null; then
  $SUDO systemctl stop rsyslog || true
fi
# Test section: real helm and kubectl for the chart tests.
if [ "${1:-}" != "--build" ]; then
  tools=$("$(dirname "$0")/install-helm.sh") || { echo "install-deps: installing helm and kubectl failed" >&2; exit 1; }
  echo "install-deps: helm and kubectl in $tools"
  # The test broker with transactions is built from Debian's librdkafka
  # source (tests/kafka/txn_broker); fetched once, with a deb-src entry.
  src=${ZF_LIBRDKAFKA_SOURCE:-/var/cache/zendesk-forwarder/librdkafka-src}
  if [ ! -f "$src/src/rdkafka_mock.c" ]; then
    $SUDO bash "$(dirname "$0")/../tests/kafka/txn_broker/build.sh" --fetch-only "$src" ||
      { echo "install-deps: fetching librdkafka's source (apt-get source) failed" >&2; exit 1; }
    echo "install-deps: librdkafka source in $src"
  fi
fi
echo "install-deps: all packages present"
