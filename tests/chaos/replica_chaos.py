#!/usr/bin/env python3
"""The replica chaos scenario of issue #30, outside CTest (minutes long).

Forwarder replicas with coordination share 30 emulated accounts (a few hot at
300 events/s, the rest low) through the test broker's consumer group and ship
them to its Kafka topic, for DURATION, while:
  - every ~PERIOD s a random replica is SIGKILLed and restarted 10 s later;
  - once, a replica is SIGSTOPped for more than two sessions, then SIGCONTed
    (a zombie);
  - the group scales from 3 replicas to 5, later down to 2 (SIGTERM);
  - every broker is down for 10 s.
Then it checks, printing each with its figures, and exits 1 when one fails:
  delivered   every id of every account listed before the cutoff is in the
              topic (read_committed, kcat);
  duplicates  counted and classified by the account's handoffs between the
              two copies' produce times (exactly_once: 0 expected);
  budget      from the emulator's per-account request logs: no 60 s window
              above the budget, no 429;
  exclusive   from the replicas' debug logs (a line per page request): per
              account, the spans of requests of two replica processes never
              overlap; a resumed zombie requests nothing before it is
              assigned again;
  failover    from each replica death (SIGKILL, SIGSTOP) to the next page
              request of each of its accounts by another process: p50, p99
              (target p99 <= session + 10 s);
  balance     after each rebalance settles: every account owned once,
              accounts per replica differ by at most 1;
  brokers     after the brokers-down window every account is owned again;
  exits       no replica exits by itself; SIGTERM exits 0.
Modes: --exactly-once (kafka sink exactly_once, positions in its checkpoint
topic, a checkpoint directory per replica slot, as a pod without a shared
volume) or plain (kafka sink without exactly_once, shared_checkpoints: one
checkpoint directory every replica uses).

usage: replica_chaos.py [--exactly-once] [--duration 20m] [--period 60]
                        [--session 6] [--seed N] [--build DIR] [--keep]
CHAOS_DURATION in the environment sets the default duration.
"""
import argparse
import datetime
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "kafka"))
from group_test_lib import _procs, broker_command, fail, start_broker, tmpdir  # noqa: E402


def seconds(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError("a duration such as 180, 90s, 3m or 20m: " + text)
    return float(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]


ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--exactly-once", action="store_true")
ap.add_argument("--duration", type=seconds, default=seconds(os.environ.get("CHAOS_DURATION", "20m")))
ap.add_argument("--period", type=seconds, default=60.0, help="seconds between chaos actions (~, jittered)")
ap.add_argument("--session", type=int, default=6, help="coordination.session_timeout in seconds")
ap.add_argument("--late-read-delay", type=int, default=90, help="seconds (a window's late read)")
ap.add_argument("--seed", type=int, default=int(time.time()))
ap.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
ap.add_argument("--keep", action="store_true", help="keep the work directory even when every check passed")
args = ap.parse_args()

FWD = os.path.join(args.build, "src/app/zendesk-forwarder")
EMU = os.path.join(args.build, "src/emulator/zendesk-emulator")
BROKER = os.path.join(args.build, "txn-broker/kafka-txn-mock-cluster")
for b in (FWD, EMU, BROKER):
    if not os.access(b, os.X_OK):
        fail(f"{b} is missing: build zendesk-forwarder, zendesk-emulator and kafka_txn_broker in {args.build}")
if not shutil.which("kcat"):
    fail("kcat is needed to read the topic back")

N, HOT, HOT_RATE, LIVE_RATE = 30, 3, 300, 0.5
SESSION = args.session
SETTLE_DELAY, POLL_INTERVAL, LATE = 2, 5, args.late_read_delay
BUDGET, BUDGET_WINDOW_MS = 50, 60_000
TOPIC, CTL = "zf-out", "zf.coordination"
MODE = "exactly_once" if args.exactly_once else "plain"
rng = random.Random(args.seed)
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SOURCES = [f"a{i}" for i in range(N)]


def ulid_ms(u):
    ms = 0
    for ch in u[:10]:
        ms = ms * 32 + CROCKFORD.index(ch)
    return ms


def say(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


tmp = tmpdir("zf-chaos-")
say(f"mode {MODE}, duration {args.duration:.0f} s, period {args.period:.0f} s, session {SESSION} s, "
    f"seed {args.seed}, work dir {tmp}")
control = os.path.join(tmp, "broker.fifo")
boot = start_broker(BROKER, [f"{CTL}:{N}:1", f"{TOPIC}:3:3", f"{TOPIC}-checkpoints:1:3"], tmp, control)

port_file = os.path.join(tmp, "emu.port")
# One HTTP worker per kept-alive connection: every replica keeps one per
# account it runs, a stopped one keeps its own.
emu = subprocess.Popen([EMU, "--accounts", str(N), "--events", "2000", "--span", "1h", "--live-rate", str(LIVE_RATE),
                        "--hot-accounts", str(HOT), "--hot-rate", str(HOT_RATE), "--rate-limit", str(BUDGET),
                        "--rate-window", "60s", "--threads", "400", "--port", "0", "--port-file", port_file],
                       stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "emulator.log"), "w"))
_procs.append(emu)
deadline = time.time() + 30
while not os.path.exists(port_file) or not open(port_file).read().strip():
    if time.time() > deadline or emu.poll() is not None:
        fail("the emulator did not start")
    time.sleep(0.05)
emu_url = "http://127.0.0.1:" + open(port_file).read().strip()


def emulator(path):
    return urllib.request.urlopen(emu_url + path, timeout=60).read().decode()


# The test broker keeps at most 100,000 messages or 5 MB per partition (older
# ones are deleted), so the topic is read from the start, as it is written,
# by one read_committed consumer for the whole run.
# kcat ends when every broker is down: one per partition, restarted after
# the last offset it printed.
consumed = os.path.join(tmp, "consumed.tsv")
consumer_restarts = []
consuming = threading.Event()
consuming.set()


def consume(partition, out):
    offset = "beginning"
    while consuming.is_set():
        kc = subprocess.Popen(["kcat", "-C", "-b", boot, "-t", TOPIC, "-p", str(partition), "-o", offset, "-q", "-u",
                               "-X", "isolation.level=read_committed", "-f", "%o\t%h\t%k\t%T\n"],
                              stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "kcat.log"), "a"), text=True)
        _procs.append(kc)
        for line in kc.stdout:
            o, _, rest = line.partition("\t")
            out.write(rest)
            offset = str(int(o) + 1)
        kc.wait()
        if consuming.is_set():
            consumer_restarts.append((partition, offset, kc.returncode))
            time.sleep(1)


consumed_file = open(consumed, "w", buffering=1)
consumers = [threading.Thread(target=consume, args=(p, consumed_file), daemon=True) for p in range(3)]
for c in consumers:
    c.start()

hot = [f"a{a['account']}" for a in json.loads(emulator("/_emulator/accounts"))["accounts"] if a["hot"]]
say(f"emulator: {N} accounts, hot at {HOT_RATE}/s: {hot}, the others {LIVE_RATE}/s; budget {BUDGET}/60 s")

with open(os.path.join(tmp, "accounts.yaml"), "w") as f:
    for i in range(N):
        f.write(f"- {{name: a{i}, account: a{i}, auth: {{token: emulator-token-{i}}}}}\n")
if not args.exactly_once:
    os.makedirs(os.path.join(tmp, "checkpoints"))


def config(slot):
    path = os.path.join(tmp, f"R{slot}.yaml")
    if os.path.exists(path):
        return path
    if args.exactly_once:  # positions in Kafka; the local directory is the pod's own disk
        checkpoints = os.path.join(tmp, f"R{slot}", "checkpoints")
        positions = ""
        sink = (f"  - {{type: kafka, brokers: \"{boot}\", topic: {TOPIC}, exactly_once: true, "
                f"checkpoint_topic: {TOPIC}-checkpoints, transaction_timeout: 10s}}\n")
    else:
        checkpoints = os.path.join(tmp, "checkpoints")
        positions = "  shared_checkpoints: true\n"
        sink = f"  - {{type: kafka, brokers: \"{boot}\", topic: {TOPIC}}}\n"
    with open(path, "w") as f:
        f.write(f"""defaults:
  type: zendesk_pull
  base_url: {emu_url}
  auth: {{type: api_token, email: agent@example.com}}
  start: 2h
  page_size: 2500
  settle_delay: {SETTLE_DELAY}s
  poll_interval: {POLL_INTERVAL}s
  late_read_delay: {LATE}s
  checkpoint: {{path: "{checkpoints}/{{source}}.json"}}
sources_from: accounts.yaml
coordination:
  enabled: true
  brokers: {boot}
  group: zf-chaos
  control_topic: {CTL}
  partitions: {N}
  replication_factor: 1
  session_timeout: {SESSION}s
  handoff_timeout: 3s
{positions}sinks:
{sink}log: {{level: debug}}
""")
    return path


LINE = re.compile(r'"ts":"([^"]+)Z".*"source":"(a\d+)"|"source":"(a\d+)".*"ts":"([^"]+)Z"')


def log_ms(ts):
    return int(datetime.datetime.fromisoformat(ts).replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


class Replica:
    """One forwarder process (an incarnation of a replica slot); its log is
    read incrementally into (ms, kind, source) events."""

    def __init__(self, slot, incarnation):
        self.slot, self.name = slot, f"R{slot}.{incarnation}"
        self.log = os.path.join(tmp, self.name + ".log")
        self.events = []  # (ms, "assigned" | "revoked" | "request", source)
        self.owned = set()
        self._offset = 0
        self._lock = threading.Lock()
        self.end_ms = None  # killed, or exited
        self.stopped_ms = self.cont_ms = None
        self.start_ms = int(time.time() * 1000)
        self.proc = subprocess.Popen([FWD, "run", "--config", config(slot)], stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT)
        _procs.append(self.proc)

    def read(self):
        with self._lock, open(self.log, "rb") as f:
            f.seek(self._offset)
            data = f.read()
            cut = data.rfind(b"\n") + 1
            self._offset += cut
            for raw in data[:cut].splitlines():
                line = raw.decode(errors="replace")
                if "requesting page" in line:
                    kind = "request"
                elif "source assigned: running" in line:
                    kind = "assigned"
                elif "source revoked: stopped and committed" in line:
                    kind = "revoked"
                else:
                    continue
                m = LINE.search(line)
                if not m:
                    continue
                ts, src = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
                self.events.append((log_ms(ts), kind, src))
                if kind == "assigned":
                    self.owned.add(src)
                elif kind == "revoked":
                    self.owned.discard(src)
        return self

    def alive(self):
        return self.end_ms is None and self.proc.poll() is None

    def tail(self, n=3):
        """Its last error lines (else its last lines)."""
        with open(self.log, errors="replace") as f:
            lines = f.readlines()
        errors = [x for x in lines if '"level":"error"' in x]
        return "".join(x[:400].rstrip() + "\n" for x in (errors or lines)[-n:])


replicas = []          # every incarnation, in start order
active = {}            # slot -> running Replica
incarnations = {}
deaths = []            # (ms, Replica, accounts owned, how)
handoffs_ms = {s: [] for s in SOURCES}  # a kill, stop, exit or revocation of the account's owner
balance_samples = []   # (what, counts, ok)
results = []           # (name, ok, text)
crashes = []


def check(name, ok, text):
    results.append((name, ok, text))
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {text}", flush=True)


def start(slot):
    incarnations[slot] = incarnations.get(slot, 0) + 1
    r = Replica(slot, incarnations[slot])
    replicas.append(r)
    active[slot] = r
    return r


def watch():
    """A replica that exited by itself is a failure: recorded, restarted."""
    for slot, r in list(active.items()):
        if r.stopped_ms is not None and r.cont_ms is None:
            continue  # stopped: not waited for (a stop is no exit)
        if r.end_ms is None and r.proc.poll() is not None:
            r.end_ms = int(time.time() * 1000)
            r.read()
            deaths.append((r.end_ms, r, set(r.owned), "exited %d" % r.proc.returncode))
            for s in r.owned:
                handoffs_ms[s].append(r.end_ms)
            crashes.append(f"{r.name} exited {r.proc.returncode} by itself; its log ends:\n{r.tail()}")
            say(f"UNEXPECTED: {r.name} exited {r.proc.returncode}; restarting slot {slot}")
            start(slot)


def sleep(s):
    end = time.time() + s
    while time.time() < end:
        watch()
        time.sleep(min(0.5, max(0.0, end - time.time())))


def running():
    return [r for r in active.values() if r.stopped_ms is None or r.cont_ms is not None]


def settled_state():
    rs = [r.read() for r in running()]
    sets = [r.owned for r in rs]
    every = [a for s in sets for a in s]
    covered = sorted(every) == sorted(SOURCES)
    return covered and all(sets), {r.name: len(r.owned) for r in rs}


def wait_settled(what, bound=None):
    """Every account owned by exactly one running replica, each running
    replica owning some, unchanged for one session. Returns the seconds it
    took (None when it did not within the bound) and records the balance."""
    bound = bound or 8 * SESSION + 40
    t0 = time.time()
    since, last = None, None
    while time.time() - t0 < bound:
        watch()
        ok, counts = settled_state()
        key = tuple(sorted((r.name, tuple(sorted(r.owned))) for r in running()))
        if ok and key == last:
            if time.time() - since >= SESSION:
                took = since - t0
                spread = max(counts.values()) - min(counts.values())
                balance_samples.append((what, counts, spread <= 1))
                say(f"settled after {what} in {took:.1f} s: {counts}" + ("" if spread <= 1 else "  UNBALANCED"))
                return took
        else:
            since, last = (time.time(), key) if ok else (None, None)
        time.sleep(0.5)
    ok, counts = settled_state()
    balance_samples.append((what, counts, False))
    say(f"NOT settled {bound:.0f} s after {what}: {counts}")
    return None


# ---- the run ----------------------------------------------------------------
for s in range(3):
    start(s)
wait_settled("start (3 replicas)")
t_run0 = time.time()
n_slots = max(5, int(args.duration // args.period) - 1)
special = {}
for frac, act in ((0.2, "zombie"), (0.4, "scale_up"), (0.55, "brokers_down"), (0.75, "scale_down")):
    k = min(n_slots - 1, max(0, round(frac * n_slots)))
    while k in special:
        k += 1
    special[k] = act
plan = [special.get(k, "kill") for k in range(n_slots)]
say("plan: " + ", ".join(plan))
zombie = None
brokers_down = None  # (down ms, up ms, seconds to owned again)
for k, act in enumerate(plan):
    due = t_run0 + args.period * (k + 1) + rng.uniform(-0.15, 0.15) * args.period
    sleep(max(0.0, due - time.time()))
    live = running()
    if act == "kill" and time.time() - t_run0 > args.duration:
        continue
    if act == "kill":
        r = rng.choice(live).read()
        t = int(time.time() * 1000)
        r.proc.send_signal(signal.SIGKILL)
        r.proc.wait()
        r.end_ms = t
        r.read()
        deaths.append((t, r, set(r.owned), "SIGKILL"))
        for s in r.owned:
            handoffs_ms[s].append(t)
        say(f"SIGKILL {r.name} (owned {len(r.owned)})")
        sleep(10)
        n = start(r.slot)
        say(f"restarted slot {r.slot} as {n.name}")
        wait_settled(f"kill of {r.name}")
    elif act == "zombie":
        r = rng.choice(live).read()
        zombie = r
        r.stopped_ms = int(time.time() * 1000)
        r.proc.send_signal(signal.SIGSTOP)
        deaths.append((r.stopped_ms, r, set(r.owned), "SIGSTOP"))
        for s in r.owned:
            handoffs_ms[s].append(r.stopped_ms)
        stop_s = 3 * SESSION + 6  # the test broker takes about two sessions to reassign
        say(f"SIGSTOP {r.name} (owned {len(r.owned)}) for {stop_s} s")
        wait_settled(f"stop of {r.name}", bound=stop_s)
        sleep(max(0.0, r.stopped_ms / 1000 + stop_s - time.time()))
        r.cont_ms = int(time.time() * 1000)
        r.proc.send_signal(signal.SIGCONT)
        say(f"SIGCONT {r.name} after {(r.cont_ms - r.stopped_ms) / 1000:.1f} s")
        wait_settled(f"resume of {r.name}")
    elif act == "scale_up":
        for s in range(3, 5):
            if s not in active:
                start(s)
        say(f"scale up to {len(active)}")
        wait_settled(f"scale up to {len(active)}")
    elif act == "scale_down":
        leaving = sorted(live, key=lambda r: -r.slot)[:max(0, len(live) - 2)]
        for r in leaving:
            r.read()
            t = int(time.time() * 1000)
            for s in r.owned:
                handoffs_ms[s].append(t)
            r.proc.send_signal(signal.SIGTERM)
        for r in leaving:
            try:
                rc = r.proc.wait(60)
            except subprocess.TimeoutExpired:
                rc = "no exit in 60 s"
            r.end_ms = int(time.time() * 1000)
            del active[r.slot]
            if rc != 0:
                crashes.append(f"{r.name}: SIGTERM (scale down) -> {rc}; its log ends:\n{r.tail()}")
        say(f"scale down to {len(active)} (SIGTERM {[r.name for r in leaving]})")
        wait_settled(f"scale down to {len(active)}")
    elif act == "brokers_down":
        t_down = time.time()
        broker_command(control, "down all")
        say("every broker down")
        sleep(10)
        broker_command(control, "up all")
        t_up = time.time()
        say("brokers up")
        took = wait_settled("brokers down 10 s")
        brokers_down = (t_down, t_up, took)
sleep(max(0.0, t_run0 + args.duration - time.time()))
wait_settled("end of chaos")
# What was listed up to here must be delivered: wait for settle, poll, a page.
cutoff_ms = int(time.time() * 1000) - 2000
say("waiting for the last windows to be read and delivered")
sleep(SETTLE_DELAY + 2 * POLL_INTERVAL + 20)
for r in list(active.values()):
    r.proc.send_signal(signal.SIGTERM)
for slot, r in list(active.items()):
    try:
        rc = r.proc.wait(60)
    except subprocess.TimeoutExpired:
        rc = "no exit in 60 s"
    r.end_ms = int(time.time() * 1000)
    r.read()
    if rc != 0:
        crashes.append(f"{r.name}: SIGTERM at the end -> {rc}; its log ends:\n{r.tail()}")
emu_accounts = json.loads(emulator("/_emulator/accounts"))
say("replicas stopped; checking")

# ---- checks ---------------------------------------------------------------
# delivered (read_committed): account -> [(id, produce ms)]
say("waiting for the consumer to read the rest")
last_size, still = -1, 0
while still < 5:
    size = os.path.getsize(consumed)
    still = still + 1 if size == last_size else 0
    last_size = size
    time.sleep(1)
consuming.clear()
for p in _procs:
    if p.args[0] == "kcat" and p.poll() is None:
        p.terminate()
for c in consumers:
    c.join(10)
consumed_file.close()
say(f"consumer: {len(consumer_restarts)} restarts after a kcat exit (every broker down)")
got = {}
for line in open(consumed, errors="replace"):
    headers, _, rest = line.rstrip("\n").partition("\t")
    key, _, ts = rest.partition("\t")
    m = re.search(r"zendesk-account=([^,]*)", headers)
    if m and key:
        got.setdefault(m.group(1), []).append((key, int(ts)))
total_msgs = sum(len(v) for v in got.values())

listed, missing = 0, {}
for i in range(N):
    ids = [x for x in emulator(f"/_emulator/ids?account={i}").split() if ulid_ms(x) < cutoff_ms]
    listed += len(ids)
    have = {k for k, _ in got.get(f"a{i}", [])}
    lost = [x for x in ids if x not in have]
    if lost:
        missing[f"a{i}"] = lost
check("delivered", not missing,
      f"{listed} ids listed before the cutoff over {N} accounts, {total_msgs} messages read read_committed, "
      f"{sum(len(v) for v in missing.values())} missing"

      + "".join(f"\n     {a}: {len(v)} missing, e.g. {v[:3]}" for a, v in sorted(missing.items())[:10]))

# Every start of an account's run is a handoff too (after a kill, a
# rebalance, a lease lapse): the new run resumes from the committed position.
for r in replicas:
    r.read()
    for ms, kind, src in r.events:
        if kind == "assigned":
            handoffs_ms[src].append(ms)
classes = {"late re-read by a new owner": 0, "in flight at a handoff or kill": 0, "unexplained": 0}
examples = {c: [] for c in classes}
dups = 0
for acct, msgs in got.items():
    first = {}
    for key, ts in sorted(msgs, key=lambda m: m[1]):
        if key not in first:
            first[key] = ts
            continue
        dups += 1
        t1 = first[key]
        near = [h for h in handoffs_ms.get(acct, []) if t1 - 30_000 <= h <= ts + 5_000]
        if near and ts - t1 >= 0.8 * LATE * 1000:
            c = "late re-read by a new owner"
        elif near:
            c = "in flight at a handoff or kill"
        else:
            c = "unexplained"
        classes[c] += 1
        if len(examples[c]) < 3:
            examples[c].append(f"{acct} {key} copies at +{(ts - t1) / 1000:.1f} s")
dup_text = f"{dups} ids delivered more than once (" + ", ".join(f"{c}: {n}" for c, n in classes.items()) + ")" + \
    "".join(f"\n     {c}: e.g. {e}" for c, e in examples.items() if e)
if args.exactly_once:
    check("duplicates (exactly_once: 0 expected)", dups == 0, dup_text)
else:
    check("duplicates (plain: only from handoffs)", classes["unexplained"] == 0, dup_text)

limited = [(a["account"], a["rate_limited"]) for a in emu_accounts["accounts"] if a["rate_limited"]]
worst = max(emu_accounts["accounts"], key=lambda a: a["max_requests_in_window"])
requests = sum(a["requests"] for a in emu_accounts["accounts"])
check("budget", not limited and worst["max_requests_in_window"] <= BUDGET,
      f"{requests} requests; most in any sliding 60 s window: {worst['max_requests_in_window']} (account "
      f"a{worst['account']}, budget {BUDGET}); 429s: {sum(n for _, n in limited)}"
      + (f" on accounts {limited}" if limited else ""))

# exclusive: per account, each process's ownership spans of requests
spans = {s: [] for s in SOURCES}
for r in replicas:
    r.read()
    cur = {}
    for ms, kind, src in r.events:
        if kind == "assigned":
            cur[src] = [None, None]
        elif kind == "request":
            span = cur.setdefault(src, [None, None])
            span[0] = ms if span[0] is None else span[0]
            span[1] = ms
        elif kind == "revoked" and src in cur:
            if cur[src][0] is not None:
                spans[src].append((cur[src][0], cur[src][1], r.name))
            del cur[src]
    for src, (a, b) in cur.items():
        if a is not None:
            spans[src].append((a, b, r.name))
overlaps, n_requests = [], sum(1 for r in replicas for e in r.events if e[1] == "request")
for src, ss in spans.items():
    ss.sort()
    for i, (a1, b1, r1) in enumerate(ss):
        for a2, b2, r2 in ss[i + 1:]:
            if a2 > b1:
                break
            if r1 != r2:
                overlaps.append(f"{src}: {r1} polled {a1}..{b1}, {r2} polled {a2}..{b2}")
zombie_text = ""
if zombie is not None:
    bad, assigned_after = [], set()
    for ms, kind, src in zombie.events:
        if ms < zombie.cont_ms:
            continue
        if kind == "assigned":
            assigned_after.add(src)
        elif kind == "revoked":
            assigned_after.discard(src)
        elif kind == "request" and src not in assigned_after:
            bad.append(f"{src} at +{(ms - zombie.cont_ms) / 1000:.2f} s")
    stalled = [e for e in zombie.events if zombie.stopped_ms <= e[0] < zombie.cont_ms and e[1] == "request"]
    overlaps += [f"zombie {zombie.name} requested {b} after SIGCONT before being assigned again" for b in bad]
    zombie_text = (f"; zombie {zombie.name}: stopped {(zombie.cont_ms - zombie.stopped_ms) / 1000:.1f} s, "
                   f"{len(bad)} requests after SIGCONT before a new assignment, {len(stalled)} logged while stopped")
check("exclusive polling", not overlaps,
      f"{n_requests} page requests in {len(replicas)} replica processes' logs, "
      f"{sum(len(v) for v in spans.values())} ownership spans, {len(overlaps)} overlaps" + zombie_text
      + "".join(f"\n     {o}" for o in overlaps[:10]))

# failover: death -> the next request of each account by another process
lat, never = [], []
for t, dead, owned, how in deaths:
    if how not in ("SIGKILL", "SIGSTOP"):
        continue  # a replica that exited by itself: counted under exits
    for src in owned:
        nxt = [ms for r in replicas if r is not dead for ms, kind, s in r.events if s == src and kind == "request" and ms > t]
        if nxt:
            lat.append((min(nxt) - t) / 1000.0)
        else:
            never.append(f"{src} after {how} of {dead.name}")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else float("nan")


target = SESSION + 10
p50, p99 = pct(lat, 50), pct(lat, 99)
check("failover", bool(lat) and not never and p99 <= target,
      f"{sum(d[3] in ('SIGKILL', 'SIGSTOP') for d in deaths)} deaths (SIGKILL, SIGSTOP), {len(lat)} accounts moved: "
      f"p50 {p50:.1f} s, p99 {p99:.1f} s, max {max(lat or [float('nan')]):.1f} s (target p99 <= {target} s = session + 10)"
      + (f"; never polled again: {never[:5]}" if never else ""))

unbalanced = [f"{w}: {c}" for w, c, ok in balance_samples if not ok]
check("balance", not unbalanced,
      f"{len(balance_samples)} settled states, {len(unbalanced)} with accounts per replica differing by more than 1 "
      "or not settled" + "".join(f"\n     {u}" for u in unbalanced))

if brokers_down is None:
    check("brokers down", False, "the brokers-down window was not reached (run longer)")
else:
    t_down, t_up, took = brokers_down
    check("brokers down", took is not None,
          f"every broker down {t_up - t_down:.1f} s; every account owned again, balanced, "
          + (f"{took:.1f} s after they came back" if took is not None else "NOT within the bound"))
check("exits", not crashes, f"{len(crashes)} unexpected exits" + "".join(f"\n     {c}" for c in crashes[:4]))

# Figures from the replicas' logs that explain the checks above.
notes = {"lease lapses": "membership lease lapsed", "librdkafka session timeouts": "Consumer group session timed out",
         "assigned sources that could not start": "cannot start an assigned source",
         "late reads without the first read's ids (duplicates)": "the ids a window's first read delivered are missing",
         "handoff overruns": "handoff_timeout"}
counts = {k: 0 for k in notes}
for r in replicas:
    with open(r.log, errors="replace") as f:
        for line in f:
            for k, needle in notes.items():
                if needle in line:
                    counts[k] += 1
print("log figures: " + ", ".join(f"{k}: {n}" for k, n in counts.items()) +
      f"; {len(replicas)} replica processes; consumer restarts: {len(consumer_restarts)}", flush=True)

failed = [n for n, ok, _ in results if not ok]
print(f"\nRESULT {MODE} {args.duration:.0f} s seed {args.seed}: " + ("PASS" if not failed else "FAIL: " + ", ".join(failed)),
      flush=True)
if not failed and not args.keep:
    shutil.rmtree(tmp, ignore_errors=True)
else:
    print(f"logs kept in {tmp}", flush=True)
sys.exit(1 if failed else 0)
