#!/usr/bin/env python3
"""Two forwarder replicas with coordination (#30) share six emulated accounts
through the test broker's consumer group:
  - both join: each runs 3 of the 6 accounts (its log's assigned - revoked);
  - one is SIGKILLed: the other runs all 6 within 2 sessions + 10 s
    (takeover time printed);
  - a third replica joins: the survivor hands 3 accounts over (revoked:
    stopped, drained, committed) and the newcomer resumes them;
  - every history id of every account is delivered (the two replicas' jsonl
    together: at least once; the duplicates are counted and printed);
  - a zombie: the newcomer SIGSTOPped past its session; the survivor runs all 6
    within 2 sessions + 10 s (with exactly_once, opening each account's own
    transactional id, which fences the zombie), then the zombie resumes;
  - SIGTERM: the replicas revoke (stop, drain, commit) their accounts and exit 0.
Positions: shared_checkpoints (one checkpoint directory both replicas use).
  - no two replicas poll one account at the same time: from the logs (debug:
    a line per page request), every request of a replica falls inside its
    ownership of the account (assigned .. revoked, or its SIGKILL), and
    those ownerships do not overlap between replicas.
With --exactly-once: one kafka sink with exactly_once into the test broker,
positions only in its checkpoint topic (each replica its own checkpoint
directory), read back read_committed: every id exactly once.
usage: forwarder_coordination_test.py FORWARDER EMULATOR BROKER [--exactly-once]"""
import datetime
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kafka"))
from group_test_lib import _procs, fail, start_broker, tmpdir  # noqa: E402

fwd_bin, emu_bin, broker_bin = sys.argv[1:4]
EXACTLY_ONCE = "--exactly-once" in sys.argv[4:]
N, SESSION_S, TOPIC = 6, 4, "zf.coordination"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid_ms(u):
    ms = 0
    for ch in u[:10]:
        ms = ms * 32 + CROCKFORD.index(ch)
    return ms


tmp = tmpdir("zf-coord-fwd-")
boot = start_broker(broker_bin, ["%s:%d:1" % (TOPIC, N)] + (["zf-out:3:3", "zf-out-checkpoints:1:3"] if EXACTLY_ONCE else []),
                    tmp)

port_file = os.path.join(tmp, "emu.port")
emu = subprocess.Popen([emu_bin, "--accounts", str(N), "--events", "2000", "--span", "2h", "--live-rate", "1",
                        "--port", "0", "--port-file", port_file],
                       stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "emulator.log"), "w"))
_procs.append(emu)
deadline = time.time() + 30
while not os.path.exists(port_file) or not open(port_file).read().strip():
    if time.time() > deadline or emu.poll() is not None:
        fail("the emulator did not start")
    time.sleep(0.05)
emu_url = "http://127.0.0.1:" + open(port_file).read().strip()
if not EXACTLY_ONCE:
    os.makedirs(os.path.join(tmp, "checkpoints"))
with open(os.path.join(tmp, "accounts.yaml"), "w") as f:
    for i in range(N):
        f.write(f"- {{name: a{i}, account: a{i}, auth: {{token: emulator-token-{i}}}}}\n")


def config(name):
    path = os.path.join(tmp, name + ".yaml")
    if EXACTLY_ONCE:  # positions in Kafka only: no checkpoint file is shared
        checkpoints = os.path.join(tmp, name, "checkpoints")
        os.makedirs(checkpoints)
        positions = ""
        sink = (f"  - {{type: kafka, brokers: \"{boot}\", topic: zf-out, exactly_once: true, "
                f"checkpoint_topic: zf-out-checkpoints, transaction_timeout: 10s}}\n")
    else:
        checkpoints = os.path.join(tmp, "checkpoints")
        positions = "  shared_checkpoints: true\n"
        sink = f"  - type: jsonl\n    path: {tmp}/out-{name}.jsonl\n"
    with open(path, "w") as f:
        f.write(f"""defaults:
  type: zendesk_pull
  base_url: {emu_url}
  auth: {{type: api_token, email: agent@example.com}}
  start: 3h
  page_size: 100
  rate_limit: {{requests: 10, period: 10s}}  # a page a second: the kill lands mid catch-up
  settle_delay: 2s
  poll_interval: 2s
  checkpoint: {{path: "{checkpoints}/{{source}}.json"}}
sources_from: accounts.yaml
coordination:
  enabled: true
  brokers: {boot}
  group: zf-coord-test
  control_topic: {TOPIC}
  partitions: {N}
  replication_factor: 1
  session_timeout: {SESSION_S}s
  handoff_timeout: 3s
{positions}sinks:
{sink}log: {{level: debug}}
""")
    return path


class Replica:
    def __init__(self, name):
        self.name = name
        self.log = os.path.join(tmp, name + ".log")
        self.proc = subprocess.Popen([fwd_bin, "run", "--config", config(name)], stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT)
        _procs.append(self.proc)

    def owned(self):
        """Sources assigned and not revoked since, from the log."""
        owned = set()
        for line in open(self.log, errors="replace"):
            m = re.search(r'"source":"(a\d+)"', line)
            if not m:
                continue
            if "source assigned: running" in line:
                owned.add(m.group(1))
            elif "source revoked: stopped and committed" in line:
                owned.discard(m.group(1))
        return owned

    def timeline(self, end_ms, stopped_ms=None):
        """Per source: ownership intervals [assigned, revoked or end_ms] and page request times (ms). A
        replica stopped (SIGSTOP) at stopped_ms owns nothing from then until it is assigned again: it logs
        its revocation only once resumed."""
        owned, requests = {}, {}
        for line in open(self.log, errors="replace"):
            m = re.search(r'"source":"(a\d+)"', line)
            t = re.search(r'"ts":"([^"]+)Z"', line)
            if not m or not t:
                continue
            src = m.group(1)
            ms = int(datetime.datetime.fromisoformat(t.group(1)).replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
            if "source assigned: running" in line:
                owned.setdefault(src, []).append([ms, end_ms])
            elif "source revoked: stopped and committed" in line:
                owned[src][-1][1] = ms
            elif "requesting page" in line:
                requests.setdefault(src, []).append(ms)
        if stopped_ms is not None:
            for spans in owned.values():
                for span in spans:
                    if span[0] <= stopped_ms < span[1]:
                        span[1] = stopped_ms
        return owned, requests


def wait_for(what, cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        for r in replicas:
            if r.proc.poll() is not None and r is not killed:
                fail(f"replica {r.name} exited ({r.proc.returncode}) while waiting for {what}; see {r.log}")
        time.sleep(0.1)
    fail(f"{what} not within {timeout} s: " + ", ".join(f"{r.name} owns {sorted(r.owned())}" for r in replicas))


killed = None
replicas = [Replica("A"), Replica("B")]
# Two members: 6 partitions split 3/3 (cooperative rounds: a few sessions).
wait_for("a 3/3 split", lambda: all(len(r.owned()) == 3 for r in replicas)
         and not (replicas[0].owned() & replicas[1].owned()), 6 * SESSION_S + 15)
print("split:", {r.name: sorted(r.owned()) for r in replicas}, flush=True)
time.sleep(2)  # both are fetching

killed = replicas[0]
split_of_killed = killed.owned()
kill_t = time.time()
killed.proc.send_signal(signal.SIGKILL)
killed.proc.wait()
survivor = replicas[1]
bound = 2 * SESSION_S + 10
wait_for("the survivor owning all 6", lambda: len(survivor.owned()) == N, bound + 5)
takeover = time.time() - kill_t
print(f"takeover: {takeover:.1f} s after SIGKILL (bound {bound} s: 2 sessions + 10 s)", flush=True)
if takeover > bound:
    fail(f"takeover took {takeover:.1f} s, more than {bound} s")


# A newcomer: cooperative rebalance moves 3 accounts from the survivor.
join_t = time.time()
replicas.append(Replica("C"))
newcomer = replicas[2]
wait_for("a 3/3 split with the newcomer", lambda: len(survivor.owned()) == 3 and len(newcomer.owned()) == 3,
         4 * SESSION_S + 15)
print(f"handoff to a newcomer: 3/3 after {time.time() - join_t:.1f} s: "
      f"{survivor.name} {sorted(survivor.owned())}, {newcomer.name} {sorted(newcomer.owned())}", flush=True)


# A zombie: the newcomer stopped (SIGSTOP) past its session. The survivor
# takes its accounts over within 2 sessions + 10 s (its checkpoint files are
# not locked against it: the group and the lease keep one owner); with
# exactly_once, opening each one's transactional id
# (zendesk-forwarder-<source>) fences the zombie's producers, so when the
# zombie resumes it writes nothing more for them (exactly once below).
zombie = newcomer
zombie_split = zombie.owned()
stop_t = time.time()
zombie.proc.send_signal(signal.SIGSTOP)
wait_for("the survivor owning all 6 while the newcomer is stopped", lambda: len(survivor.owned()) == N,
         2 * SESSION_S + 10)
print(f"zombie: the survivor took {sorted(zombie_split)} over {time.time() - stop_t:.1f} s after SIGSTOP "
      f"(bound {2 * SESSION_S + 10} s)", flush=True)
if EXACTLY_ONCE:
    ids = re.findall(r'"transactional_id":"([^"]+)"', open(survivor.log, errors="replace").read())
    for src in zombie_split:
        if f"zendesk-forwarder-{src}" not in ids:
            fail(f"the survivor opened no transactional id zendesk-forwarder-{src} for {src} (it has {sorted(set(ids))})")
killed = zombie  # may exit: a fenced zombie stops
zombie.proc.send_signal(signal.SIGCONT)
time.sleep(SESSION_S)
text = open(zombie.log, errors="replace").read()
outcome = ("exited %d" % zombie.proc.returncode if zombie.proc.poll() is not None else "running") + \
    ("; fenced" if "fenced" in text else "") + ("; lease lapsed" if "lease" in text else "")
print(f"zombie resumed: {outcome}", flush=True)


def delivered_kafka():
    """The topic read_committed (kcat): account (header) -> ids."""
    out = subprocess.run(["kcat", "-C", "-b", boot, "-t", "zf-out", "-o", "beginning", "-e", "-q",
                          "-X", "isolation.level=read_committed", "-f", "%h\t%k\n"],
                         capture_output=True, text=True, timeout=60).stdout
    got = {}
    for line in out.splitlines():
        headers, _, key = line.partition("\t")
        m = re.search(r"zendesk-account=([^,]*)", headers)
        if m and key:
            got.setdefault(m.group(1), []).append(key)
    return got


def delivered():
    if EXACTLY_ONCE:
        return delivered_kafka()
    got = {}
    for r in replicas:
        for acct, ids in delivered_by(r).items():
            got.setdefault(acct, []).extend(ids)
    return got


def delivered_by(r):
    got = {}
    if EXACTLY_ONCE:
        return got
    out = os.path.join(tmp, f"out-{r.name}.jsonl")
    if not os.path.exists(out):
        return got
    with open(out, "rb") as f:
        for line in f:
            i = line.find(b'"event":{"id":"')
            j = line.find(b'"zendesk":{"account":"')
            if i < 0 or j < 0:
                continue
            k = j + 22
            got.setdefault(line[k:line.index(b'"', k)].decode(), []).append(line[i + 15:i + 41].decode())
    return got


start_ms = int(kill_t * 1000) - 60_000  # history (and early live) ids: before this, all must be there
history = {}
for n in range(N):
    ids = urllib.request.urlopen(f"{emu_url}/_emulator/ids?account={n}", timeout=10).read().decode().split()
    history[f"a{n}"] = [x for x in ids if ulid_ms(x) < start_ms]


def missing():
    got = delivered()
    return sum(len(set(ids) - set(got.get(a, []))) for a, ids in history.items())


wait_for("every history id delivered", lambda: missing() == 0, 60)
got = delivered()
total = sum(len(v) for v in history.values())
dups = sum(len(v) - len(set(v)) for v in got.values())
if not EXACTLY_ONCE:
    moved = sum(len(v) for a, v in delivered_by(survivor).items() if a in split_of_killed)
    print(f"the survivor delivered {moved} events of the killed replica's accounts {sorted(split_of_killed)} "
          "(it resumed them from their checkpoints)", flush=True)
    got_c = sum(len(v) for v in delivered_by(newcomer).values())
    print(f"the newcomer delivered {got_c} events of the accounts handed to it", flush=True)
else:
    if dups:
        fail(f"{dups} ids delivered twice under read_committed with exactly_once")
    resumed = sum("position from the kafka checkpoint topic" in line for line in open(survivor.log, errors="replace"))
    if resumed < len(split_of_killed):
        fail(f"the survivor resumed only {resumed} accounts from the checkpoint topic")
    print(f"the survivor resumed {resumed} accounts from the kafka checkpoint topic (no shared file)", flush=True)
print(f"delivered: all {total} history ids of {N} accounts; {dups} delivered twice (batches in flight at the kill)",
      flush=True)

# No account polled by two replicas at once.
far = int(time.time() * 1000) + 3_600_000
timelines = {replicas[0].name: replicas[0].timeline(int(kill_t * 1000)), survivor.name: survivor.timeline(far),
             newcomer.name: newcomer.timeline(far, int(stop_t * 1000))}
checked = 0
for r, (owned, requests) in timelines.items():
    for src, times in requests.items():
        for ms in times:
            if not any(a <= ms <= b for a, b in owned.get(src, [])):
                fail(f"replica {r} requested a page of {src} at {ms} outside its ownership {owned.get(src)}")
            checked += 1
for n in range(N):
    src = f"a{n}"
    spans = sorted((a, b, r) for r, (owned, _) in timelines.items() for a, b in owned.get(src, []))
    for (a1, b1, r1), (a2, b2, r2) in zip(spans, spans[1:]):
        if r1 != r2 and a2 < b1:
            fail(f"{src} owned by {r1} [{a1}, {b1}] and {r2} [{a2}, {b2}] at once")
print(f"no overlap: {checked} page requests, each inside its replica's ownership; ownerships disjoint", flush=True)

for r in (survivor, newcomer):
    r.proc.send_signal(signal.SIGTERM)
for r in (survivor, newcomer):
    try:
        rc = r.proc.wait(30)
    except subprocess.TimeoutExpired:
        fail(f"replica {r.name} did not stop within 30 s of SIGTERM")
    if rc != 0:
        fail(f"replica {r.name} exited {rc} after SIGTERM; see {r.log}")
    if len(r.owned()) != 0:
        fail(f"replica {r.name} stopped without revoking {sorted(r.owned())}")
print("ok: SIGTERM revoked (stopped, drained, committed) every source, exit 0", flush=True)
shutil.rmtree(tmp, ignore_errors=True)  # kept when a check failed, for its logs
