#!/usr/bin/python3
"""Live-account benchmark: the forwarder with its default settings against
the emulator as a live account (events arriving at a steady rate, 5% of
them listed up to 8 minutes after their timestamp), at several rates in
parallel, plus a SIGKILL run and the previous release's defaults as the
baseline, all in the same run on the same machine.

usage: bench_live.py --forwarder F --emulator E [--baseline F0] [--measure S]
                     [--rates 300,1000,2083] [--kills 10] [--keep DIR]

For each run: catch up, measure for --measure seconds (requests per minute
at the emulator, forwarder CPU, peak RSS, freshness from the moment the API
first listed an event to the moment the sink had it), stop the live events,
(measurement starts late_read_delay after catch-up, when late reads run
too), let every late read finish, stop the forwarder with SIGTERM, then compare
what the sink holds with what the emulator holds: missing and duplicates.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ID_RE = re.compile(rb'"event":\{"id":"([^"]+)"')
CLK_TCK = os.sysconf("SC_CLK_TCK")
LATE_FRACTION, LATE_MAX = 0.05, "8m"
SETTLE, POLL, LATE_DELAY = 60, 30, 600  # the forwarder's defaults, for the targets
LATE_DELAY_OVERRIDE = None  # --late-read-delay: a quick check of this harness, not a measurement


def http_get(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def http_post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def scrape(addr):
    """Prometheus text -> {name: summed value} (labels folded, read label kept)."""
    out = {}
    for line in http_get(f"http://{addr}/metrics").decode().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name_labels, value = line.rsplit(" ", 1)
        name = name_labels.split("{", 1)[0]
        m = re.search(r'read="(\w+)"', name_labels) or re.search(r'outcome="(\w+)"', name_labels)
        key = f"{name}:{m.group(1)}" if m else name
        out[key] = out.get(key, 0.0) + float(value)
    return out


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]


class Run:
    def __init__(self, name, args, forwarder, rate, history_s, kills=0, seed=1):
        self.name, self.args, self.forwarder = name, args, forwarder
        self.rate, self.history_s, self.kills, self.seed = rate, history_s, kills, seed
        self.dir = tempfile.mkdtemp(prefix="zf-live-" + re.sub(r"[^0-9a-zA-Z]+", "-", name) + "-", dir=args.keep or None)
        self.procs = []
        self.result = {"run": name, "rate": rate}
        self.error = None

    # --- processes -------------------------------------------------------
    def start_emulator(self):
        port_file = os.path.join(self.dir, "emu.port")
        cmd = [self.args.emulator, "--port", "0", "--port-file", port_file, "--seed", str(self.seed),
               "--events", str(int(self.rate * self.history_s)), "--span", f"{max(1, self.history_s)}s",
               "--end-gap", "0s", "--live-rate", str(self.rate), "--late-fraction", str(LATE_FRACTION),
               "--late-max", LATE_MAX]  # rate limit: the emulator's default, Zendesk's 50 a minute
        self.emu = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(self.dir, "emulator.log"), "w"))
        self.procs.append(self.emu)
        deadline = time.time() + 120
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.time() > deadline or self.emu.poll() is not None:
                raise RuntimeError(f"{self.name}: emulator did not start")
            time.sleep(0.05)
        self.emu_url = f"http://127.0.0.1:{open(port_file).read().strip()}"

    def write_config(self, sink_path):
        path = os.path.join(self.dir, "fwd.yaml")
        start = f"{self.history_s}s" if self.history_s > 0 else "1s"
        with open(path, "w") as f:
            f.write(f"""zendesk:
  base_url: {self.emu_url}
  auth: {{type: api_token, email: agent@example.com, token: emulator-token}}
  start: {start}
{f"  late_read_delay: {LATE_DELAY}s" + chr(10) if LATE_DELAY_OVERRIDE else ""}checkpoint: {{path: {self.dir}/checkpoint.json}}
metrics: {{listen: 127.0.0.1:0}}
sinks:
  - {{type: jsonl, path: {sink_path}}}
""")
        return path

    def start_forwarder(self, config):
        log = open(os.path.join(self.dir, "forwarder.log"), "a")
        self.log_offset = log.tell()
        self.fwd = subprocess.Popen([self.forwarder, "run", "--config", config], stdout=subprocess.DEVNULL,
                                    stderr=log)
        self.procs.append(self.fwd)
        deadline = time.time() + 60
        while time.time() < deadline:
            found = [j["address"] for j in self.log_lines(self.log_offset) if j.get("msg") == "metrics endpoint listening"]
            if found:
                self.metrics_addr = found[-1]
                return
            if self.fwd.poll() is not None:
                raise RuntimeError(f"{self.name}: forwarder exited: {self.read_log()[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: no metrics endpoint")

    def read_log(self):
        with open(os.path.join(self.dir, "forwarder.log"), errors="replace") as f:
            return f.read()

    def log_lines(self, offset=0):
        out = []
        for line in self.read_log()[offset:].splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def start_reader(self, fifo):
        """Timestamps every line the sink writes into the FIFO."""
        self.received = []

        def read():
            with open(fifo, "rb") as f:
                for line in f:
                    now_ms = time.time() * 1000
                    m = ID_RE.search(line)
                    if m:
                        self.received.append((now_ms, m.group(1).decode()))

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()

    def emu_stats(self):
        return json.loads(http_get(self.emu_url + "/_emulator/stats"))

    def start_point_ms(self):
        start = next(j["start"] for j in self.log_lines() if j.get("msg") == "no checkpoint yet; starting backfill")
        t = time.strptime(start, "%Y-%m-%dT%H:%M:%SZ")
        import calendar
        return calendar.timegm(t) * 1000

    def wait_caught_up(self, limit_s):
        """Seconds until caught up, or None when it was not within limit_s (then measured anyway)."""
        t0 = time.time()
        while time.time() - t0 < limit_s:
            m = scrape(self.metrics_addr)
            if (m.get("zendesk_forwarder_backfill_remaining_seconds", 1e9) <= SETTLE + 2 * POLL
                    and m.get("zendesk_forwarder_checkpoint_commits_total", 0) > 0):
                return time.time() - t0
            time.sleep(1)
        return None

    def sample(self):
        s = {"t": time.time(), "emu": self.emu_stats(), "cpu": cpu_seconds(self.fwd.pid)}
        try:
            s["m"] = scrape(self.metrics_addr)
        except Exception:
            s["m"] = {}
        return s

    def wait_late_reads_done(self):
        """Until every window of the live phase had its late read (or the 0.1 overlap passed)."""
        deadline = time.time() + LATE_DELAY + 300
        while time.time() < deadline:
            m = scrape(self.metrics_addr)
            pending = m.get("zendesk_forwarder_late_read_pending_windows")
            if pending is None:  # the 0.1 release: its overlap re-reads end LATE_DELAY after the last event
                time.sleep(max(0, self.live_stopped + LATE_DELAY + 2 * POLL + SETTLE - time.time()))
                return
            if pending == 0 and time.time() > self.live_stopped + SETTLE + 2 * POLL:
                return
            time.sleep(2)

    def stop_forwarder(self):
        self.result["peak_rss_mib"] = max(self.result.get("peak_rss_mib", 0), peak_rss_mib(self.fwd.pid))
        self.fwd.send_signal(signal.SIGTERM)
        t0 = time.time()
        self.fwd.wait(timeout=120)
        self.result["sigterm_exit_s"] = round(time.time() - t0, 2)
        self.result["exit_code"] = self.fwd.returncode
        summary = {}
        for j in self.log_lines(self.log_offset):
            if j.get("msg") in ("stopped", "stopped on error"):
                summary = j
        return summary

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- the measured run ------------------------------------------------
    def run(self):
        try:
            self.start_emulator()
            if self.kills:
                self.run_with_kills()
            else:
                self.run_measured()
        except Exception as e:  # reported in the table, never hidden
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.cleanup()

    def run_measured(self):
        fifo = os.path.join(self.dir, "sink.fifo")
        os.mkfifo(fifo)
        self.start_reader(fifo)
        self.start_forwarder(self.write_config(fifo))
        caught_up = self.wait_caught_up(self.args.catch_up_limit)
        self.result["catch_up_s"] = round(caught_up, 1) if caught_up is not None else "never"
        # Late reads start late_read_delay after the first caught-up window
        # ends: measure the steady state, where both reads run.
        time.sleep(LATE_DELAY + 2 * POLL)
        a = self.sample()
        peak = 0.0
        while time.time() < a["t"] + self.args.measure:
            time.sleep(5)
            peak = max(peak, peak_rss_mib(self.fwd.pid))
        b = self.sample()
        http_post(self.emu_url + "/_emulator/config", {"live_rate": 0})
        self.live_stopped = time.time()
        self.result["peak_rss_mib"] = peak
        minutes = (b["t"] - a["t"]) / 60
        self.result["requests_per_min"] = (b["emu"]["requests"] - a["emu"]["requests"]) / minutes
        self.result["429_in_measure"] = b["emu"]["rate_limited"] - a["emu"]["rate_limited"]
        for read in ("first", "late"):
            k = f"zendesk_forwarder_api_page_requests_total:{read}"
            if k in b["m"]:
                self.result[f"{read}_reads_per_min"] = (b["m"][k] - a["m"].get(k, 0)) / minutes
        self.result["cpu_pct"] = 100 * (b["cpu"] - a["cpu"]) / (b["t"] - a["t"])
        self.result["cpu_us_per_event"] = 1e6 * (b["cpu"] - a["cpu"]) / max(1, self.rate * (b["t"] - a["t"]))
        for g in ("late_read_backlog_seconds", "late_read_coverage_ratio", "late_read_pending_windows"):
            if f"zendesk_forwarder_{g}" in b["m"]:
                self.result[f"{g}@end_of_measure"] = b["m"][f"zendesk_forwarder_{g}"]
        self.wait_late_reads_done()
        end = self.sample()
        for g in ("late_read_backlog_seconds", "late_read_coverage_ratio"):
            if f"zendesk_forwarder_{g}" in end["m"]:
                self.result[f"{g}@end"] = end["m"][f"zendesk_forwarder_{g}"]
        events = self.listing()
        summary = self.stop_forwarder()
        self.reader.join(timeout=30)
        self.summarize(summary)
        listed = sum(1 for _, _, visible in events if a["t"] * 1000 <= visible < b["t"] * 1000)
        self.result["events_per_s"] = listed / (b["t"] - a["t"])
        self.result["cpu_us_per_event"] = 1e6 * (b["cpu"] - a["cpu"]) / max(1, listed)
        self.compare(events, [i for _, i in self.received], a["t"] * 1000, b["t"] * 1000)

    def listing(self):
        rows = http_get(self.emu_url + "/_emulator/events", timeout=120).decode().split("\n")
        return [(r[0], int(r[1]), int(r[2])) for r in (x.split() for x in rows) if len(r) == 3]

    def summarize(self, summary):
        for k in ("checkpoint_write_ms_p99", "checkpoint_write_bytes_p99", "checkpoint_write_bytes_max",
                  "late_events", "late_reads_done", "late_reads_given_up", "duplicates_dropped"):
            if k in summary:
                self.result[k] = summary[k]

    def compare(self, events, got_ids, measure_from_ms, measure_to_ms):
        start_ms = self.start_point_ms()
        expected = {i for i, ts, _ in events if ts >= start_ms}
        counts = {}
        for i in got_ids:
            counts[i] = counts.get(i, 0) + 1
        self.result["events_expected"] = len(expected)
        missing = expected - counts.keys()
        self.result["missing"] = len(missing)
        # An event listed within settle_delay of its timestamp is in its
        # window's first read: missing one is always a defect. One listed
        # later is a late event, shipped by the late read; missing one is
        # allowed only where late reads cannot keep up (the gauges say so).
        lateness = {i: visible - ts for i, ts, visible in events}
        self.result["missing_on_time"] = sum(1 for i in missing if lateness[i] <= SETTLE * 1000)
        self.result["missing_late"] = self.result["missing"] - self.result["missing_on_time"]
        self.result["duplicates"] = sum(c - 1 for c in counts.values())
        self.result["unexpected"] = len(counts.keys() - {i for i, _, _ in events})
        if not hasattr(self, "received"):
            return
        first_seen = {}
        for t, i in self.received:
            first_seen.setdefault(i, t)
        on_time, late = [], []
        for i, ts, visible in events:
            if measure_from_ms <= visible < measure_to_ms and i in first_seen:
                (late if visible - ts > 1000 else on_time).append((first_seen[i] - visible) / 1000)
        every = on_time + late
        self.result["freshness_p50_s"] = pct(every, 0.5)
        self.result["freshness_p99_s"] = pct(every, 0.99)
        self.result["on_time_p50_s"] = pct(on_time, 0.5)
        self.result["on_time_p99_s"] = pct(on_time, 0.99)
        self.result["late_listed_p50_s"] = pct(late, 0.5)
        self.result["late_listed_share"] = len(late) / max(1, len(every))

    def run_with_kills(self):
        """SIGKILL during the live run, restart each time; then check with check_delivery.py."""
        out = os.path.join(self.dir, "out.jsonl")
        config = self.write_config(out)
        regions = []

        def lines():
            return sum(1 for _ in open(out, "rb")) if os.path.exists(out) else 0

        def acked():
            try:
                return json.load(open(os.path.join(self.dir, "checkpoint.json")))["events_delivered"]
            except (OSError, ValueError, KeyError):
                return 0

        rng = random.Random(self.seed)
        t_end = time.time() + self.args.measure
        for k in range(self.kills):
            first, acked_before = lines(), acked()
            self.start_forwarder(config)
            time.sleep(max(1.0, (t_end - time.time()) / (self.kills - k)) * rng.uniform(0.5, 1.0))
            self.fwd.kill()
            self.fwd.wait()
            regions.append((first, lines(), acked() - acked_before))
        http_post(self.emu_url + "/_emulator/config", {"live_rate": 0})
        self.live_stopped = time.time()
        first, acked_before = lines(), acked()
        self.start_forwarder(config)
        self.wait_late_reads_done()
        events = self.listing()
        summary = self.stop_forwarder()
        regions.append((first, lines(), acked() - acked_before))
        self.summarize(summary)
        got = []
        with open(out, "rb") as f:
            for line in f:
                m = ID_RE.search(line)
                if m:
                    got.append(m.group(1).decode())
        self.compare(events, got, 0, 0)
        start_ms = self.start_point_ms()
        ids_path, regions_path = os.path.join(self.dir, "ids"), os.path.join(self.dir, "regions")
        with open(ids_path, "w") as f:
            f.writelines(f"{i}\n" for i, ts, _ in events if ts >= start_ms)
        with open(regions_path, "w") as f:
            f.writelines(f"{a} {b} {c}\n" for a, b, c in regions)
        check = subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "..", "integration",
                                                                  "check_delivery.py"), out, ids_path, regions_path],
                               capture_output=True, text=True)
        self.result["kills"] = self.kills
        self.result["check_delivery"] = check.stdout.strip().splitlines()[-2:]
        self.result["crash_ok"] = check.returncode == 0


def proc_status(pid):
    """VmRSS, VmHWM (MiB) and Threads of pid."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) / 1024
            elif k == "Threads":
                out[k] = int(v)
    return out


class LagRun(Run):
    """--lag: one live account from now on (no history, no late-listed
    events), default settings; measured from the event's own time to the
    moment the sink wrote it, and what the emulator's request log says."""

    def start_emulator(self):
        port_file = os.path.join(self.dir, "emu.port")
        cmd = [self.args.emulator, "--port", "0", "--port-file", port_file, "--seed", str(self.seed),
               "--events", "0", "--span", "1s", "--end-gap", "0s", "--live-rate", str(self.rate)]
        self.emu = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(self.dir, "emulator.log"), "w"))
        self.procs.append(self.emu)
        deadline = time.time() + 120
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.time() > deadline or self.emu.poll() is not None:
                raise RuntimeError(f"{self.name}: emulator did not start")
            time.sleep(0.05)
        self.emu_url = f"http://127.0.0.1:{open(port_file).read().strip()}"

    def run(self):
        try:
            self.start_emulator()
            self.run_lag()
        except Exception as e:  # reported in the table, never hidden
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.cleanup()

    def run_lag(self):
        fifo = os.path.join(self.dir, "sink.fifo")
        os.mkfifo(fifo)
        self.start_reader(fifo)
        self.start_forwarder(self.write_config(fifo))
        t_start = time.time()
        samples, peak_threads = [], 0
        warm = t_start + self.args.lag_warmup
        a = None
        while time.time() < t_start + self.args.measure:
            time.sleep(1)
            st = proc_status(self.fwd.pid)
            peak_threads = max(peak_threads, st.get("Threads", 0))
            if a is None and time.time() >= warm:
                a = (time.time(), cpu_seconds(self.fwd.pid))
            samples.append((time.time(), st))
        b = (time.time(), cpu_seconds(self.fwd.pid))
        end_status = proc_status(self.fwd.pid)
        http_post(self.emu_url + "/_emulator/config", {"live_rate": 0})
        self.live_stopped = time.time()
        # Every event is listed at once (no late ones): the last of them is
        # due settle_delay + poll_interval after the stop; wait that and
        # until the sink stops growing.
        last_n, quiet_since = -1, time.time()
        deadline = self.live_stopped + SETTLE + POLL + self.args.lag_drain
        while time.time() < deadline:
            n = len(self.received)
            if n != last_n:
                last_n, quiet_since = n, time.time()
            elif time.time() > self.live_stopped + SETTLE + POLL + 10 and time.time() - quiet_since > 10:
                break
            time.sleep(1)
        stats = self.emu_stats()
        events = self.listing()
        self.result["peak_rss_mib"] = proc_status(self.fwd.pid).get("VmHWM", 0.0)
        summary = self.stop_forwarder()
        self.reader.join(timeout=30)
        self.summarize(summary)
        r = self.result
        r["rss_mib"] = end_status.get("VmRSS")
        r["threads"] = end_status.get("Threads")
        r["peak_threads"] = peak_threads
        r["cpu_pct"] = 100 * (b[1] - a[1]) / (b[0] - a[0])
        live = [e for e in events if t_start * 1000 <= e[1] < self.live_stopped * 1000]
        r["events_per_s"] = len(live) / (self.live_stopped - t_start)
        r["cpu_us_per_event"] = 1e6 * (b[1] - a[1]) / max(1, self.rate * (b[0] - a[0]))
        # The emulator's request log: requests per minute while live (from
        # the first request on), the most in any 60 s, 429s over the run.
        arr = sorted(stats["arrivals_ms"])
        r["requests"] = len(arr)
        r["429s"] = stats["rate_limited"]
        if arr:
            # A window is read settle_delay + poll_interval after its start:
            # the requests for the live events are that much later.
            lo, hi = (t_start + SETTLE + POLL) * 1000, (self.live_stopped + SETTLE + POLL) * 1000
            r["requests_per_min"] = sum(1 for x in arr if lo <= x < hi) / ((hi - lo) / 60000)
            j, most = 0, 0
            for i, x in enumerate(arr):
                while arr[j] <= x - 60000:
                    j += 1
                most = max(most, i - j + 1)
            r["max_req_60s"] = most
        self.compare(events, [i for _, i in self.received], 0, 0)
        first_seen = {}
        for t, i in self.received:
            first_seen.setdefault(i, t)
        lag = [(first_seen[i] - ts) / 1000 for i, ts, _ in live if i in first_seen]
        r["lag_p50_s"], r["lag_p99_s"] = pct(lag, 0.5), pct(lag, 0.99)
        r["lag_max_s"] = max(lag) if lag else float("nan")
        r["lag_n"] = len(lag)
        # Keeping up: the events listed but not yet in the sink, and the
        # lag of what was written, per 30 s of the run.
        listed = sorted(v for _, _, v in live)
        written = sorted(first_seen[i] for i, _, _ in live if i in first_seen)
        import bisect
        curve = []
        t = t_start + 30
        while t <= self.live_stopped + SETTLE + POLL + 1:
            backlog = bisect.bisect_right(listed, t * 1000) - bisect.bisect_right(written, t * 1000)
            window = [(first_seen[i] - ts) / 1000 for i, ts, _ in live
                      if i in first_seen and t * 1000 - 30000 <= first_seen[i] < t * 1000]
            curve.append((round(t - t_start), backlog, round(max(window), 1) if window else None))
            t += 30
        r["backlog_curve"] = curve
        # The same per 30 s of live time only: did the backlog grow?
        during = [c[1] for c in curve if c[0] <= self.live_stopped - t_start]
        r["backlog_max"] = max(during) if during else None


def fmt(v, spec="{:.1f}"):
    if v is None:
        return "-"
    if isinstance(v, float) and v != v:
        return "-"
    return spec.format(v) if isinstance(v, (int, float)) else str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--forwarder", required=True)
    ap.add_argument("--emulator", required=True)
    ap.add_argument("--baseline", help="the previous release's forwarder, run with its own defaults at 300/s")
    ap.add_argument("--measure", type=int, default=300)
    ap.add_argument("--rates", default="300,1000,2083")
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--keep", help="keep run directories under this folder")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--catch-up-limit", type=int, default=900, help="seconds; measured anyway after that")
    ap.add_argument("--late-read-delay", type=int, help="seconds; NOT the default: only to check this harness quickly")
    ap.add_argument("--lag", action="store_true",
                    help="event time -> sink lag per rate, --forwarder and --baseline side by side "
                         "(each its own emulator, live from now on, no late events; --measure s of live events)")
    ap.add_argument("--lag-warmup", type=int, default=10, help="--lag: seconds before CPU is measured")
    ap.add_argument("--lag-drain", type=int, default=60,
                    help="--lag: seconds beyond settle_delay + poll_interval to wait for the last events")
    args = ap.parse_args()
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    global LATE_DELAY, LATE_DELAY_OVERRIDE
    if args.late_read_delay:
        LATE_DELAY = LATE_DELAY_OVERRIDE = args.late_read_delay

    if args.lag:
        return main_lag(args)
    history = {300: 900, 1000: 180}  # seconds of past events to catch up first; none at the source's limit
    runs = [Run(f"{r}/s", args, args.forwarder, r, history.get(r, 0), seed=10 + i)
            for i, r in enumerate(int(x) for x in args.rates.split(","))]
    if args.kills:
        runs.append(Run("300/s+SIGKILL", args, args.forwarder, 300, 300, kills=args.kills, seed=31))
    if args.baseline:
        # The same account as the first 300/s run, minus the backfill: 0.1
        # re-reads its overlap every poll and may never catch up from one.
        runs.append(Run("0.1 @300/s", args, args.baseline, 300, 0, seed=41))
    threads = [threading.Thread(target=r.run) for r in runs]
    t0 = time.time()
    for t in threads:
        t.start()
        time.sleep(2)
    for t in threads:
        t.join()

    print(f"\nlive benchmark: default settings (settle {SETTLE}s, poll {POLL}s, late read {LATE_DELAY}s), "
          f"{LATE_FRACTION:.0%} of events listed up to {LATE_MAX} late, emulator limit 50 requests/min, "
          f"{args.measure} s measured after catch-up; {time.time() - t0:.0f} s in all\n")
    rows = [
        ("events/s listed while measured", "events_per_s", "{:.0f}"),
        ("requests/min (all, at the emulator)", "requests_per_min", "{:.1f}"),
        ("  first reads / late reads per min", None, None),
        ("429 answers while measured", "429_in_measure", "{:.0f}"),
        ("events expected (since start point)", "events_expected", "{:.0f}"),
        ("missing", "missing", "{:.0f}"),
        ("  listed within settle_delay (never ok)", "missing_on_time", "{:.0f}"),
        ("  listed later: late events", "missing_late", "{:.0f}"),
        ("duplicates shipped", "duplicates", "{:.0f}"),
        ("CPU, % of one core", "cpu_pct", "{:.2f}"),
        ("CPU per event, us", "cpu_us_per_event", "{:.1f}"),
        ("peak RSS, MiB", "peak_rss_mib", "{:.1f}"),
        ("listed -> in sink p50, s (all)", "freshness_p50_s", "{:.1f}"),
        ("listed -> in sink p99, s (all)", "freshness_p99_s", "{:.1f}"),
        ("  on-time events p50 / p99, s", None, None),
        ("  late-listed events: share, p50 s", None, None),
        ("checkpoint write p99: ms / bytes", None, None),
        ("late events shipped by late reads", "late_events", "{:.0f}"),
        ("late reads done / given up", None, None),
        ("late-read backlog s, end of measure", "late_read_backlog_seconds@end_of_measure", "{:.0f}"),
        ("late-read coverage, end of measure", "late_read_coverage_ratio@end_of_measure", "{:.3f}"),
        ("late-read coverage, at the end", "late_read_coverage_ratio@end", "{:.3f}"),
        ("catch-up, s", "catch_up_s", "{:.0f}"),
        ("SIGTERM -> exit, s / code", None, None),
    ]
    width = 38
    print("| " + "measure".ljust(width) + " | " + " | ".join(r.name.rjust(13) for r in runs) + " |")
    print("|" + "-" * (width + 2) + "|" + "|".join("-" * 15 for _ in runs) + "|")
    for label, key, spec in rows:
        cells = []
        for r in runs:
            x = r.result
            if key:
                cells.append(fmt(x.get(key), spec))
            elif label.startswith("  first"):
                cells.append(f"{fmt(x.get('first_reads_per_min'))} / {fmt(x.get('late_reads_per_min'))}")
            elif label.startswith("  on-time"):
                cells.append(f"{fmt(x.get('on_time_p50_s'))} / {fmt(x.get('on_time_p99_s'))}")
            elif label.startswith("  late-listed"):
                cells.append(f"{fmt(x.get('late_listed_share'), '{:.3f}')}, {fmt(x.get('late_listed_p50_s'))}")
            elif label.startswith("checkpoint"):
                cells.append(f"{fmt(x.get('checkpoint_write_ms_p99'), '{:.2f}')} / "
                             f"{fmt(x.get('checkpoint_write_bytes_p99'), '{:.0f}')}")
            elif label.startswith("late reads done"):
                cells.append(f"{fmt(x.get('late_reads_done'), '{:.0f}')} / {fmt(x.get('late_reads_given_up'), '{:.0f}')}")
            elif label.startswith("SIGTERM"):
                cells.append(f"{fmt(x.get('sigterm_exit_s'))} / {fmt(x.get('exit_code'), '{}')}")
        print("| " + label.ljust(width) + " | " + " | ".join(c.rjust(13) for c in cells) + " |")
    for r in runs:
        if r.kills and "check_delivery" in r.result:
            print(f"\n{r.name}: {r.result['kills']} SIGKILLs; check_delivery: {' / '.join(r.result['check_delivery'])}")
    failed = [r for r in runs if r.error]
    for r in failed:
        print(f"\n{r.name}: ERROR {r.error}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([dict(r.result, error=r.error) for r in runs], f, indent=1)
    return 1 if failed else 0


def main_lag(args):
    """Per rate, the forwarder and the baseline at the same time (same pass,
    same load on the machine), each with its own emulator; the rates one
    after the other; the start order alternates from one rate to the next."""
    results = []
    t0 = time.time()
    for k, rate in enumerate(int(x) for x in args.rates.split(",")):
        pair = [LagRun(f"new {rate}/s", args, args.forwarder, rate, 0, seed=50 + k)]
        if args.baseline:
            pair.append(LagRun(f"old {rate}/s", args, args.baseline, rate, 0, seed=50 + k))
        if k % 2:
            pair.reverse()
        threads = [threading.Thread(target=r.run) for r in pair]
        for t in threads:
            t.start()
            time.sleep(1)
        for t in threads:
            t.join()
        pair.sort(key=lambda r: r.name)
        results += pair
        for r in pair:
            print(f"{r.name}: {'ERROR ' + r.error if r.error else json.dumps(r.result)}", file=sys.stderr, flush=True)
    print(f"\nlive lag: default settings (settle {SETTLE}s, poll {POLL}s), no history, no late-listed events, "
          f"{args.measure} s of live events per run, emulator limit 50 requests/min; {time.time() - t0:.0f} s in all\n")
    cols = [("binary", lambda x: x["run"]), ("events/s", lambda x: fmt(x.get("events_per_s"), "{:.0f}")),
            ("lag p50 / p99 / max, s", lambda x: " / ".join(fmt(x.get(k)) for k in ("lag_p50_s", "lag_p99_s", "lag_max_s"))),
            ("backlog max (events)", lambda x: fmt(x.get("backlog_max"), "{:.0f}")),
            ("missing / dup / unexpected", lambda x: " / ".join(fmt(x.get(k), "{:.0f}") for k in ("missing", "duplicates", "unexpected"))),
            ("CPU % core", lambda x: fmt(x.get("cpu_pct"), "{:.2f}")),
            ("us/event", lambda x: fmt(x.get("cpu_us_per_event"), "{:.1f}")),
            ("RSS / peak, MiB", lambda x: f"{fmt(x.get('rss_mib'))} / {fmt(x.get('peak_rss_mib'))}"),
            ("threads", lambda x: fmt(x.get("threads"), "{}")),
            ("req/min", lambda x: fmt(x.get("requests_per_min"))),
            ("max req in 60 s", lambda x: fmt(x.get("max_req_60s"), "{}")),
            ("429s", lambda x: fmt(x.get("429s"), "{}"))]
    print("| " + " | ".join(c for c, _ in cols) + " |")
    print("|" + "|".join("---" for _ in cols) + "|")
    for r in results:
        print("| " + " | ".join(f(r.result) for _, f in cols) + " |")
    print("\nbacklog (events listed, not yet in the sink) and max lag of what was written, per 30 s "
          "(s since start: backlog, max lag s):")
    for r in results:
        print(f"{r.result['run']}: " + ", ".join(f"{t}: {b}, {m}" for t, b, m in r.result.get("backlog_curve", [])))
    failed = [r for r in results if r.error]
    for r in failed:
        print(f"\n{r.name}: ERROR {r.error}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([dict(r.result, error=r.error) for r in results], f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
