#!/usr/bin/env bash
# build.sh SOURCE_DIR OUT_DIR: builds OUT_DIR/kafka-txn-mock-cluster, the
# project's mock-cluster launcher (tests/tools/kafka_mock_cluster.cpp) linked
# statically against Debian's librdkafka 2.0.2 with txn-mock.patch applied
# (transactions in the mock: markers, LSO, aborted list, fencing).
#
# SOURCE_DIR: an unpacked librdkafka source tree (`apt-get source librdkafka`).
# If it holds none, the source is fetched with apt-get source into its parent
# (adding a deb-src entry for bookworm main if the machine has none; root).
# SOURCE_DIR itself is never modified: the build happens in OUT_DIR/build.
# Idempotent: a second run with everything built only checks stamps.
# build.sh --fetch-only SOURCE_DIR: only step 1 (deploy/install-deps.sh).
set -euo pipefail

FETCH_ONLY=0
if [ "${1:-}" = --fetch-only ]; then FETCH_ONLY=1; shift; set -- "$1" "${TMPDIR:-/tmp}"; fi
[ $# -eq 2 ] || { echo "usage: $0 SOURCE_DIR OUT_DIR | --fetch-only SOURCE_DIR" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
PATCH=$HERE/txn-mock.patch
LAUNCHER=$ROOT/tests/tools/kafka_mock_cluster.cpp
mkdir -p "$2"
SRC=$(realpath -m "$1")
OUT=$(cd "$2" && pwd)
BUILD=$OUT/build
BIN=$OUT/kafka-txn-mock-cluster
# Only what the mock needs: it stores produced batches as they come (never
# decompresses), and listens on plaintext loopback only.
CONFIGURE_OPTS=(--no-download --disable-ssl --disable-gssapi --disable-curl
  --disable-zstd --disable-lz4-ext --disable-zlib --disable-syslog)
JOBS=2  # the machine has 2 cores and other work runs: never more

log() { echo "build.sh: $*" >&2; }

# --- 1. the source --------------------------------------------------------
have_deb_src() {  # any deb-src entry for bookworm main?
  grep -rhsE '^deb-src .* bookworm .*main' /etc/apt/sources.list /etc/apt/sources.list.d/*.list && return 0
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822: a stanza with deb-src in Types, bookworm in Suites, main in Components
    awk 'BEGIN{RS=""} /Types:[^\n]*deb-src/ && /Suites:[^\n]*bookworm([ \n]|$)/ && /Components:[^\n]*main/ {f=1} END{exit !f}' "$f" && return 0
  done
  return 1
}

fetch_source() {
  local parent; parent=$(dirname "$SRC")
  [ "$(id -u)" = 0 ] || { log "no librdkafka source in $SRC, and fetching it needs root (apt-get)"; exit 1; }
  if ! have_deb_src >/dev/null; then
    # the mirror the machine already uses for bookworm, else deb.debian.org
    local uri
    uri=$(awk 'BEGIN{RS=""} /Suites:[^\n]*bookworm([ \n]|$)/ {if (match($0, /URIs: *[^ \n]+/)) {s=substr($0, RSTART, RLENGTH); sub(/URIs: */, "", s); print s; exit}}' \
      /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=$(awk '$1=="deb" && $0 ~ / bookworm / {print ($2 ~ /^\[/ ? $3 : $2); exit}' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$uri" ] || uri=http://deb.debian.org/debian
    log "adding deb-src for bookworm main ($uri) in /etc/apt/sources.list.d/zf-deb-src.sources"
    printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$uri" >/etc/apt/sources.list.d/zf-deb-src.sources
  fi
  apt-get update -qq
  command -v dpkg-source >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-dev
  # Fetched in a fresh directory beside SRC (dpkg-source will not unpack
  # over an existing tree), then the tree moved to SRC, the files to parent.
  mkdir -p "$parent"
  local tmp got dsc
  tmp=$(mktemp -d "$parent/.librdkafka-fetch-XXXXXX")
  (cd "$tmp" && apt-get source -qq librdkafka) || { rm -rf "$tmp"; log "apt-get source librdkafka failed"; exit 1; }
  got=$(ls -d "$tmp"/librdkafka-*/ 2>/dev/null | head -1)
  got=${got%/}
  [ -n "$got" ] && [ -f "$got/src/rdkafka_mock.c" ] || { rm -rf "$tmp"; log "apt-get source librdkafka unpacked nothing"; exit 1; }
  dsc=$(cd "$tmp" && ls librdkafka_*.dsc)
  rmdir "$SRC" 2>/dev/null || true  # an empty SOURCE_DIR is replaced
  mv "$got" "$SRC"
  mv -f "$tmp"/librdkafka_* "$parent"/
  rm -rf "$tmp"
  log "fetched $dsc (source package) into $SRC"
}

[ -f "$SRC/src/rdkafka_mock.c" ] || fetch_source
[ "$FETCH_ONLY" = 0 ] || exit 0

# --- 2. the patched build tree ------------------------------------------------
# The stamp names everything the tree depends on: patch, options, source.
stamp_want=$( { sha256sum "$PATCH" | cut -d' ' -f1; echo "${CONFIGURE_OPTS[*]}"; echo "$SRC";
  sed -n 's/^#define RD_KAFKA_VERSION *//p' "$SRC/src/rdkafka.h"; } | sha256sum | cut -d' ' -f1)
if [ "$(cat "$BUILD/.txn-mock-stamp" 2>/dev/null)" != "$stamp_want" ]; then
  t0=$SECONDS
  log "preparing $BUILD from $SRC"
  rm -rf "$BUILD"
  cp -a "$SRC" "$BUILD"
  (cd "$BUILD" && patch -p1 --forward --no-backup-if-mismatch -s <"$PATCH")
  (cd "$BUILD" && ./configure "${CONFIGURE_OPTS[@]}" >"$OUT/configure.log" 2>&1) ||
    { tail -30 "$OUT/configure.log" >&2; log "configure failed (log: $OUT/configure.log)"; exit 1; }
  log "patched and configured in $((SECONDS - t0)) s"
  echo "$stamp_want" >"$BUILD/.txn-mock-stamp"
fi

# --- 3. the static library (make is incremental) ----------------------------
t0=$SECONDS
make -s -j"$JOBS" -C "$BUILD/src" librdkafka.a >"$OUT/make.log" 2>&1 ||
  { tail -40 "$OUT/make.log" >&2; log "make failed (log: $OUT/make.log)"; exit 1; }
[ $((SECONDS - t0)) -lt 2 ] || log "librdkafka.a built in $((SECONDS - t0)) s"

# --- 4. the launcher --------------------------------------------------------
# The system libs librdkafka.a needs, as configure found them (Makefile.config).
LIBS=$(sed -n 's/^LIBS+=//p' "$BUILD/Makefile.config" | xargs)
if [ ! -x "$BIN" ] || [ "$BIN" -ot "$BUILD/src/librdkafka.a" ] || [ "$BIN" -ot "$LAUNCHER" ]; then
  mkdir -p "$OUT/include/librdkafka"
  cp "$BUILD/src/rdkafka.h" "$BUILD/src/rdkafka_mock.h" "$OUT/include/librdkafka/"
  # shellcheck disable=SC2086  # LIBS is a list of linker flags
  c++ -std=c++20 -O2 -I"$OUT/include" -o "$BIN.tmp" "$LAUNCHER" "$BUILD/src/librdkafka.a" $LIBS -lpthread
  mv "$BIN.tmp" "$BIN"
  log "linked $BIN (librdkafka.a + $LIBS)"
fi
echo "$BIN"
