#!/usr/bin/python3
"""Many-accounts benchmark (issue #29): one forwarder with N pull sources
against one emulator serving N accounts (zendesk-emulator --accounts N),
each with its own credentials, budget (50 requests a minute, 429 beyond)
and data: history_span of history, then a live tail where hot_share of
the accounts run at hot_rate events/s and the others at live_rate.

The config is written as an operator with many accounts would: a
`defaults:` block (base_url, auth, checkpoint path with {source}) and
`sources_from:` a file of N short entries; a jsonl sink; every other
setting is the forwarder's default.

Per N and per binary (FORWARDER, and BASELINE in the same run, one after
the other so they never share the two cores), from the start of the
forwarder:
  - catch-up: until the emulator has served every account the page that
    holds its last history event (bounded by --catchup-timeout);
    threads, open files and VmHWM sampled meanwhile (peak RSS);
  - steady: after --settle seconds, --steady seconds of CPU (utime+stime)
    against the events the emulator served meanwhile (us per event), and
    each account's requests in that time (per minute);
  - end: VmRSS (steady RSS), threads, open files; then SIGTERM;
  - correctness: each account's jsonl ids against the emulator's
    (/_emulator/ids?account=i): missing = ids the forwarder should have
    had (at or before the newest id it delivered for that account, or
    older than settle_delay + poll_interval + 15 s before the stop) and
    did not deliver; duplicates = ids delivered more than once;
  - from the emulator's request log: requests per account per minute, the
    most any account sent in one 60 s window (sliding), 429s, and each
    account's first page after the forwarder's start (max).
With --kill9, the forwarder is SIGKILLed when half of the history has been
served and started again at once; the measurements span both processes.

usage: bench_accounts.py --forwarder F --emulator E [--baseline F0]
                         [--accounts "10 100 1000"] [--steady 60] ...
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def http_get(url, timeout=60):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def ulid_ms(u):
    ms = 0
    for ch in u[:10]:
        ms = ms * 32 + CROCKFORD.index(ch)
    return ms


def proc_status(pid):
    """VmRSS, VmHWM (KiB), threads, open files of pid, or None when gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None
    get = lambda k: int(re.search(rf"^{k}:\s+(\d+)", text, re.M).group(1))
    return {"rss": get("VmRSS"), "hwm": get("VmHWM"), "threads": get("Threads"), "fds": fds}


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime
    except (FileNotFoundError, ProcessLookupError):
        return None


class Run:
    """One binary against one emulator of N accounts."""

    def __init__(self, args, label, binary, n, workdir):
        self.a, self.label, self.binary, self.n = args, label, binary, n
        self.dir = os.path.join(workdir, f"{label}-{n}")
        os.makedirs(os.path.join(self.dir, "checkpoints"))
        self.procs = []
        self.row = {"binary": label, "accounts": n, "notes": []}
        self.peak = {"hwm": 0, "threads": 0, "fds": 0}

    # -- processes ---------------------------------------------------------
    def start_emulator(self):
        a = self.a
        port_file = os.path.join(self.dir, "emu.port")
        cmd = [a.emulator, "--accounts", str(self.n), "--seed", str(a.seed), "--span", a.history,
               "--history-rate", str(a.history_rate)] + (
                  ["--hot-history-rate", str(a.hot_history_rate)] if a.hot_history_rate >= 0 else []) + [
               "--hot-accounts", a.hot_share, "--hot-rate", str(a.hot_rate),
               "--live-rate", str(a.live_rate), "--port", "0", "--port-file", port_file]
        self.emu = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(self.dir, "emulator.log"), "w"))
        self.procs.append(self.emu)
        deadline = time.time() + 60
        while not os.path.exists(port_file):
            if time.time() > deadline or self.emu.poll() is not None:
                raise RuntimeError("the emulator did not start: " + open(os.path.join(self.dir, "emulator.log")).read())
            time.sleep(0.05)
        self.emu_url = "http://127.0.0.1:" + open(port_file).read().strip()

    def write_config(self):
        accounts = os.path.join(self.dir, "accounts.yaml")
        with open(accounts, "w") as f:
            for i in range(self.n):
                # account: the label in each event (zendesk.account), so the
                # jsonl tells accounts apart; the token tells the emulator.
                f.write(f"- {{name: a{i}, account: a{i}, auth: {{token: emulator-token-{i}}}}}\n")
        self.out = os.path.join(self.dir, "out.jsonl")
        extra = "".join(f"  {line}\n" for line in self.a.source_setting)
        self.config = os.path.join(self.dir, "forwarder.yaml")
        with open(self.config, "w") as f:
            f.write(f"""# {self.n} accounts: shared settings once, accounts from a file.
defaults:
  type: zendesk_pull
  base_url: {self.emu_url}
  auth: {{type: api_token, email: agent@example.com}}
  start: {self.a.start}
  checkpoint: {{path: "{self.dir}/checkpoints/{{source}}.json"}}
{extra}sources_from: accounts.yaml
sinks:
  - type: jsonl
    path: {self.out}
metrics:
  listen: 127.0.0.1:0
""")

    def start_forwarder(self):
        log = open(os.path.join(self.dir, "forwarder.log"), "a")
        p = subprocess.Popen([self.binary, "run", "--config", self.config], stdout=log, stderr=log)
        self.procs.append(p)
        self.fwd = p
        return p

    def stop(self, p, timeout=60):
        if p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.row["notes"].append(f"did not stop within {timeout} s of SIGTERM (killed)")
            p.kill()
            p.wait()

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    # -- measurements ------------------------------------------------------
    def sample(self):
        s = proc_status(self.fwd.pid)
        if s:
            for k in self.peak:
                self.peak[k] = max(self.peak[k], s[k])
        return s

    def accounts(self):
        return json.loads(http_get(self.emu_url + "/_emulator/accounts"))

    def catch_up(self):
        a = self.a
        timeout = a.catchup_timeout if a.catchup_timeout > 0 else 60 + 0.3 * self.n
        self.t0 = time.time()
        self.t0_ms = int(self.t0 * 1000)
        self.start_forwarder()
        killed = False
        last_poll = 0
        while True:
            time.sleep(0.25)
            if self.fwd.poll() is not None:
                tail = open(os.path.join(self.dir, "forwarder.log")).read().strip().splitlines()[-1:]
                self.row["notes"].append(f"exited {self.fwd.returncode} during catch-up: {tail[0][:200] if tail else ''}")
                return False
            self.sample()
            if time.time() - last_poll < 1.0:
                continue
            last_poll = time.time()
            acc = self.accounts()["accounts"]
            done = [x["history_done_ms"] for x in acc]
            if a.kill9 and not killed:
                served = sum(min(x["events_served"], x["history_events"]) for x in acc)
                total = sum(x["history_events"] for x in acc)
                if served >= total / 2:
                    s = self.sample()
                    os.kill(self.fwd.pid, signal.SIGKILL)
                    self.fwd.wait()
                    killed = True
                    self.hwm_before_kill = s["hwm"] if s else 0
                    self.row["notes"].append(
                        f"SIGKILL at {time.time() - self.t0:.1f} s ({100 * served / total:.0f}% of history served, "
                        f"{sum(d >= 0 for d in done)}/{self.n} accounts caught up); restarted")
                    self.start_forwarder()
                    continue
            if all(d >= 0 for d in done):
                self.row["catchup_s"] = (max(done) - self.t0_ms) / 1000
                s = self.sample()
                self.row["peak_rss_mib"] = max(s["hwm"], getattr(self, "hwm_before_kill", 0)) / 1024
                return True
            if time.time() - self.t0 > timeout:
                s = self.sample()
                self.row["peak_rss_mib"] = s["hwm"] / 1024
                self.row["notes"].append(f"catch-up not finished after {timeout:.0f} s "
                                         f"({sum(d >= 0 for d in done)}/{self.n} accounts)")
                return True

    def steady(self):
        a = self.a
        end = time.time() + a.settle
        while time.time() < end:
            if self.sample() is None:
                break
            time.sleep(0.5)
        if self.fwd.poll() is not None:
            self.row["notes"].append(f"exited {self.fwd.returncode} before the steady window")
            return
        before, c0, w0 = self.accounts()["accounts"], cpu_ticks(self.fwd.pid), time.time()
        end = w0 + a.steady
        while time.time() < end and self.sample() is not None:
            time.sleep(0.5)
        after, c1, w1 = self.accounts()["accounts"], cpu_ticks(self.fwd.pid), time.time()
        s = self.sample()
        if s is None or c1 is None:
            self.row["notes"].append("exited during the steady window")
            return
        cpu_s = (c1 - c0) / CLK_TCK
        events = sum(y["events_served"] - x["events_served"] for x, y in zip(before, after))
        minutes = (w1 - w0) / 60
        per_min = [(y["requests"] - x["requests"]) / minutes for x, y in zip(before, after)]
        self.row.update({
            "steady_rss_mib": s["rss"] / 1024,
            "rss_per_account_kib": s["rss"] / self.n,
            "threads": s["threads"],
            "fds": s["fds"],
            "cpu_pct": 100 * cpu_s / (w1 - w0),
            "us_per_event": 1e6 * cpu_s / events if events else None,
            "steady_events": events,
            "req_per_min_mean": statistics.mean(per_min),
            "req_per_min_max": max(per_min),
        })

    def finish(self):
        self.stop_ms = int(time.time() * 1000)
        acc = self.accounts()
        self.stop(self.fwd)
        rows = acc["accounts"]
        firsts = [(x["first_ok_ms"] - self.t0_ms) / 1000 for x in rows if x["first_ok_ms"] >= 0]
        self.row.update({
            "first_page_max_s": max(firsts) if len(firsts) == self.n else None,
            "first_page_p50_s": statistics.median(firsts) if firsts else None,
            "no_first_page": self.n - len(firsts),
            "max_req_in_60s": max(x["max_requests_in_window"] for x in rows),
            "rate_limited": sum(x["rate_limited"] for x in rows),
            "requests": sum(x["requests"] for x in rows),
            "run_s": (self.stop_ms - self.t0_ms) / 1000,
        })
        self.row["peak_threads"] = self.peak["threads"]
        self.row["peak_fds"] = self.peak["fds"]
        self.check()

    def check(self):
        """Each account's delivered ids against the emulator's."""
        delivered = {}
        with open(self.out, "rb") as f:
            for line in f:
                i = line.find(b'"event":{"id":"')
                j = line.find(b'"zendesk":{"account":"')
                if i < 0 or j < 0:
                    continue
                k = j + 22
                acct = line[k:line.index(b'"', k)].decode()
                delivered.setdefault(acct, []).append(line[i + 15:i + 41].decode())
        allowance_ms = (self.a.settle_delay + self.a.poll_interval + 15) * 1000
        missing = dups = unknown = 0
        lag_max = 0.0
        worst = []
        for n in range(self.n):
            ids = http_get(f"{self.emu_url}/_emulator/ids?account={n}").decode().split()
            got = delivered.get(f"a{n}", [])
            got_set = set(got)
            dups += len(got) - len(got_set)
            frontier = max(got_set) if got_set else ""
            cutoff_ms = self.stop_ms - allowance_ms
            m = sum(1 for x in ids if x not in got_set and (x <= frontier or ulid_ms(x) < cutoff_ms))
            if m:
                worst.append((m, n))
            missing += m
            unknown += len(got_set - set(ids))
            if frontier:
                lag_max = max(lag_max, (self.stop_ms - ulid_ms(frontier)) / 1000)
        self.row.update({"missing": missing, "duplicates": dups, "unknown_ids": unknown,
                         "delivered": sum(len(v) for v in delivered.values()), "frontier_lag_max_s": lag_max})
        if worst:
            worst.sort(reverse=True)
            self.row["notes"].append("missing in " + ", ".join(f"a{n}: {m}" for m, n in worst[:5]))

    def run(self):
        try:
            self.start_emulator()
            self.write_config()
            if self.catch_up():
                self.steady()
                self.finish()
        finally:
            self.cleanup()
        return self.row


def fmt(v, spec="{:.0f}"):
    return "-" if v is None else spec.format(v)


def table(rows, args):
    head = ["accounts", "binary", "threads", "open files", "peak RSS catch-up", "steady RSS", "RSS/account",
            "CPU % steady", "us/event", "catch-up", "req/account/min", "max req in 60 s", "429s",
            "first page (max)", "missing", "duplicates"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if "missing" not in r:
            cells = [str(r["accounts"]), r["binary"]] + ["-"] * (len(head) - 2)
        else:
            cells = [f"{r['accounts']:,}", r["binary"],
                     f"{r.get('threads', '-')} (peak {r['peak_threads']})", f"{r.get('fds', '-')} (peak {r['peak_fds']})",
                     fmt(r.get("peak_rss_mib"), "{:,.0f} MiB"), fmt(r.get("steady_rss_mib"), "{:,.0f} MiB"),
                     fmt(r.get("rss_per_account_kib"), "{:,.0f} KiB"), fmt(r.get("cpu_pct"), "{:.1f}%"),
                     fmt(r.get("us_per_event"), "{:.1f}"), fmt(r.get("catchup_s"), "{:.1f} s"),
                     fmt(r.get("req_per_min_mean"), "{:.1f}") + " (max " + fmt(r.get("req_per_min_max"), "{:.0f}") + ")",
                     str(r["max_req_in_60s"]), str(r["rate_limited"]),
                     fmt(r.get("first_page_max_s"), "{:.1f} s") if not r["no_first_page"]
                     else f"{r['no_first_page']} accounts never",
                     f"{r['missing']:,}", f"{r['duplicates']:,}"]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {r['binary']} at {r['accounts']}: " + "; ".join(r["notes"]) for r in rows if r["notes"]]
    return "\n".join(lines + ([""] + notes if notes else []))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--forwarder", required=True)
    ap.add_argument("--emulator", required=True)
    ap.add_argument("--baseline", help="another forwarder binary, measured in the same run")
    ap.add_argument("--baseline-label", default="baseline")
    ap.add_argument("--label", default="forwarder")
    ap.add_argument("--accounts", default="10 100 1000")
    ap.add_argument("--history", default="1h", help="history of each account")
    ap.add_argument("--history-rate", type=float, default=1.0, help="history events per second per account")
    ap.add_argument("--hot-history-rate", type=float, default=-1,
                    help="history events per second per hot account (default: --history-rate; 300 = the full "
                         "hour at the hot rate, about 1.08 million events per hot account)")
    ap.add_argument("--hot-share", default="1%")
    ap.add_argument("--hot-rate", type=float, default=300)
    ap.add_argument("--live-rate", type=float, default=1)
    ap.add_argument("--start", default="2h", help="the sources' start (covers the history)")
    ap.add_argument("--settle", type=float, default=10, help="seconds after catch-up before the steady window")
    ap.add_argument("--steady", type=float, default=60, help="seconds of the steady window")
    ap.add_argument("--catchup-timeout", type=float, default=0, help="0 = 60 s + 0.3 s per account")
    ap.add_argument("--kill9", action="store_true")
    ap.add_argument("--seed", type=int, default=29)
    ap.add_argument("--source-setting", action="append", default=[],
                    help="a line added under defaults: (e.g. 'settle_delay: 1s'); the measured runs add none")
    ap.add_argument("--settle-delay", type=float, default=60, help="the sources' settle_delay (s), for the check")
    ap.add_argument("--poll-interval", type=float, default=30, help="the sources' poll_interval (s), for the check")
    ap.add_argument("--keep", help="keep the run directories here")
    ap.add_argument("--assert-first-page", type=float, help="fail unless every first page came within this (s)")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--assert-max-threads", type=int,
                    help="fail when the forwarder ever had more threads (they must not grow with accounts)")
    args = ap.parse_args()

    binaries = [(args.label, args.forwarder)] + ([(args.baseline_label, args.baseline)] if args.baseline else [])
    print(f"settings: accounts {args.accounts}; history {args.history} at {args.history_rate}/s per account"
          + (f" ({args.hot_history_rate}/s for hot accounts)" if args.hot_history_rate >= 0 else "") + "; "
          f"live tail: {args.hot_share} of accounts at {args.hot_rate}/s, the others at {args.live_rate}/s; "
          f"emulator budget 50 requests/60 s per account; sources start {args.start}, jsonl sink, default settings"
          + (f" plus {args.source_setting}" if args.source_setting else "")
          + f"; steady window {args.steady:.0f} s after {args.settle:.0f} s; catch-up bound "
          + (f"{args.catchup_timeout:.0f} s" if args.catchup_timeout else "60 s + 0.3 s/account")
          + ("; SIGKILL mid catch-up and restart" if args.kill9 else "")
          + "; binaries: " + ", ".join(f"{l}={b}" for l, b in binaries), flush=True)
    workdir = args.keep or tempfile.mkdtemp(prefix="zf-bench-accounts-")
    os.makedirs(workdir, exist_ok=True)
    rows = []
    try:
        for n in [int(x) for x in args.accounts.replace(",", " ").split()]:
            for label, binary in binaries:
                t = time.time()
                run = Run(args, label, binary, n, workdir)
                row = run.run()
                rows.append(row)
                print(f"{label} at {n} accounts ({time.time() - t:.0f} s): "
                      + json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()}),
                      flush=True)
                if not args.keep and os.path.exists(run.dir):
                    shutil.rmtree(run.dir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(table(rows, args))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    failed = False
    for r in rows:
        if args.assert_first_page is None:
            break
        problems = []
        if "missing" not in r:
            problems.append("no result")
        else:
            if r["missing"] or r["duplicates"] or r["unknown_ids"]:
                problems.append(f"missing {r['missing']}, duplicates {r['duplicates']}, unknown {r['unknown_ids']}")
            if r["rate_limited"]:
                problems.append(f"{r['rate_limited']} 429s")
            if r["first_page_max_s"] is None or r["first_page_max_s"] > args.assert_first_page:
                problems.append(f"first page max {r['first_page_max_s']} s > {args.assert_first_page} s")
            if r.get("catchup_s") is None:
                problems.append("not caught up")
            if args.assert_max_threads and (r.get("peak_threads") or 0) > args.assert_max_threads:
                problems.append(f"{r['peak_threads']} threads > {args.assert_max_threads}")
        if problems:
            failed = True
            print(f"FAIL {r['binary']} at {r['accounts']}: " + "; ".join(problems + r["notes"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
