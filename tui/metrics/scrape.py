"""Direct scrape: each pod's /metrics through the API server's pod proxy, rates from successive scrapes.

No Prometheus needed (this is how `lookout demo` shows metrics), and a way to check Prometheus' figures.
The text format is parsed by prometheus_client's parser. Rates are counter increases between the newest
scrape and the oldest one still inside the window, per pod (a counter that went down was reset by a restart,
as Prometheus' rate() assumes), summed per track; latency quantiles interpolate the summed bucket increases
as histogram_quantile() does.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable

from tui.metrics.analysis import Measure, MetricsSettings, Reading
from tui.metrics.pods import TrackOf, is_running, no_traffic_finding, pod_name
from tui.metrics.queries import PLAIN, QUANTILES, Convention, TrackGrouping, build_queries
from tui.rollout.findings import Finding
from tui.textsafe import clean_line

# Scrape a sample of at most this many pods of a track per poll: every scrape is a request through the API
# server's pod proxy (~1 ms of our CPU each, plus parsing), and 10 pods give the track's per-pod rate and its
# latency distribution as well as 100 do; the totals are scaled to the track's running pods.
MAX_PODS_PER_TRACK = 10
CONCURRENCY = 16


@dataclass
class ReadContext:
    """What a source needs to know about the rollout for one poll."""

    namespace: str
    pods: list[dict]
    track_of: TrackOf
    services: list[dict] = field(default_factory=list)
    grouping: TrackGrouping = field(default_factory=lambda: TrackGrouping("track"))
    now: float = 0.0
    # tracks not expected to serve requests (a blue/green standby, pods with no port): no `no-traffic` for them
    quiet: frozenset = frozenset()
    unmeasured: frozenset = frozenset()  # tracks whose pods declare no port: nothing to scrape


@dataclass(frozen=True)
class Scrape:
    """The counters of one pod's /metrics that the figures need."""

    at: float
    total: float
    errors: float
    buckets: tuple[tuple[float, float], ...]  # (le, cumulative count), sorted, +Inf last
    has_requests: bool
    has_histogram: bool


def parse_exposition(text: str, at: float, status_label: str = "code",
                     requests_metric: str = "http_requests_total",
                     histogram: str = "http_request_duration_seconds") -> Scrape:
    from prometheus_client.parser import text_string_to_metric_families

    total = errors = 0.0
    buckets: dict[float, float] = {}
    has_req = has_hist = False
    req_base = requests_metric[:-6] if requests_metric.endswith("_total") else requests_metric
    for fam in text_string_to_metric_families(text):
        if fam.name in (req_base, requests_metric):
            for s in fam.samples:
                if s.name != requests_metric:
                    continue
                has_req = True
                total += s.value
                code = s.labels.get(status_label) or s.labels.get("code") or s.labels.get("status") or ""
                if code.startswith("5"):
                    errors += s.value
        elif fam.name == histogram:
            for s in fam.samples:
                if s.name == histogram + "_bucket":
                    has_hist = True
                    le = float(s.labels.get("le", "+Inf"))
                    buckets[le] = buckets.get(le, 0.0) + s.value
    return Scrape(at, total, errors, tuple(sorted(buckets.items())), has_req, has_hist)


def _increase(new: float, old: float) -> float:
    return new if new < old else new - old  # a counter that went down was reset


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile over cumulative (le, count) buckets; None without observations."""
    b = sorted(buckets)
    if not b or b[-1][0] != math.inf:
        return None
    total = b[-1][1]
    if total <= 0:
        return None
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in b:
        if c >= rank:
            if le == math.inf:
                return prev_le  # the highest finite bound, as Prometheus does
            if c == prev_c:
                return le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return b[-2][0] if len(b) > 1 else None


class DirectScrape:
    """A metrics source over the Kubernetes API server's pod proxy."""

    def __init__(self, client, settings: MetricsSettings | None = None, convention: Convention = PLAIN,
                 clock: Callable[[], float] = time.time):
        self.client = client
        self.settings = settings or MetricsSettings()
        self.convention = convention
        self.clock = clock
        self._scrapes: dict[str, deque[Scrape]] = {}
        self._polls = 0
        self.label = "direct scrape"

    def _port_and_path(self, pod: dict) -> tuple[str, str]:
        ann = (pod.get("metadata") or {}).get("annotations") or {}
        port = self.settings.metrics_port or ann.get("prometheus.io/port") or ""
        if not port:
            for c in (pod.get("spec") or {}).get("containers") or ():
                for p in c.get("ports") or ():
                    if p.get("containerPort"):
                        port = str(p["containerPort"])
                        break
                if port:
                    break
        path = (ann.get("prometheus.io/path") or self.settings.metrics_path or "metrics").strip("/")
        return port or "80", path

    async def _scrape(self, namespace: str, pod: dict) -> tuple[Scrape | None, str | None]:
        from tui.kube.client import ApiError, Unreachable

        name = pod_name(pod)
        port, path = self._port_and_path(pod)
        url = f"/api/v1/namespaces/{namespace}/pods/{name}:{port}/proxy/{path}"
        try:
            async with asyncio.timeout(self.settings.timeout):  # not wait_for: it can swallow a cancel
                text = await self.client.get_text(url)
        except TimeoutError:
            return None, f"GET {url}: no answer within {self.settings.timeout:g}s"
        except ApiError as e:
            return None, f"GET {url}: {e}"
        except Unreachable:
            raise
        try:
            c = self.convention
            return parse_exposition(text, self.clock(), self.settings.status_label or c.status_label,
                                    c.requests_metric, c.histogram), None
        except Exception as e:  # noqa: BLE001 - a malformed exposition is the target's fault: say so
            return None, f"GET {url}: not the Prometheus text format: {e}"

    async def read(self, ctx: ReadContext) -> Reading:
        from tui.kube.client import Unreachable

        now = self.clock()
        by_track: dict[str, list[dict]] = {}
        for p in ctx.pods:
            t = ctx.track_of(p)
            if t is not None and t not in ctx.unmeasured:
                by_track.setdefault(t, []).append(p)
        promql = build_queries(self.convention, ctx.grouping, namespace=ctx.namespace,
                               window=_window(self.settings.window), status_label=self.settings.status_label,
                               overrides=dict(self.settings.queries)).queries
        reading = Reading(at=now, source=self.label, promql=promql)
        targets = []
        for t, ps in by_track.items():
            running = [p for p in ps if is_running(p)]
            targets += [(t, p) for p in sample_pods(sorted(running, key=pod_name), MAX_PODS_PER_TRACK, self._polls)]
        self._polls += 1
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one(pod):
            async with sem:
                return await self._scrape(ctx.namespace, pod)

        try:
            results = await asyncio.gather(*(one(p) for _, p in targets))
        except Unreachable as e:
            reading.ok = False
            reading.error = f"the API server did not answer: {e}"
            return reading
        at = self.clock()
        reading.at = at
        live = set()
        down: dict[str, list[tuple[str, str]]] = {}
        scraped: dict[str, list[tuple[str, deque[Scrape]]]] = {}
        for (t, pod), (scrape, err) in zip(targets, results):
            name = pod_name(pod)
            live.add(name)
            if scrape is None:
                down.setdefault(t, []).append((name, err or "no answer"))
                self._scrapes.pop(name, None)
                continue
            ring = self._scrapes.setdefault(name, deque(maxlen=64))
            ring.append(scrape)
            while len(ring) > 2 and ring[1].at <= at - self.settings.window:
                ring.popleft()
            scraped.setdefault(t, []).append((name, ring))
        for name in list(self._scrapes):
            if name not in live:
                del self._scrapes[name]

        for t, ps in sorted(by_track.items()):
            dn = down.get(t, [])
            if dn:
                reading.findings.append(Finding(
                    "metrics-target-down", "warning", t,
                    f"/metrics of {len(dn)} of {len(dn) + len(scraped.get(t, []))} {t} pod(s) does not answer",
                    tuple((f"Pod/{n}", clean_line(e)) for n, e in dn[:5]), tuple(f"Pod/{n}" for n, _ in dn[:5])))
            rings = scraped.get(t, [])
            if not rings:
                if not dn:
                    reading.pending[t] = f"no running {t} pod to scrape"
                continue
            if not any(r[-1].has_requests for _, r in rings):
                reading.findings.append(Finding(
                    "no-series", "warning", t,
                    f"the {t} pods' /metrics has no {self.convention.requests_metric} series",
                    (("pods scraped", str(len(rings))), ("looked for", self.convention.requests_metric)),
                    tuple(f"Pod/{n}" for n, _ in rings[:5])))
                continue
            pairs = [(r[0], r[-1]) for _, r in rings if len(r) >= 2]
            if not pairs:
                reading.pending[t] = "first scrape: a rate needs a second one"
                continue
            rate = inc = errs = 0.0
            span_max = 0.0
            buckets: dict[float, float] = {}
            for old, new in pairs:
                span = new.at - old.at
                if span <= 0:
                    continue
                d = _increase(new.total, old.total)
                de = _increase(new.errors, old.errors) if new.total >= old.total else new.errors
                rate += d / span
                inc += d
                errs += de
                span_max = max(span_max, span)
                ob = dict(old.buckets)
                reset = new.total < old.total
                for le, c in new.buckets:
                    buckets[le] = buckets.get(le, 0.0) + (c if reset else _increase(c, ob.get(le, 0.0)))
            total_pods = len([p for p in ps if is_running(p)])
            scale = total_pods / len(pairs) if pairs and total_pods > len(pairs) else 1.0
            unit = self.convention.latency_unit
            q = {f: histogram_quantile(QUANTILES[f], buckets.items()) for f in QUANTILES}
            q = {f: (None if v is None else v * unit) for f, v in q.items()}
            m = Measure(
                request_rate_rps=rate * scale,
                error_ratio=(errs / inc) if inc > 0 else None,
                latency_p50_s=q["latency_p50_s"], latency_p95_s=q["latency_p95_s"], latency_p99_s=q["latency_p99_s"],
                requests=inc * scale, errors=errs * scale, window_s=span_max)
            reading.measures[t] = m
            if inc == 0 and t not in ctx.quiet:
                reading.findings.append(no_traffic_finding(
                    t, ps, ctx.pods, ctx.services, ctx.track_of,
                    f"0 requests in {span_max:.0f}s across {len(pairs)} pod(s), by direct scrape"))
        return reading


def sample_pods(pods: list[dict], k: int, poll: int) -> list[dict]:
    """At most k of `pods` (sorted), spread across them and rotating between polls so that every pod is scraped
    over time. The list is cut in k slots; slot i holds one pod for k polls, then moves on to the next pod of its
    slot, and the slots move on one per poll (staggered): each poll keeps k-1 pods of the previous one, whose
    second scrape gives a rate, while the sample still walks the whole track."""
    n = len(pods)
    if n <= k:
        return pods
    out = []
    for i in range(k):
        lo, hi = i * n // k, (i + 1) * n // k
        out.append(pods[lo + ((poll + i) // k) % (hi - lo)])
    return out


def _window(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60}m" if s % 60 == 0 and s >= 60 else f"{s}s"
