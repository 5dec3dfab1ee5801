"""Helpers for tests that run consumer-group members against the test broker
(kafka-txn-mock-cluster): start it and member processes, read their event
lines ("<unix ms> <name> <event> <args>") on threads, wait for conditions.
Every process started is killed at exit."""
import atexit
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

_procs = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGCONT)
                p.kill()
            except ProcessLookupError:
                pass
    for p in _procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def start_broker(binary, topics, tmp, control=None):
    """Starts the broker with `topics` (NAME:PARTITIONS:REPLICATION) and, with
    `control`, its command FIFO there; returns its bootstrap."""
    boot = os.path.join(tmp, "bootstrap")
    log = open(os.path.join(tmp, "broker.log"), "w")
    args = [binary, "--brokers", "3", "--bootstrap-file", boot] + (["--control", control] if control else [])
    for t in topics:
        args += ["--topic", t]
    _procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log))
    deadline = time.time() + 30
    while not os.path.exists(boot):
        if time.time() > deadline:
            fail("the broker wrote no bootstrap file in 30 s")
        time.sleep(0.05)
    return open(boot).read().strip()


class Member:
    """One member process; `events` holds (receive time, fields) per line."""

    def __init__(self, name, args, tmp, env=None):
        self.name = name
        self.events = []
        self.lock = threading.Lock()
        self.err = open(os.path.join(tmp, name + ".err"), "a")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.err, text=True, bufsize=1,
                                     env=dict(os.environ, **(env or {})))
        _procs.append(self.proc)
        self.alive = True
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            fields = line.split()
            if len(fields) >= 3:
                with self.lock:
                    self.events.append((time.time(), fields))

    def lines(self, event=None, since=0.0):
        with self.lock:
            return [f for t, f in self.events if t >= since and (event is None or f[2] == event)]

    def last(self, event):
        got = self.lines(event)
        return got[-1] if got else None

    def signal(self, sig):
        os.kill(self.proc.pid, sig)
        if sig == signal.SIGKILL:
            self.proc.wait()
            self.alive = False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.alive = False


def broker_command(control, line):
    """Writes one command (`down all`, `up all`...) to the broker's FIFO."""
    fd = os.open(control, os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, (line + "\n").encode())
    os.close(fd)


def wait_for(what, cond, timeout):
    """Polls cond() every 50 ms; returns the seconds it took, fails after timeout."""
    t0 = time.time()
    while True:
        got = cond()
        if got:
            return time.time() - t0
        if time.time() - t0 > timeout:
            fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.05)


def tmpdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)
