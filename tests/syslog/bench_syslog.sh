#!/usr/bin/env bash
# Syslog sink throughput into a real rsyslog over TCP, beside syslog-ng's
# loggen (RFC 5424, octet-counted) into the same rsyslog in the same run.
# loggen comes from Debian's syslog-ng-core, unpacked with dpkg -x (installing
# it would remove rsyslog).
# usage: bench_syslog.sh BUILD_DIR [MESSAGES]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd); N=${2:-300000}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../integration/lib.sh"
source "$HERE/rsyslog.sh"
zf_tmpdir
# Unpacked into a cache outside the build tree (a build directory holds
# build outputs only).
SNG=${XDG_CACHE_HOME:-$HOME/.cache}/zendesk-forwarder/syslog-ng-unpacked
if [ ! -x "$SNG/usr/bin/loggen" ]; then
  mkdir -p "$SNG" && (cd "$ZF_TMP" && apt-get download syslog-ng-core >/dev/null 2>&1) && dpkg -x "$ZF_TMP"/syslog-ng-core_*.deb "$SNG"
fi
export SYSLOGNG_PREFIX=$SNG/usr
LOGGEN() { LD_LIBRARY_PATH=$SNG/usr/lib/x86_64-linux-gnu:$SNG/usr/lib/syslog-ng "$SNG/usr/bin/loggen" "$@"; }
PORT_UDP=$(zf_free_port) PORT_TCP=$(zf_free_port) PORT_TLS=$(zf_free_port)
zf_make_pki
zf_start_rsyslog
count() { (cat "$ZF_TMP/rsyslog/tcp.log" 2>/dev/null || true) | wc -l; }

# Timed like loggen: the whole process, start to exit.
t0=$(date +%s.%N)
"$BUILD/tests/syslog/bench_syslog_sink" 127.0.0.1 "$PORT_TCP" "$N" >"$ZF_TMP/sink.out"
t1=$(date +%s.%N)
read -r n inner_s failed size <"$ZF_TMP/sink.out"
sink_s=$(echo "$t1 - $t0" | bc -l)
echo "sink clock inside the harness (after its input was built): ${inner_s} s (reference)"
zf_settle "$ZF_TMP/rsyslog/tcp.log"
sink_lines=$(count)
mv "$ZF_TMP/rsyslog/tcp.log" "$ZF_TMP/rsyslog/sink.log"
zf_stop_rsyslog; zf_start_rsyslog

t0=$(date +%s.%N)
LOGGEN --inet --stream --syslog-proto --size "$size" --rate 10000000 --number "$N" 127.0.0.1 "$PORT_TCP" >"$ZF_TMP/loggen.out" 2>&1
t1=$(date +%s.%N)
zf_settle "$ZF_TMP/rsyslog/tcp.log"
loggen_lines=$(count)
loggen_s=$(echo "$t1 - $t0" | bc -l)
/usr/bin/python3 - "$n" "$sink_s" "$sink_lines" "$loggen_s" "$loggen_lines" "$size" <<'PY'
import sys
n, sink_s, sink_lines, loggen_s, loggen_lines, size = sys.argv[1:]
n, sink_lines, loggen_lines, size = int(n), int(sink_lines), int(loggen_lines), int(size)
sink_s, loggen_s = float(sink_s), float(loggen_s)
print(f"loggen : {n} messages of {size} B in {loggen_s:.2f} s = {n/loggen_s:,.0f} msg/s; rsyslog wrote {loggen_lines}")
print(f"sink   : {n} messages (avg {size} B) in {sink_s:.2f} s = {n/sink_s:,.0f} msg/s; rsyslog wrote {sink_lines}")
ratio = (n / sink_s) / (n / loggen_s)
print(f"ratio sink/loggen: {ratio:.2f} (target >= 0.5): {'met' if ratio >= 0.5 else 'NOT met'}; "
      f"lines received == sent: {'yes' if sink_lines == n else 'NO'}")
PY
