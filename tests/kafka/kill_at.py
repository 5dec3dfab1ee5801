#!/usr/bin/env python3
"""SIGKILLs a forwarder at a chosen moment of its late reads; prints the moment.

usage: kill_at.py MODE PID CHECKPOINT LOG LOG_OFFSET LATE_READ_DELAY_S TIMEOUT_S
  retire  as soon as an id file of <CHECKPOINT>.ids/ is removed (a late read
          retired its window: the moment its position must already be in
          the Kafka transaction), after 0-30 ms; armed once LOG, from byte
          LOG_OFFSET on, says the source opened its checkpoint (opening
          removes the files of windows done with: not a late read)
  due     within the second the oldest window awaiting a late read falls
          due (its end + LATE_READ_DELAY_S, read from the checkpoint file)
  random  at a random moment, 0.5 to TIMEOUT_S seconds after the start
Whatever the mode, the process is killed after TIMEOUT_S ("timeout").
"""
import json
import os
import random
import signal
import sys
import time


def ids(directory):
    try:
        return {n for n in os.listdir(directory) if n.endswith(".ids")}
    except FileNotFoundError:
        return set()


def oldest_due(checkpoint, delay):
    try:
        with open(checkpoint) as f:
            awaiting = json.load(f)["awaiting_late_read"]
    except (OSError, ValueError, KeyError):
        return None
    return awaiting[0][1] + delay if awaiting else None


def opened(log, offset):
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            text = f.read()
    except OSError:
        return False
    return b'"msg":"resuming from checkpoint"' in text or b'"msg":"no checkpoint yet' in text


def main():
    mode, pid, checkpoint, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    offset, delay, timeout = int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
    start = time.time()
    deadline = start + timeout
    moment = "timeout"
    if mode == "random":
        time.sleep(random.uniform(0.5, timeout))
        moment = "random"
    elif mode == "retire":
        while time.time() < deadline and not opened(log, offset):
            time.sleep(0.01)
        time.sleep(0.1)
        seen = ids(checkpoint + ".ids")
        while time.time() < deadline:
            now = ids(checkpoint + ".ids")
            if seen - now:
                time.sleep(random.uniform(0, 0.03))
                moment = "retire"
                break
            seen |= now
            time.sleep(0.002)
    elif mode == "due":
        while time.time() < deadline:
            due = oldest_due(checkpoint, delay)
            if due is not None and due > start + 1 and time.time() >= due:
                time.sleep(random.uniform(0, 1))
                moment = "due"
                break
            time.sleep(0.01)
    else:
        sys.exit("unknown mode " + mode)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        moment = "exited"
    print(moment)


main()
