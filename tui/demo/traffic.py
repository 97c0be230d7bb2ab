"""The demo cluster's traffic model: per-pod request counters, latency histograms and resource use.

Rates are wall-clock: a served pod gets `rps / served pods` requests per second, shaped by its track's
profile (share of 5xx, lognormal latency from p50/p99). Counters are integrals of those rates, kept
per track as one running total (so 10,000 pods cost nothing per tick); a pod's counter is the track
total since the pod joined the Service's endpoints, plus what it accrued before. A container restart
starts its counters from zero, as a real process does.

When a traffic router splits the traffic Service's requests (an Istio VirtualService, an NGINX canary Ingress, an
SMI TrafficSplit: `set_groups`), each routed group of pods gets `rps x its weight / the weights' sum`, shared by
its pods, and the running totals are kept per (track, group).
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections import deque
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import generate_latest

from tui.demo.scenario import TrafficProfile

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
METHODS = (("GET", 0.7), ("POST", 0.3))
# (code, share of successful requests) and (code, share of failed requests)
OK_CODES = (("200", 0.995), ("404", 0.005))
ERROR_CODES = (("500", 0.7), ("503", 0.3))
CODES = tuple(c for c, _ in OK_CODES) + tuple(c for c, _ in ERROR_CODES)
HANDLER = "/api/v1/checkout"
MI = 1024 * 1024
HISTORY_SAMPLES = 1800  # 30 minutes of once-a-second totals

# layout of one accumulator vector
_N_REQ = len(METHODS) * len(CODES)
_B0 = _N_REQ  # first bucket
_COUNT = _B0 + len(BUCKETS)
_SUM = _COUNT + 1
_CPU = _SUM + 1
_LEN = _CPU + 1


def lognormal_cdf(x: float, p50: float, p99: float) -> float:
    if x <= 0:
        return 0.0
    mu = math.log(max(p50, 1e-6))
    sigma = max((math.log(max(p99, 1e-6)) - mu) / 2.3263, 1e-3)
    return 0.5 * (1.0 + math.erf((math.log(x) - mu) / (sigma * math.sqrt(2.0))))


def per_request_vector(p: TrafficProfile) -> list[float]:
    """What one request adds to each accumulator, in expectation."""
    v = [0.0] * _LEN
    i = 0
    for _, mshare in METHODS:
        for _, cshare in OK_CODES:
            v[i] = mshare * (1.0 - p.error_rate) * cshare
            i += 1
        for _, cshare in ERROR_CODES:
            v[i] = mshare * p.error_rate * cshare
            i += 1
    for j, b in enumerate(BUCKETS):
        v[_B0 + j] = lognormal_cdf(b, p.p50, p.p99)
    v[_COUNT] = 1.0
    mu = math.log(max(p.p50, 1e-6))
    sigma = max((math.log(max(p.p99, 1e-6)) - mu) / 2.3263, 1e-3)
    v[_SUM] = math.exp(mu + sigma * sigma / 2.0)
    v[_CPU] = p.cpu_per_request
    return v


@dataclass
class PodTraffic:
    track: str | None
    started: float  # wall time the container (process) started
    acc: list[float] = field(default_factory=lambda: [0.0] * _LEN)
    mark: list[float] | None = None  # the track's totals when the pod joined the endpoints; None = not served
    group: str = ""  # the routed group it is served in ("" = the traffic Service, evenly)
    jitter: float = 1.0
    mem_growth: float = 0.0  # bytes per second (a leaking or OOM-bound process)
    accrues_since: float | None = None  # wall time its counters last started following the track totals


class _Families:
    def __init__(self, fams):
        self.fams = fams

    def collect(self):
        return self.fams


class TrafficModel:
    def __init__(self, total_rps: float, profiles: dict[str, TrafficProfile], now: float):
        self.total_rps = total_rps
        self.profiles: dict[str, TrafficProfile] = dict(profiles)
        self._vec: dict[str, list[float]] = {}
        self.totals: dict[str, list[float]] = {}
        self.pods: dict[tuple[str, str], PodTraffic] = {}
        self.served: set[tuple[str, str]] = set()
        self.last = now
        self.endpoints: set[tuple[str, str]] = set()  # the traffic Service's ready endpoints (set_served)
        self.groups: tuple | None = None  # ((group, weight, frozenset(pod keys)), ...) from a traffic router
        self.group_rate: dict[str, float] = {}  # per-pod rps in each routed group
        # the track totals once a second (wall time), for counter increases over a window (PromQL ranges)
        self.history: deque[tuple[float, dict[str, list[float]]]] = deque(maxlen=HISTORY_SAMPLES)

    # ---------------------------------------------------------------- model inputs
    def profile(self, track: str | None) -> TrafficProfile:
        if track is None:
            return _DEFAULT
        p = self.profiles.get(track)
        if p is None:
            p = self.profiles[track] = TrafficProfile()
        return p

    def _totals(self, track: str | None, group: str = "") -> list[float]:
        key = (track or "", group)
        t = self.totals.get(key)
        if t is None:
            t = self.totals[key] = [0.0] * _LEN
        return t

    def per_pod_rps(self) -> float:
        return self.total_rps / len(self.served) if self.served else 0.0

    def _rate(self, group: str) -> float:
        return self.group_rate.get(group, 0.0) if group else self.per_pod_rps()

    def advance(self, now: float) -> None:
        """Accrue the track totals up to `now` at the current rates."""
        dt = now - self.last
        if dt <= 0:
            return
        self.last = now
        for (track, group), tot in self.totals.items():
            r = self._rate(group) * dt
            if r <= 0:
                continue
            vec = self._vec.get(track)
            if vec is None:
                vec = self._vec[track] = per_request_vector(self.profile(track or None))
            for i in range(_LEN):
                tot[i] += r * vec[i]
        if not self.history or now - self.history[-1][0] >= 1.0:
            self.history.append((now, {k: list(v) for k, v in self.totals.items()}))

    def set_profile(self, track: str, prof: TrafficProfile, now: float) -> None:
        if self.profiles.get(track) == prof:
            return
        self.advance(now)
        self.profiles[track] = prof
        self._vec.pop(track, None)

    def set_rps(self, rps: float, now: float) -> None:
        self.advance(now)
        self.total_rps = rps

    # ---------------------------------------------------------------- pods
    def add_pod(self, key: tuple[str, str], track: str | None, started: float, base_memory_mi: float | None = None):
        if key in self.pods:
            return self.pods[key]
        self._totals(track)
        jitter = 0.85 + (zlib.crc32(("%s/%s" % key).encode()) % 1000) / 1000 * 0.3
        pt = self.pods[key] = PodTraffic(track=track, started=started, jitter=jitter)
        return pt

    def remove_pod(self, key, now: float) -> None:
        if key in self.served and self.groups is not None:
            self.advance(now)
            self.served.discard(key)
            self.endpoints.discard(key)
        elif key in self.served:
            self.set_served(self.served - {key}, now)
        self.pods.pop(key, None)

    def _checkpoint(self, pt: PodTraffic) -> None:
        if pt.mark is not None:
            tot = self._totals(pt.track, pt.group)
            for i in range(_LEN):
                pt.acc[i] += tot[i] - pt.mark[i]
            pt.mark = list(tot)

    def set_track(self, key, track: str | None, now: float) -> None:
        pt = self.pods.get(key)
        if pt is None or pt.track == track:
            return
        self.advance(now)
        self._checkpoint(pt)
        pt.track = track
        if pt.mark is not None:
            pt.mark = list(self._totals(track, pt.group))
            pt.accrues_since = now

    def set_served(self, served: set, now: float) -> None:
        """The ready endpoints of the traffic Service changed: the rate per pod and who accrues change."""
        self.endpoints = set(served)
        if self.groups is not None or served == self.served:
            return
        self.advance(now)
        for key in self.served - served:
            pt = self.pods.get(key)
            if pt is not None:
                self._checkpoint(pt)
                pt.mark = None
        for key in served - self.served:
            pt = self.pods.get(key)
            if pt is not None:
                pt.group = ""
                pt.mark = list(self._totals(pt.track))
                pt.accrues_since = now
        self.served = set(served)

    def set_groups(self, groups: list[tuple[str, float, set]] | None, now: float) -> None:
        """A traffic router's split of the traffic Service: (group, weight, ready pods) in the router's order; a
        pod in two groups is served in the first. None: no router, the Service's endpoints share evenly."""
        frozen = None if groups is None else tuple((g, float(w), frozenset(keys)) for g, w, keys in groups)
        if frozen == self.groups:
            return
        self.advance(now)
        want: dict = {}
        rate: dict[str, float] = {}
        if frozen is None:
            want = {k: "" for k in self.endpoints}
        else:
            total_w = sum(max(0.0, w) for _, w, _ in frozen)
            for g, w, keys in frozen:
                mine = [k for k in sorted(keys) if k not in want]
                for k in mine:
                    want[k] = g
                rate[g] = (self.total_rps * max(0.0, w) / total_w / len(mine)) if (total_w > 0 and mine) else 0.0
        for key in set(self.served) | set(want):
            pt = self.pods.get(key)
            if pt is None:
                continue
            g = want.get(key)
            if key in self.served and (g is None or g != pt.group):
                self._checkpoint(pt)
                pt.mark = None
            if g is not None and pt.mark is None:
                pt.group = g
                pt.mark = list(self._totals(pt.track, g))
                pt.accrues_since = now
        self.groups = frozen
        self.group_rate = rate
        self.served = set(want)

    def restart(self, key, now: float) -> None:
        """A new process: counters start from zero."""
        pt = self.pods.get(key)
        if pt is None:
            return
        self.advance(now)
        pt.acc = [0.0] * _LEN
        pt.started = now
        if pt.mark is not None:
            pt.mark = list(self._totals(pt.track, pt.group))
            pt.accrues_since = now

    def counters(self, key, now: float) -> list[float] | None:
        pt = self.pods.get(key)
        if pt is None:
            return None
        self.advance(now)
        out = list(pt.acc)
        if pt.mark is not None:
            tot = self._totals(pt.track, pt.group)
            for i in range(_LEN):
                out[i] += tot[i] - pt.mark[i]
        return out

    # ---------------------------------------------------------------- increases over a window
    def _totals_at(self, track: str | None, group: str, t: float) -> list[float]:
        """The totals of a track (in a routed group) at wall time `t`, interpolated between the once-a-second
        samples."""
        key = (track or "", group)
        now_tot = self._totals(track, group)
        pts = [(ts, tots.get(key)) for ts, tots in self.history]
        pts = [(ts, v) for ts, v in pts if v is not None] + [(self.last, now_tot)]
        times = [ts for ts, _ in pts]
        i = bisect.bisect_right(times, t)
        if i == 0:
            return list(pts[0][1])
        if i >= len(pts):
            return list(now_tot)
        (t0, a), (t1, b) = pts[i - 1], pts[i]
        f = 0.0 if t1 <= t0 else (t - t0) / (t1 - t0)
        return [x + (y - x) * f for x, y in zip(a, b)]

    def increase(self, key, window: float, now: float) -> list[float] | None:
        """What the pod's counters grew by over the last `window` wall seconds (None: no such pod).

        A pod not served now counts nothing; one that joined (or restarted) inside the window counts from then.
        """
        pt = self.pods.get(key)
        if pt is None:
            return None
        self.advance(now)
        if pt.mark is None:
            return [0.0] * _LEN
        start = max(now - window, pt.accrues_since if pt.accrues_since is not None else now - window)
        then = self._totals_at(pt.track, pt.group, start)
        cur = self._totals(pt.track, pt.group)
        return [max(0.0, c - t) for c, t in zip(cur, then)]

    def window_stats(self, keys, window: float, now: float) -> "WindowStats":
        """Requests, 5xx and the latency histogram of these pods over the last `window` wall seconds: what
        `sum(rate(http_requests_total{...}[window]))` and friends would say (for the demo's analysis controllers)."""
        tot = [0.0] * _LEN
        for k in keys:
            inc = self.increase(k, window, now)
            if inc is not None:
                for i in range(_LEN):
                    tot[i] += inc[i]
        return WindowStats(tot, window)

    def pod_rps(self, key) -> float:
        if key not in self.served:
            return 0.0
        pt = self.pods.get(key)
        return self._rate(pt.group) if pt is not None else self.per_pod_rps()

    # ---------------------------------------------------------------- outputs
    def cpu_cores(self, key, now: float) -> float:
        pt = self.pods.get(key)
        if pt is None:
            return 0.0
        p = self.profile(pt.track)
        return (p.base_cpu + p.cpu_per_request * self.pod_rps(key)) * pt.jitter

    def memory_bytes(self, key, now: float) -> float:
        pt = self.pods.get(key)
        if pt is None:
            return 0.0
        p = self.profile(pt.track)
        up = max(0.0, now - pt.started)
        return (p.base_memory_mi * MI + 0.4 * MI * self.pod_rps(key)) * pt.jitter + pt.mem_growth * up

    def exposition(self, key, now: float) -> str | None:
        """The pod's /metrics in the Prometheus text format (prometheus_client writes it)."""
        pt = self.pods.get(key)
        c = self.counters(key, now)
        if pt is None or c is None:
            return None
        p = self.profile(pt.track)
        req = CounterMetricFamily("http_requests_total", "Total HTTP requests handled, by method and status code.",
                                  labels=["handler", "method", "code"])
        i = 0
        for method, _ in METHODS:
            for code in CODES:
                n = math.floor(c[i] + 1e-9)
                if n > 0 or code == "200":
                    req.add_metric([HANDLER, method, code], n)
                i += 1
        hist = HistogramMetricFamily("http_request_duration_seconds", "HTTP request latency in seconds.",
                                     labels=["handler"])
        count = math.floor(c[_COUNT] + 1e-9)
        buckets = []
        prev = 0
        for j, b in enumerate(BUCKETS):
            n = min(count, max(prev, math.floor(c[_B0 + j] + 1e-9)))
            buckets.append((_fmt_le(b), n))
            prev = n
        buckets.append(("+Inf", count))
        hist.add_metric([HANDLER], buckets, sum_value=round(c[_SUM], 6))
        up = max(0.0, now - pt.started)
        cpu = CounterMetricFamily("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.")
        cpu.add_metric([], round(p.base_cpu * pt.jitter * up + c[_CPU], 6))
        mem = GaugeMetricFamily("process_resident_memory_bytes", "Resident memory size in bytes.")
        mem.add_metric([], float(int(self.memory_bytes(key, now))))
        start = GaugeMetricFamily("process_start_time_seconds",
                                  "Start time of the process since unix epoch in seconds.")
        start.add_metric([], round(pt.started, 3))
        return generate_latest(_Families([req, hist, cpu, mem, start])).decode()


@dataclass(frozen=True)
class WindowStats:
    """Counter increases of some pods over a window (see TrafficModel.window_stats)."""

    vector: list[float]
    window: float

    @property
    def requests(self) -> float:
        return self.vector[_COUNT]

    @property
    def errors(self) -> float:
        """5xx responses."""
        return sum(self.vector[i] for i in series_indexes(code_prefix="5"))

    def error_rate(self) -> float:
        """The 5xx share of requests (NaN with no requests, as 0/0 is in PromQL)."""
        return self.errors / self.requests if self.requests > 0 else math.nan

    def latency_quantile(self, q: float) -> float:
        """histogram_quantile(q, ...) over the window's buckets (NaN with no requests)."""
        buckets = [(b, self.vector[_B0 + j]) for j, b in enumerate(BUCKETS)] + [(math.inf, self.vector[_COUNT])]
        return bucket_quantile(q, buckets)


def series_indexes(code_prefix: str = "") -> list[int]:
    """Indexes of the http_requests_total series (method x code) whose code starts with `code_prefix`."""
    out, i = [], 0
    for _m, _ in METHODS:
        for code in CODES:
            if code.startswith(code_prefix):
                out.append(i)
            i += 1
    return out


def request_series() -> list[tuple[int, str, str]]:
    """(index, method, code) of each http_requests_total series in an accumulator vector."""
    out, i = [], 0
    for m, _ in METHODS:
        for code in CODES:
            out.append((i, m, code))
            i += 1
    return out


BUCKET_INDEX = _B0
COUNT_INDEX = _COUNT
SUM_INDEX = _SUM


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus' bucketQuantile (promql/quantile.go): linear interpolation inside the bucket holding the rank."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    buckets = sorted(buckets)
    if not buckets or not math.isinf(buckets[-1][0]):
        return math.nan
    mono, top = [], 0.0  # ensureMonotonic
    for ub, c in buckets:
        top = max(top, c)
        mono.append((ub, top))
    buckets = mono
    if len(buckets) < 2:
        return math.nan
    observations = buckets[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next(i for i, (_, c) in enumerate(buckets) if c >= rank)
    if b == len(buckets) - 1:
        return buckets[-2][0]
    if b == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start, end, count = 0.0, buckets[b][0], buckets[b][1]
    if b > 0:
        start = buckets[b - 1][0]
        count -= buckets[b - 1][1]
        rank -= buckets[b - 1][1]
    return start + (end - start) * (rank / count) if count > 0 else start


def _fmt_le(b: float) -> str:
    return repr(float(b))


_DEFAULT = TrafficProfile()
