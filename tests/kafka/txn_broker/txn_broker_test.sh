#!/usr/bin/env bash
# shellcheck disable=SC2046,SC2207  # value lists and pkg-config flags split on purpose
# txn_broker_test.sh MOCK_BINARY: transactions on the patched mock cluster
# (build.sh's kafka-txn-mock-cluster), seen by kcat as a real broker's
# consumers would see them.
#
#   1. one producer: commit 10, abort 10, commit 5, then 10 left open;
#      read_committed sees the 15 committed records and stops at the LSO,
#      read_uncommitted all 35; ListOffsets(latest) is the LSO / the HWM.
#   2. a second instance with the same transactional.id: init_transactions
#      aborts the open transaction (abort markers, still 15 committed) and
#      fences the first, whose commit then fails with a fatal _FENCED.
#   3. a third instance commits 5 more: 20 committed, 40 in all.
#   4. a fourth leaves 3 records open, a fifth fences it; the fourth's next
#      Produce is refused (fatal _FENCED) and nothing of it reaches the log.
# Exits non-zero on any mismatch, printing what it saw.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../../integration/lib.sh"
source "$HERE/../kafka.sh"

[ $# -eq 1 ] && [ -x "$1" ] || { echo "usage: $0 MOCK_BINARY" >&2; exit 2; }
MOCK=$1
TOPIC=txn
PARTS=3
TXN_ID=zf-txn-test
zf_tmpdir

# The producer, against the system librdkafka (what kcat uses too).
cc -O1 -Wall -o "$ZF_TMP/txn_producer" "$HERE/txn_producer.c" $(pkg-config --cflags --libs rdkafka)

mkfifo "$ZF_TMP/control"
zf_start_mock_cluster "$MOCK" --control "$ZF_TMP/control" --topic "$TOPIC:$PARTS:3"
echo "mock cluster at $BOOT"

FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

wait_ready() {  # PID FILE OUTPUT: until the producer PID has created FILE
  local deadline=$((SECONDS + 60))
  until [ -e "$2" ]; do
    if ! kill -0 "$1" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      echo "FAIL: a producer did not reach its open transaction:"; sed 's/^/    /' "$3"
      exit 1
    fi
    sleep 0.05
  done
}

# values LABEL N: LABEL-0..LABEL-(N-1)
values() { local i; for ((i = 0; i < $2; i++)); do echo "$1-$i"; done; }

consume() {  # ISOLATION: the values, one a line, sorted
  timeout 60 kcat -C -b "$BOOT" -t "$TOPIC" -o beginning -e -q -X isolation.level="$1" -X check.crcs=true -f '%s\n' | sort
}

expect_records() {  # WHAT ISOLATION EXPECTED_VALUES...
  local what=$1 iso=$2 got want
  shift 2
  got=$(consume "$iso") || { fail "$what: kcat ($iso) failed"; return; }
  want=$(printf '%s\n' "$@" | sort)
  if [ "$got" = "$want" ]; then
    echo "ok: $what: $iso shows $(grep -c . <<<"$got") records"
  else
    fail "$what: $iso shows $(grep -c . <<<"$got") records, expected $#"
    diff <(echo "$want") <(echo "$got") | sed 's/^/    /' || true
  fi
}

# kcat -Q runs a producer handle, which warns that isolation.level is a
# consumer property, but still sends it in ListOffsets (the two levels get
# different answers below).
expect_offsets() {  # WHAT ISOLATION "END_P0 END_P1 ...": ListOffsets(latest)
  local what=$1 iso=$2 want=$3 got="" p out
  for ((p = 0; p < PARTS; p++)); do
    out=$(timeout 30 kcat -Q -b "$BOOT" -t "$TOPIC:$p:-1" -X isolation.level="$iso" 2>&1 | grep -v CONFWARN) || true
    got+="${got:+ }$(sed -n 's/.* offset \(-\{0,1\}[0-9]*\).*/\1/p' <<<"$out" | head -1)"
  done
  if [ "$got" = "$want" ]; then
    echo "ok: $what: $iso end offsets $got"
  else
    fail "$what: $iso end offsets '$got', expected '$want' (last kcat -Q said: $out)"
  fi
}

# Offsets: record i goes to partition i % 3 and every transaction ends in a
# marker in each partition it wrote, so per partition (0 / 1 / 2):
#   c1 (10): 4/3/3 records + commit  -> ends at 5/4/4
#   a2 (10): 4/3/3 records + abort   -> 10/8/8
#   c3 (5):  2/2/1 records + commit  -> 13/11/10   = LSO while o4 is open
#   o4 (10): 4/3/3 records, open     -> 17/14/13   = high watermark
COMMITTED=($(values c1 10) $(values c3 5))
ALL=("${COMMITTED[@]}" $(values a2 10) $(values o4 10))

# --- 1. committed, aborted, committed, open ----------------------------------
"$ZF_TMP/txn_producer" "$BOOT" "$TOPIC" "$PARTS" "$TXN_ID" init commit:c1:10 abort:a2:10 commit:c3:5 \
  open:o4:10 ready:"$ZF_TMP/p1.open" wait:"$ZF_TMP/p1.go" commit-fenced >"$ZF_TMP/p1.out" 2>&1 &
P1=$!
ZF_PIDS+=("$P1")
wait_ready "$P1" "$ZF_TMP/p1.open" "$ZF_TMP/p1.out"
echo "producer 1: committed c1, aborted a2, committed c3, o4 open"

expect_records "open transaction" read_committed "${COMMITTED[@]}"
expect_records "open transaction" read_uncommitted "${ALL[@]}"
expect_offsets "open transaction" read_committed "13 11 10"
expect_offsets "open transaction" read_uncommitted "17 14 13"

# --- 2. a new instance fences the first and aborts its transaction ----------
if "$ZF_TMP/txn_producer" "$BOOT" "$TOPIC" "$PARTS" "$TXN_ID" init >"$ZF_TMP/p2.out" 2>&1; then
  echo "producer 2: init_transactions with the same transactional.id"
else
  fail "the second producer's init_transactions failed:"; sed 's/^/    /' "$ZF_TMP/p2.out"
fi
expect_records "after fencing" read_committed "${COMMITTED[@]}"
expect_records "after fencing" read_uncommitted "${ALL[@]}"
# o4's abort markers: one more offset in each partition, nothing open
expect_offsets "after fencing" read_committed "18 15 14"
expect_offsets "after fencing" read_uncommitted "18 15 14"

touch "$ZF_TMP/p1.go"
if wait "$P1"; then
  echo "ok: producer 1's commit after fencing: $(grep '^commit-fenced: got' "$ZF_TMP/p1.out")"
else
  fail "producer 1's commit after fencing did not fail with a fatal _FENCED error:"
  sed 's/^/    /' "$ZF_TMP/p1.out"
fi

# --- 3. the id still works: a third instance commits -----------------------
if "$ZF_TMP/txn_producer" "$BOOT" "$TOPIC" "$PARTS" "$TXN_ID" init commit:c5:5 >"$ZF_TMP/p3.out" 2>&1; then
  echo "producer 3: committed c5"
else
  fail "the third producer failed:"; sed 's/^/    /' "$ZF_TMP/p3.out"
fi
expect_records "after a new commit" read_committed "${COMMITTED[@]}" $(values c5 5)
expect_records "after a new commit" read_uncommitted "${ALL[@]}" $(values c5 5)
expect_offsets "after a new commit" read_committed "21 18 16"

# --- 4. a fenced producer's Produce is refused ------------------------------
"$ZF_TMP/txn_producer" "$BOOT" "$TOPIC" "$PARTS" "$TXN_ID" init open:o6:3 ready:"$ZF_TMP/p4.open" \
  wait:"$ZF_TMP/p4.go" produce-fenced:x7:3 >"$ZF_TMP/p4.out" 2>&1 &
P4=$!
ZF_PIDS+=("$P4")
wait_ready "$P4" "$ZF_TMP/p4.open" "$ZF_TMP/p4.out"
echo "producer 4: o6 open"
expect_offsets "o6 open" read_committed "21 18 16"
expect_offsets "o6 open" read_uncommitted "22 19 17"
if "$ZF_TMP/txn_producer" "$BOOT" "$TOPIC" "$PARTS" "$TXN_ID" init >"$ZF_TMP/p5.out" 2>&1; then
  echo "producer 5: init_transactions with the same transactional.id"
else
  fail "the fifth producer's init_transactions failed:"; sed 's/^/    /' "$ZF_TMP/p5.out"
fi
touch "$ZF_TMP/p4.go"
if wait "$P4"; then
  echo "ok: producer 4's produce after fencing: $(grep '^produce-fenced: [0-9]' "$ZF_TMP/p4.out")"
else
  fail "producer 4's produce after fencing was not refused as fenced:"
  sed 's/^/    /' "$ZF_TMP/p4.out"
fi
expect_records "after the fenced produce" read_committed "${COMMITTED[@]}" $(values c5 5)
expect_records "after the fenced produce" read_uncommitted "${ALL[@]}" $(values c5 5) $(values o6 3)
expect_offsets "after the fenced produce" read_committed "23 20 18"
expect_offsets "after the fenced produce" read_uncommitted "23 20 18"

if [ "$FAILS" -ne 0 ]; then
  echo "txn_broker_test: $FAILS check(s) failed (mock log: $ZF_TMP/mock.log)"
  ZF_KEEP_TMP=1
  exit 1
fi
echo "txn_broker_test: all checks passed"
