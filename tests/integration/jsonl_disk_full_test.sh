#!/usr/bin/env bash
# The jsonl sink on a disk that fills up (issue 27, item 2): the forwarder
# ships the emulator's events to a small tmpfs while a ballast file fills it
# EPISODES times (then is deleted again), the file rotating by size all the
# while. Afterwards every line of every file must be one JSON record, and
# every id the emulator served (all acknowledged: the checkpoint counts
# them) must be there. Needs root (mount); skipped (77) without it.
# usage: jsonl_disk_full_test.sh FORWARDER EMULATOR [EPISODES]
source "$(dirname "$0")/lib.sh"
FWD=$1 EMU=$2 EPISODES=${3:-20} HERE=$(dirname "$0")
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to mount a tmpfs"; exit 77; }
zf_tmpdir
DISK=$ZF_TMP/disk
mkdir "$DISK"
mount -t tmpfs -o size=12m tmpfs "$DISK"
trap 'zf_cleanup_disk' EXIT
zf_cleanup_disk() {
  for pid in "${ZF_PIDS[@]:-}"; do [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  umount "$DISK" 2>/dev/null || umount -l "$DISK" 2>/dev/null || true
  zf_cleanup
}
fail() { echo "FAIL: $*"; tail -n 5 "$ZF_TMP/forwarder.log"; exit 1; }

EVENTS=8000
zf_start_emulator "$EMU" --events "$EVENTS" --seed 27 --rate-limit 0
curl -sf "$EMU_URL/_emulator/ids" >"$ZF_TMP/ids"
# 400 events/s: the run lasts ~20 s, across every episode. 256 KiB files:
# about 25 rotations, several of them while the disk is full.
export ZF_PIPELINE="sink_retry_initial: 50ms, sink_retry_max: 300ms"
zf_forwarder_config "$ZF_TMP/fwd.yaml" \
  "  - {type: jsonl, path: $DISK/out.jsonl, rotate_bytes: 262144, rotate_keep: 1000}" \
  "  page_size: 200
  rate_limit: {requests: 2, period: 1s}"
"$FWD" run --once --config "$ZF_TMP/fwd.yaml" 2>"$ZF_TMP/forwarder.log" &
fwd=$!; ZF_PIDS+=($fwd)

full=0
for i in $(seq "$EPISODES"); do
  sleep 0.2
  kill -0 "$fwd" 2>/dev/null || break
  # Leave less room than a batch takes (200 records, ~150 KiB): the sink's
  # next write runs out of space part way, in the middle of a record.
  leave=$(( (RANDOM % 16 + 1) * 4096 ))
  for try in 1 2 3 4 5; do  # the sink writes meanwhile: the free space may shrink under us
    avail=$(df --output=avail -B1 "$DISK" | tail -1 | tr -d ' ')
    [ "$avail" -gt "$leave" ] && fallocate -l $((avail - leave)) "$DISK/ballast" 2>/dev/null &&
      { full=$((full + 1)); break; }
  done
  sleep 0.4
  rm -f "$DISK/ballast"
done
echo "disk-full episodes: $full of $EPISODES"
[ "$full" -ge "$EPISODES" ] || fail "the forwarder ended before the episodes did, or the disk never filled"
timeout 120 tail --pid="$fwd" -f /dev/null || fail "the forwarder did not finish within 120 s"
wait "$fwd" || fail "forwarder exited $?"

failed=$(grep -c '"msg":"sink could not deliver a batch' "$ZF_TMP/forwarder.log" || true)
nospace=$(grep -c 'No space left' "$ZF_TMP/forwarder.log" || true)
echo "batches that failed on the full disk and were sent again: $failed (log lines naming ENOSPC: $nospace)"
[ "$failed" -gt 0 ] || fail "no write ever failed: the test did not test anything"
ls "$DISK" | sort -V | tr '\n' ' '; echo
/usr/bin/python3 - "$DISK" "$ZF_TMP/ids" "$ZF_TMP/checkpoint.json" <<'PY' || fail "corrupt lines or missing ids"
import collections, glob, json, sys
disk, ids_path, checkpoint = sys.argv[1:4]
expected = {l.strip() for l in open(ids_path) if l.strip()}
seen = collections.Counter()
bad = 0
files = sorted(glob.glob(disk + "/out.jsonl*"))
for path in files:
    data = open(path, "rb").read()
    if data and not data.endswith(b"\n"):
        bad += 1
        print(f"{path}: ends inside a line")
    for n, line in enumerate(data.split(b"\n")[:-1]):
        try:
            seen[json.loads(line)["event"]["id"]] += 1
        except (ValueError, KeyError) as e:
            bad += 1
            if bad < 5:
                print(f"{path}:{n + 1}: not one JSON record ({e}): {line[:120]!r}...")
acked = json.load(open(checkpoint))["events_delivered"]
missing = expected - set(seen)
print(f"files {len(files)}, lines {sum(seen.values())}, ids {len(seen)} of {len(expected)}, missing {len(missing)}, "
      f"corrupt lines {bad}, duplicated ids {sum(1 for c in seen.values() if c > 1)}, checkpoint acknowledged {acked}")
sys.exit(0 if bad == 0 and not missing and acked == len(expected) else 1)
PY
echo OK
