#!/usr/bin/env python3
"""What coordination (#30) relies on in the test broker's consumer groups,
with librdkafka's cooperative-sticky assignor, and how long each step takes
relative to session.timeout.ms (printed as MEASURE lines):
  1. a first member gets every partition;
  2. a second, then a third member join: only the partitions that move are
     revoked (the others stay put), and the split is even (+-1);
  3. a SIGKILLed member's partitions go to the others after the session timeout;
  4. a SIGSTOPped member (a zombie) loses its partitions to the others, and on
     SIGCONT it is told so (a lost or revoke event).
usage: consumer_group_test.py BROKER_BINARY GROUP_MEMBER_BINARY [SESSION_MS]"""
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from group_test_lib import Member, fail, start_broker, tmpdir, wait_for  # noqa: E402

broker_bin, member_bin = sys.argv[1], sys.argv[2]
session_ms = int(sys.argv[3]) if len(sys.argv) > 3 else 4000
session = session_ms / 1000.0
P = 12
TOPIC = "coord-ctl"
tmp = tmpdir("zf-group-")
boot = start_broker(broker_bin, ["%s:%d:1" % (TOPIC, P)], tmp)
members = {}


def start(name):
    members[name] = Member(name, [member_bin, boot, "zf-test-group", TOPIC, str(session_ms), name], tmp)


def owned(m):
    last = m.last("owned")
    return set() if last is None or last[3] == "-" else {int(p) for p in last[3].split(",")}


def split_ok(names):
    """Every partition owned by exactly one of `names`, counts within 1."""
    sets = [owned(members[n]) for n in names]
    every = [p for s in sets for p in s]
    counts = [len(s) for s in sets]
    return len(every) == P and set(every) == set(range(P)) and max(counts) - min(counts) <= 1


def measure(what, seconds):
    print("MEASURE %s: %.1f s (%.2f x session.timeout.ms %d)" % (what, seconds, seconds / session, session_ms), flush=True)


def check_incremental(name, before, since):
    """Only partitions that moved were revoked from `name`, none of them lost."""
    after = owned(members[name])
    revoked = set()
    for f in members[name].lines(since=since):
        if f[2] == "lost":
            fail("%s lost its assignment in a scale-up: %s" % (name, f))
        if f[2] == "revoke" and f[3] != "-":
            revoked |= {int(p) for p in f[3].split(",")}
    if revoked != before - after:
        fail("%s: revoked %s, but only %s moved (not incremental)" % (name, sorted(revoked), sorted(before - after)))
    if not after or not after <= before:
        fail("%s kept %s of %s: the partitions that stay must not move" % (name, sorted(after), sorted(before)))
    print("ok: %s kept %d partitions through the rebalance, revoked only the %d that moved" % (name, len(after), len(revoked)))


try:
    t0 = time.time()
    start("m1")
    took = wait_for("m1 to own every partition", lambda: split_ok(["m1"]), 30)
    measure("first member owns all %d partitions" % P, took)

    before1, t = owned(members["m1"]), time.time()
    start("m2")
    took = wait_for("an even split over m1, m2", lambda: split_ok(["m1", "m2"]), 6 * session + 10)
    measure("second member joined, split even", took)
    check_incremental("m1", before1, t)

    before1, before2, t = owned(members["m1"]), owned(members["m2"]), time.time()
    start("m3")
    took = wait_for("an even split over m1, m2, m3", lambda: split_ok(["m1", "m2", "m3"]), 6 * session + 10)
    measure("third member joined, split even", took)
    check_incremental("m1", before1, t)
    check_incremental("m2", before2, t)

    # A killed member: no LeaveGroup, the broker must notice the silence.
    t = time.time()
    members["m3"].signal(signal.SIGKILL)
    took = wait_for("m1, m2 to take over m3's partitions", lambda: split_ok(["m1", "m2"]), 6 * session + 10)
    measure("SIGKILLed member's partitions reassigned", took)
    if took < session:
        fail("reassigned after %.1f s, before the session timeout (%.1f s)?" % (took, session))

    # A zombie: stopped, it cannot heartbeat; the others take over, and once
    # resumed it must learn that it lost its partitions.
    zombie_had = owned(members["m2"])
    t = time.time()
    members["m2"].signal(signal.SIGSTOP)
    took = wait_for("m1 to take over the stopped m2's partitions", lambda: split_ok(["m1"]), 6 * session + 10)
    measure("SIGSTOPped member's partitions reassigned", took)
    time.sleep(0.5)
    t = time.time()
    members["m2"].signal(signal.SIGCONT)

    def told():
        return [f for f in members["m2"].lines(since=t) if f[2] in ("lost", "revoke")]
    took = wait_for("the resumed zombie m2 to be told it lost its partitions", told, 3 * session + 10)
    first = told()[0]
    measure("resumed zombie told (%s %s)" % (first[2], first[3]), took)
    gone = {int(p) for p in first[3].split(",")} if first[3] != "-" else set()
    if gone != zombie_had:
        fail("the zombie was told about %s, it owned %s" % (sorted(gone), sorted(zombie_had)))
    # Its first event after resuming must be the loss, never an assign of
    # what it still believed it owned.
    after = members["m2"].lines(since=t)
    if after[0][2] not in ("lost", "revoke"):
        fail("the resumed zombie's first event was %s, not the loss" % after[0])
    # And then it rejoins: the split becomes even again.
    took = wait_for("an even split over m1, m2 after the zombie rejoined", lambda: split_ok(["m1", "m2"]), 6 * session + 10)
    measure("resumed zombie rejoined, split even", took)
    for m in members.values():
        if m.alive:
            m.stop()
    print("PASS: consumer groups in the test broker (%.0f s)" % (time.time() - t0), flush=True)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
