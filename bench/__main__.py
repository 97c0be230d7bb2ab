"""`python -m bench`: Lookout and kubectl on the demo cluster in a real pseudo-terminal, measured, as a table."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field

from bench.cluster import ChangeFeed, DemoCluster
from bench.latency import match
from bench.term import LineWatcher, ProcessMeter, PtyProcess, ScreenWatcher

# A pod row of Lookout's pods pane: NAME TRACK STATUS READY RST AGE NODE.
LOOKOUT_ROW = re.compile(r"(?P<name>[a-z0-9][-a-z0-9.]*[a-z0-9])\s+\S+\s+\S\s+\S+.*?\s(?P<ready>\d+)/(?P<total>\d+)"
                         r"\s+(?P<restarts>\d+)\s")
# The pods pane's title and group headers: "… 10000 pods · stable 10000 …", "▾ stable · 10000 pods".
POD_COUNT = re.compile(r"(\d[\d,]*) pods?\b")
# kubectl's table: NAME READY STATUS RESTARTS AGE (restarts may read "3 (2m ago)").
KUBECTL_ROW = re.compile(r"^\s*(?P<name>[a-z0-9][-a-z0-9.]*[a-z0-9])\s+(?P<ready>\d+)/(?P<total>\d+)\s+\S+\s+"
                         r"(?P<restarts>\d+)\b")

TAIL = 2.0  # keep watching after a window so its last changes can show
WATCH_TAIL = 8.0
IDLE_AFTER = 40.0  # seconds after the last change: findings settle 35 s after one (tui/app.py)
STREAM_TOOL = "lookout + step 1000 lines/s"
# A runbook whose one step prints 1,000 lines a second (10 every 10 ms) for up to 10 minutes, run in the panel
STREAM_RUNBOOK = """\
id: bench-stream
title: Bench stream
steps:
  - title: print 1000 lines a second
    why: the runbook panel's output must not slow the pods pane
    mutates: false
    timeout: 600
    run: [%s, -c, "import sys, time\\nt = time.time()\\nfor i in range(600000):\\n    sys.stdout.write('line %%d of a streaming runbook step\\\\n' %% i)\\n    if i %% 10 == 9:\\n        sys.stdout.flush()\\n        time.sleep(max(0.0, t + (i + 1) / 1000 - time.time()))\\n"]
"""

COLUMNS = [  # (key, header, format)
    ("tool", "tool", "{}"),
    ("pods", "pods", "{}"),
    ("churn", "chg/s", "{:g}"),
    ("all_shown_s", "all shown s", "{:.2f}"),
    ("p50_ms", "p50 ms", "{:.0f}"),
    ("p99_ms", "p99 ms", "{:.0f}"),
    ("max_ms", "max ms", "{:.0f}"),
    ("cpu_pct", "CPU %", "{:.1f}"),
    ("idle_cpu_pct", "idle CPU %", "{:.2f}"),
    ("rss_mb", "RSS MB", "{:.0f}"),
    ("tty_kb_s", "tty KB/s", "{:.1f}"),
    ("api_req_min", "req/min", "{:.1f}"),
    ("api_scrapes_min", "scrapes/min", "{:.1f}"),
    ("api_lists", "LISTs", "{}"),
    ("unseen", "unseen", "{}"),
    ("api_kb_s", "API KB/s", "{:.1f}"),
    ("api_mb_total", "API MB", "{:.1f}"),
]


@dataclass
class Cell:
    tool: str
    pods: int
    churn: float
    background_pods: int = 0
    all_shown_s: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    latency_n: int = 0
    unseen: int = 0  # changes to on-screen pods that never showed
    cpu_pct: float | None = None
    idle_cpu_pct: float | None = None
    rss_mb: float | None = None
    tty_kb_s: float | None = None
    api_req_min: float | None = None
    api_lists: int | None = None
    api_scrapes_min: float | None = None
    api_kb_s: float | None = None
    api_mb_total: float | None = None
    window_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def client_totals(counters: dict, prefix: str) -> tuple[int, int]:
    req = nbytes = 0
    for ua, v in counters.get("by_client", {}).items():
        if ua.startswith(prefix):
            req += v.get("requests", 0)
            nbytes += v.get("bytes", 0)
    return req, nbytes


def kind_requests(counters: dict, kind: str) -> int:
    return counters.get("by_kind", {}).get(kind, {}).get("requests", 0)


def wait_until(pred, timeout: float, step: float = 0.05) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


class Measure:
    """Counters, CPU and terminal bytes over a steady-state window."""

    def __init__(self, cluster: DemoCluster, pty: PtyProcess, meter: ProcessMeter, ua_prefix: str, base: dict):
        self.cluster, self.pty, self.meter, self.ua = cluster, pty, meter, ua_prefix
        self.base_bytes = client_totals(base, ua_prefix)[1]  # before the tool started

    def snap(self) -> tuple:
        c = self.cluster.counters()
        return (time.time(), self.meter.cpu_seconds(), self.pty.bytes_written(), c)

    def fill(self, cell: Cell, a: tuple, b: tuple) -> None:
        t0, cpu0, by0, c0 = a
        t1, cpu1, by1, c1 = b
        w = t1 - t0
        cell.window_s = round(w, 1)
        cell.cpu_pct = 100.0 * (cpu1 - cpu0) / w
        cell.tty_kb_s = (by1 - by0) / w / 1024.0
        r0, b0 = client_totals(c0, self.ua)
        r1, b1 = client_totals(c1, self.ua)
        cell.api_req_min = (r1 - r0) / w * 60.0
        cell.api_kb_s = (b1 - b0) / w / 1024.0
        cell.api_mb_total = (b1 - self.base_bytes) / 1e6  # since the tool started: its start-up list included
        cell.api_lists = kind_requests(c1, "list") - kind_requests(c0, "list")
        scrapes = sum(kind_requests(c1, k) - kind_requests(c0, k) for k in ("proxy", "metrics"))
        cell.api_scrapes_min = scrapes / w * 60.0
        cell.rss_mb = self.meter.peak_rss_mb()


def fill_latency(cell: Cell, feed: ChangeFeed | None, observations, start: float, end: float) -> None:
    if feed is None:
        return
    with feed.lock:
        changes = list(feed.changes)
    lat = match(changes, observations, start, end)
    cell.latency_n = len(lat.samples)
    cell.unseen = lat.lost
    if lat.samples:
        cell.p50_ms = lat.pct(50) * 1000
        cell.p99_ms = lat.pct(99) * 1000
        cell.max_ms = lat.max * 1000
    if lat.lost:
        cell.notes.append(f"{lat.lost} changes to on-screen pods never showed")


def run_lookout(cluster: DemoCluster, feed: ChangeFeed | None, cell: Cell, *, settle: float, window: float,
                expect: int, idle_after: float | None = None, stream: bool = False) -> None:
    screen = ScreenWatcher(LOOKOUT_ROW, count_re=POD_COUNT)
    argv = [sys.executable, "-m", "tui.cli", "--kubeconfig", cluster.kubeconfig, "--context", "lookout-demo",
            "--app", "checkout"]
    if stream:
        path = os.path.join(os.path.dirname(cluster.kubeconfig), "bench-stream.yaml")
        with open(path, "w") as f:
            f.write(STREAM_RUNBOOK % json.dumps(sys.executable))
        argv += ["--runbooks", path]
    base = cluster.counters()
    pty = PtyProcess(argv, on_output=screen)
    meter = None
    try:
        meter = ProcessMeter(pty.pid)
        ok = wait_until(lambda: screen.max_count >= expect or pty.proc.poll() is not None, 120)
        with screen.lock:
            times = [t for c, t in screen.count_times.items() if c >= expect]
        if ok and times:
            cell.all_shown_s = min(times) - pty.started
        else:
            cell.notes.append(f"never showed {expect} pods (max {screen.max_count})")
            if pty.proc.poll() is not None:
                cell.notes.append(f"lookout exited {pty.proc.returncode}: {screen.text()[-600:]!r}")
                return
        if stream:  # r, filter, enter opens the runbook; 1 runs its step; the output streams into the panel
            for keys in (b"r", b"bench stream", b"\r", b"1"):
                time.sleep(0.5)
                pty.send(keys)
            if not wait_until(lambda: re.search(r"line \d{4,} of a streaming", screen.text()), 30):
                cell.notes.append("the runbook step's output never showed")
            with screen.lock:  # the panel made the pods pane shorter: rows seen before it opened are off screen now
                screen.observations.clear()
        time.sleep(settle)
        measure_window(cell, cluster, pty, meter, "lookout/", base, feed, screen, window)
        if idle_after and cell.all_shown_s is not None:
            # the app re-evaluates findings for a while after the last change (they debounce on time):
            # idle is what it costs once that is over
            time.sleep(max(0.0, pty.started + cell.all_shown_s + idle_after - time.time()))
            t0, c0 = time.time(), meter.cpu_seconds()
            time.sleep(window)
            cell.idle_cpu_pct = 100.0 * (meter.cpu_seconds() - c0) / (time.time() - t0)
            cell.rss_mb = meter.peak_rss_mb()
        if os.environ.get("BENCH_DUMP"):
            print(screen.text(), file=sys.stderr)
    finally:
        if meter is not None:
            meter.close()
        pty.stop()



def measure_window(cell: "Cell", cluster: "DemoCluster", pty, meter, user_agent: str, base, feed, observed,
                   window: float) -> None:
    """The steady-state window of one tool: counters before and after, then the latency of what it showed."""
    m = Measure(cluster, pty, meter, user_agent, base)
    a = m.snap()
    time.sleep(window)
    b = m.snap()
    m.fill(cell, a, b)
    time.sleep(TAIL if feed is not None else 0)
    with observed.lock:
        obs = list(observed.observations)
    fill_latency(cell, feed, obs, a[0], b[0])

def run_kubectl_watch(cluster: DemoCluster, feed: ChangeFeed | None, cell: Cell, *, settle: float,
                      window: float, expect: int) -> None:
    lines = LineWatcher(KUBECTL_ROW)
    lines.target_lines = expect + 1  # the header, then one line a pod
    argv = ["kubectl", "--kubeconfig", cluster.kubeconfig, "get", "pods", "-n", cluster.namespace, "-w"]
    base = cluster.counters()
    pty = PtyProcess(argv, on_output=lines)
    meter = None
    try:
        meter = ProcessMeter(pty.pid)
        wait_until(lambda: lines.target_time is not None or pty.proc.poll() is not None, 120)
        if lines.target_time is not None:
            cell.all_shown_s = lines.target_time - pty.started
        time.sleep(settle)
        measure_window(cell, cluster, pty, meter, "kubectl", base, feed, lines, window)
    finally:
        if meter is not None:
            meter.close()
        pty.stop(quit_keys=b"\x03")


def run_watch_kubectl(cluster: DemoCluster, feed: ChangeFeed | None, cell: Cell, *, settle: float,
                      window: float, expect: int) -> None:
    screen = ScreenWatcher(KUBECTL_ROW)
    kubectl = ["kubectl", "--kubeconfig", cluster.kubeconfig, "get", "pods", "-n", cluster.namespace]
    if shutil.which("watch"):
        argv = ["watch", "-n", "2"] + kubectl
    else:  # the same thing without procps: clear, run, sleep 2
        cell.notes.append("no `watch` here: a shell loop (clear; kubectl get pods; sleep 2) stands in")
        argv = ["sh", "-c", "while :; do out=$(\"$@\" 2>&1); clear; printf '%s\\n' \"$out\"; sleep 2; done",
                "sh"] + kubectl
    base = cluster.counters()
    pty = PtyProcess(argv, on_output=screen)
    meter = None
    try:
        meter = ProcessMeter(pty.pid)
        wait_until(lambda: len(screen.shown) > 0 or pty.proc.poll() is not None, 120)
        cell.all_shown_s = None  # a screenful, never all N: not comparable
        time.sleep(settle)
        m = Measure(cluster, pty, meter, "kubectl", base)
        a = m.snap()
        time.sleep(window)
        b = m.snap()
        m.fill(cell, a, b)
        time.sleep(WATCH_TAIL if feed is not None else 0)  # two refreshes and a slow kubectl
        with screen.lock:
            obs = list(screen.observations)
        fill_latency(cell, feed, obs, a[0], b[0])
    finally:
        if meter is not None:
            meter.close()
        pty.stop(quit_keys=b"\x03")


def run_cell(workdir: str, *, pods: int, churn: float, background: int = 0, kubectl: bool = False,
             settle: float, window: float, kwindow: float, idle_after: float | None = None,
             log=print, stream: bool = False) -> list[Cell]:
    out: list[Cell] = []
    cluster = DemoCluster(workdir, pods=pods, churn=churn, background_pods=background)
    feed = None
    try:
        cluster.pause_timeline()
        feed = ChangeFeed(cluster) if churn > 0 else None
        label = STREAM_TOOL if stream else "lookout" if not background else f"lookout (+{background} bg)"
        cell = Cell(label, pods, churn, background)
        run_lookout(cluster, feed, cell, settle=settle, window=window, expect=pods,
                    idle_after=idle_after if churn == 0 else None, stream=stream)
        out.append(cell)
        log(cell)
        if kubectl:
            for tool, fn in (("kubectl get -w", run_kubectl_watch), ("watch -n2 kubectl", run_watch_kubectl)):
                time.sleep(1.0)
                k = Cell(tool, pods, churn, background)
                fn(cluster, feed, k, settle=settle, window=kwindow, expect=pods)
                out.append(k)
                log(k)
    finally:
        if feed is not None:
            feed.stop()
        cluster.stop()
    return out


def fmt(cell: Cell, key: str, f: str) -> str:
    v = getattr(cell, key)
    if v is None:
        return "-"
    return f.format(v)


def table(cells: list[Cell]) -> str:
    heads = [h for _, h, _ in COLUMNS]
    rows = [[fmt(c, k, f) for k, _, f in COLUMNS] for c in cells]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(heads, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(v.ljust(w) if i == 0 else v.rjust(w)
                                       for i, (v, w) in enumerate(zip(r, widths))) + " |")
    return "\n".join(lines)


def ratios(cells: list[Cell]) -> list[str]:
    out = []
    by = {(c.tool, c.pods, c.churn): c for c in cells}
    for c in cells:
        plain = by.get(("lookout", c.pods, c.churn))
        if c.tool == STREAM_TOOL and plain and c.p99_ms and plain.p99_ms:
            r = c.p99_ms / plain.p99_ms
            out.append(f"{c.pods} pods, {c.churn:g}/s: pods pane p99 with a runbook step streaming 1,000 lines/s "
                       f"{r:.2f}x without ({'within' if r <= 1.5 else 'OVER'} the 1.5x budget)")
        if c.tool != "lookout":
            continue
        kw = by.get(("kubectl get -w", c.pods, c.churn))
        wa = by.get(("watch -n2 kubectl", c.pods, c.churn))
        if not kw and not wa:
            continue
        parts = []
        if kw and c.p99_ms and kw.p99_ms:
            parts.append(f"p99 {c.p99_ms / kw.p99_ms:.2f}x kubectl -w")
        if wa and c.p99_ms and wa.p99_ms:
            parts.append(f"{c.p99_ms / wa.p99_ms:.2f}x watch")
        if kw and c.cpu_pct is not None and kw.cpu_pct:
            parts.append(f"CPU {c.cpu_pct / kw.cpu_pct:.2f}x kubectl -w")
        if kw and c.rss_mb and kw.rss_mb:
            parts.append(f"RSS {c.rss_mb / kw.rss_mb:.2f}x kubectl -w")
        if wa and c.api_kb_s is not None and wa.api_kb_s:
            parts.append(f"API bytes/s {c.api_kb_s / wa.api_kb_s:.3f}x watch")
        out.append(f"{c.pods} pods, {c.churn:g}/s: " + ", ".join(parts))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="one small cell (100 pods, 50 changes/s) and kubectl: < 1 min")
    ap.add_argument("--json", action="store_true", help="JSON Lines, one object per cell, instead of the table")
    ap.add_argument("--pods", type=int, nargs="*", help="only these pod counts (default 100 1000 10000)")
    ap.add_argument("--churn", type=float, nargs="*", help="only these change rates (default 0 50 200)")
    ap.add_argument("--no-background", action="store_true", help="skip the 10,000 background pods cell")
    ap.add_argument("--no-kubectl", action="store_true", help="skip kubectl get -w and watch kubectl")
    ap.add_argument("--window", type=float, default=None, help="seconds measured at steady state per cell")
    ap.add_argument("--no-stream", action="store_true", help="skip the runbook-step-streaming cell")
    ap.add_argument("--stream-only", action="store_true",
                    help="only the pods pane with and without a runbook step streaming 1,000 lines/s")
    args = ap.parse_args(argv)

    if args.stream_only:
        plan = [dict(pods=100, churn=50.0), dict(pods=100, churn=50.0, stream=True)]
        settle, window, kwindow = 3.0, args.window or 15.0, args.window or 15.0
    elif args.quick:
        plan = [dict(pods=100, churn=50.0, kubectl=not args.no_kubectl)]
        if not args.no_stream:
            plan.append(dict(pods=100, churn=50.0, stream=True))
        settle, window, kwindow = 2.0, args.window or 8.0, args.window or 8.0
    else:
        pods = args.pods or [100, 1000, 10000]
        churns = args.churn if args.churn is not None else [0.0, 50.0, 200.0]
        plan = [dict(pods=n, churn=r, kubectl=(not args.no_kubectl and n == max(pods) and r == max(churns)))
                for n in pods for r in churns]
        if not args.no_stream:
            plan.append(dict(pods=1000, churn=50.0, stream=True))  # beside the plain 1,000 x 50 cell
        if not args.no_background:
            plan.append(dict(pods=50, churn=50.0))  # the reference for the next one
            plan.append(dict(pods=50, churn=50.0, background=10000))
        settle, window, kwindow = 3.0, args.window or 15.0, args.window or 20.0
        for p in plan:
            if p["churn"] == 0:
                p["idle_after"] = IDLE_AFTER

    def log(cell: Cell) -> None:
        if args.json:
            print(json.dumps(asdict(cell)), flush=True)
        else:
            print(f"# {cell.tool} {cell.pods} pods {cell.churn:g}/s: done", file=sys.stderr, flush=True)

    cells: list[Cell] = []
    t0 = time.time()
    started = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    with tempfile.TemporaryDirectory(prefix="lookout-bench-") as workdir:
        for p in plan:
            cells.extend(run_cell(workdir, settle=settle, window=window, kwindow=kwindow, log=log, **p))
    if not args.json:
        print(f"Lookout benchmark, {started}, {machine()}, "
              f"{time.time() - t0:.0f} s")
        print(table(cells))
        for line in ratios(cells):
            print(line)
        for c in cells:
            for n in c.notes:
                print(f"note: {c.tool} {c.pods} pods {c.churn:g}/s: {n}")
    return 0


def machine() -> str:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}"


if __name__ == "__main__":
    sys.exit(main())
