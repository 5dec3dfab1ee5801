#!/usr/bin/env bash
# Installs the build dependencies, builds the forwarder, and runs its demo:
# the bundled Access Logs API emulator on loopback stands in for Zendesk and
# every event comes out on stdout as one normalized JSON line, with the
# agents' names (logs on stderr), and it ends with the report of who
# accessed what (on stderr).
#   deploy/demo.sh [--events N]
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh --build >&2
BUILD=${BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZF_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target zendesk-forwarder >&2
exec "$BUILD/src/app/zendesk-forwarder" demo "$@"
