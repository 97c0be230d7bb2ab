"""Canary analysis: figures per track, deltas, 15-minute history, resource checks and the verdict with its reasons.

Plain data in, plain data out: sources (scrape.py, prometheus.py) hand over a Reading; `Analysis.update`
turns it, the pods and their resource usage into a CompareState, which the pane and `lookout status` show.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field, replace
from statistics import NormalDist
from typing import Callable, Iterable, Mapping

from tui.rollout.findings import Finding, sort_findings
from tui.rollout.tracks import track_sort_key

FIGURES = ("request_rate_rps", "error_ratio", "latency_p50_s", "latency_p95_s", "latency_p99_s",
           "restarts", "cpu_cores", "memory_bytes")
FIGURE_TITLES = {
    "request_rate_rps": "requests/s", "error_ratio": "5xx share", "latency_p50_s": "p50 latency",
    "latency_p95_s": "p95 latency", "latency_p99_s": "p99 latency", "restarts": "restarts",
    "cpu_cores": "CPU / pod", "memory_bytes": "memory / pod",
}
# Which figures keep a sparkline history.
HISTORY_FIGURES = ("request_rate_rps", "error_ratio", "latency_p99_s", "cpu_cores", "memory_bytes")
DECISIONS = ("promote", "hold", "rollback", "no-data")
CANDIDATES = ("canary", "preview", "green")  # the version under test, in order of preference
BASELINES = ("stable", "primary", "active", "blue")  # primary: Flagger

# Codes of the findings that explain missing data.
NO_DATA_CODES = ("prometheus-unreachable", "query-error", "no-series", "nan-result", "multiple-series",
                 "prometheus-warnings", "metrics-target-down", "no-traffic")


@dataclass(frozen=True)
class MetricsSettings:
    """[metrics] in the config file: how figures are computed and judged beyond the [thresholds]."""

    convention: str = "plain"  # plain | istio | linkerd | nginx
    window: float = 60.0  # seconds of the rate window (PromQL [1m]; direct scrape: successive scrapes)
    interval: float = 5.0  # seconds between polls
    history: float = 900.0  # seconds of sparkline history (15 minutes)
    min_requests: int = 100  # below this many canary requests in the window: HOLD, not-enough-traffic
    confidence: float = 0.99  # one-sided two-proportion z-test confidence for "worse than stable"
    latency_regression_percent: float = 50.0  # canary p99 this much above stable's is worse ...
    latency_regression_min_ms: float = 25.0  # ... when the difference is at least this many ms
    track_label: str | None = None  # Prometheus label telling tracks apart; None = from the pods' labels
    status_label: str | None = None  # code | status; None = the convention's
    namespace_label: str = "namespace"
    pod_label: str = "pod"
    metrics_port: str = ""  # direct scrape: pod port of /metrics; "" = the first container port
    metrics_path: str = "metrics"
    queries: Mapping[str, str] = field(default_factory=dict)  # figure -> PromQL template override
    timeout: float = 10.0  # seconds per query or scrape
    # [metrics.rollouts.<name>] / [metrics.rollouts."<namespace>/<name>"]: per-rollout overrides, each the
    # keys given in its table (validated like [metrics]); `for_target` applies the one that matches.
    rollouts: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    def override_for(self, target) -> tuple[str, Mapping[str, object]] | None:
        """The [metrics.rollouts] entry for `target` (a tui.rollout.target.Target) and its key, or None.
        Looked up by the workload's name (a label target's: its label value), then by the value of the
        `app` label its pods are selected by; "<namespace>/<name>" wins over a bare name."""
        if target is None or not self.rollouts:
            return None
        ns = getattr(target, "namespace", "") or ""
        names = [getattr(target, "name", "") or ""]
        try:
            reqs = target.pod_selector().requirements if getattr(target, "selector", "") else ()
        except Exception:  # noqa: BLE001 - a selector that does not parse simply offers no app name
            reqs = ()
        names += [next(iter(vals)) for key, op, vals in reqs if key == "app" and op == "=" and len(vals) == 1]
        for name in dict.fromkeys(n for n in names if n):
            for key in ((f"{ns}/{name}",) if ns else ()) + (name,):
                if key in self.rollouts:
                    return key, self.rollouts[key]
        return None

    def for_target(self, target) -> "MetricsSettings":
        """These settings with the matching [metrics.rollouts] override applied (keys it sets replace
        these; its queries replace [metrics.queries] figure by figure, unless it changes the convention,
        when the base queries, written for another convention's series, are dropped)."""
        found = self.override_for(target)
        if found is None:
            return replace(self, rollouts={})
        over = dict(found[1])
        changes_convention = over.get("convention", self.convention) != self.convention
        base_queries = {} if changes_convention else dict(self.queries)
        over["queries"] = {**base_queries, **dict(over.get("queries") or {})}
        return replace(self, rollouts={}, **over)


# ---- what sources hand over ----------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One track's request figures over the window; None where unknown."""

    request_rate_rps: float | None = None
    error_ratio: float | None = None
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    latency_p99_s: float | None = None
    requests: float | None = None  # requests counted in the window (for the statistical guard)
    errors: float | None = None
    window_s: float | None = None


@dataclass
class Reading:
    """What a source measured at one moment."""

    at: float
    source: str  # "direct scrape" | "prometheus http://..."
    ok: bool = True  # the source answered (False: keep the last figures, mark them stale)
    measures: dict[str, Measure] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    promql: dict[str, str] = field(default_factory=dict)  # figure -> PromQL, for every track
    # Prometheus range queries: (track, figure) -> [(t, v)] over the history window; replaces the rings.
    ranges: dict[tuple[str, str], list[tuple[float, float]]] = field(default_factory=dict)
    error: str | None = None
    pending: dict[str, str] = field(default_factory=dict)  # track -> why it has no figures yet (not a fault)


@dataclass(frozen=True)
class PodInfo:
    """What the analysis needs of one pod."""

    name: str
    track: str | None
    restarts: int = 0
    ready: bool = False
    cpu_limit_cores: float | None = None
    memory_limit_bytes: float | None = None
    cpu_cores: float | None = None  # from metrics.k8s.io
    memory_bytes: float | None = None


# ---- what the pane shows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackFigures:
    name: str
    role: str  # "candidate" | "baseline" | ""
    pods: tuple[str, ...]
    request_rate_rps: float | None = None
    error_ratio: float | None = None
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    latency_p99_s: float | None = None
    restarts: int | None = None
    cpu_cores: float | None = None  # mean per pod
    memory_bytes: float | None = None  # mean per pod
    requests: float | None = None
    errors: float | None = None
    window_s: float | None = None

    def get(self, figure: str):
        return getattr(self, figure)

    def figures(self) -> dict[str, float | int | None]:
        return {f: getattr(self, f) for f in FIGURES}


@dataclass(frozen=True)
class Reason:
    """One reason behind a verdict: a stable code, one sentence with its numbers, the numbers, the PromQL."""

    code: str
    text: str
    values: tuple[tuple[str, float | int | str | None], ...] = ()
    promql: str | None = None
    decision: str = "hold"  # which decision this reason argues for

    def values_dict(self) -> dict:
        return dict(self.values)


@dataclass(frozen=True)
class Verdict:
    decision: str  # promote | hold | rollback | no-data
    reasons: tuple[Reason, ...] = ()

    @property
    def label(self) -> str:
        return {"no-data": "NO DATA"}.get(self.decision, self.decision.upper())


@dataclass(frozen=True)
class CompareState:
    """Everything the canary-vs-stable pane and `lookout status` show."""

    tracks: tuple[TrackFigures, ...]
    verdict: Verdict
    findings: tuple[Finding, ...] = ()
    deltas: dict[str, float | None] = field(default_factory=dict)  # figure -> candidate vs baseline, relative
    history: dict[tuple[str, str], tuple[float, ...]] = field(default_factory=dict)  # (track, figure) -> values
    promql: dict[str, str] = field(default_factory=dict)
    source: str = ""
    updated_at: float | None = None  # when the figures were measured
    now: float = 0.0
    stale: bool = False  # the last poll failed: figures are from `updated_at`
    error: str | None = None

    @property
    def age(self) -> float | None:
        return None if self.updated_at is None else max(0.0, self.now - self.updated_at)

    def track(self, name: str) -> TrackFigures | None:
        return next((t for t in self.tracks if t.name == name), None)


EMPTY_STATE = CompareState(tracks=(), verdict=Verdict("no-data", (Reason("no-reading", "no metrics yet", decision="no-data"),)))


# ---- history ----------------------------------------------------------------------------------------


class History:
    """Bounded rings of (wall time, value) per (track, figure), trimmed to `span` seconds."""

    def __init__(self, span: float = 900.0, max_points: int = 2000):
        self.span = span
        self.max_points = max_points
        self._rings: dict[tuple[str, str], deque] = {}

    def add(self, track: str, figure: str, t: float, value: float | None) -> None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        ring = self._rings.get((track, figure))
        if ring is None:
            ring = self._rings[(track, figure)] = deque(maxlen=self.max_points)
        if ring and ring[-1][0] >= t:
            return
        ring.append((t, float(value)))
        self._trim(ring, t)

    def replace(self, track: str, figure: str, points: Iterable[tuple[float, float]], now: float) -> None:
        ring = deque((p for p in points if not math.isnan(p[1])), maxlen=self.max_points)
        self._rings[(track, figure)] = ring
        self._trim(ring, now)

    def _trim(self, ring: deque, now: float) -> None:
        while ring and ring[0][0] < now - self.span:
            ring.popleft()

    def points(self, track: str, figure: str) -> list[tuple[float, float]]:
        return list(self._rings.get((track, figure), ()))

    def values(self, track: str, figure: str) -> tuple[float, ...]:
        return tuple(v for _, v in self._rings.get((track, figure), ()))

    def held_for(self, track: str, figure: str, predicate: Callable[[float], bool], now: float) -> float:
        """Seconds the condition has held without a break up to the newest point (0 if it does not hold now)."""
        pts = self._rings.get((track, figure))
        if not pts or not predicate(pts[-1][1]):
            return 0.0
        start = pts[-1][0]
        for t, v in reversed(pts):
            if not predicate(v):
                break
            start = t
        return max(0.0, now - start)

    def tracks(self) -> set[str]:
        return {k[0] for k in self._rings}

    def clear(self) -> None:
        self._rings.clear()


# ---- statistics ---------------------------------------------------------------------------------------


def two_proportion_z(e1: float, n1: float, e2: float, n2: float) -> float | None:
    """z of p1 - p2 (pooled); None when it cannot be computed (no requests, or no errors on either side)."""
    if not n1 or not n2 or n1 <= 0 or n2 <= 0:
        return None
    p = (e1 + e2) / (n1 + n2)
    if p <= 0 or p >= 1:
        return None
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    return (e1 / n1 - e2 / n2) / se


def one_proportion_z(e: float, n: float, p0: float) -> float | None:
    """z of the observed share e/n against p0."""
    if not n or n <= 0 or p0 <= 0 or p0 >= 1:
        return None
    return (e / n - p0) / math.sqrt(p0 * (1 - p0) / n)


def z_critical(confidence: float) -> float:
    return NormalDist().inv_cdf(confidence)


# ---- formatting ---------------------------------------------------------------------------------------


def fmt_percent(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    p = x * 100
    if p == 0:
        return "0 %"
    if p < 0.01:
        return "<0.01 %"
    if p < 10:
        return f"{p:.2f} %"
    return f"{p:.1f} %"


def fmt_seconds_latency(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if x < 1:
        return f"{x * 1000:.0f} ms"
    return f"{x:.2f} s"


def fmt_duration(s: float) -> str:
    s = max(0, int(round(s)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def fmt_bytes(x: float | None) -> str:
    if x is None:
        return "-"
    for unit, f in (("Gi", 1024 ** 3), ("Mi", 1024 ** 2), ("Ki", 1024)):
        if x >= f:
            return f"{x / f:.1f} {unit}"
    return f"{x:.0f} B"


def fmt_figure(figure: str, v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if figure == "request_rate_rps":
        return f"{v:.1f}/s" if v < 100 else f"{v:.0f}/s"
    if figure == "error_ratio":
        return fmt_percent(v)
    if figure.startswith("latency_"):
        return fmt_seconds_latency(v)
    if figure == "restarts":
        return str(int(v))
    if figure == "cpu_cores":
        return f"{v * 1000:.0f}m"
    if figure == "memory_bytes":
        return fmt_bytes(v)
    return f"{v:g}"


def fmt_delta(d: float | None) -> str:
    if d is None or math.isnan(d):
        return "-"
    if math.isinf(d):
        return "new" if d > 0 else "-100 %"
    r = round(d * 100)
    return "0 %" if r == 0 else f"{r:+d} %"  # not "-0 %" for -0.3 %


# ---- the verdict ---------------------------------------------------------------------------------------


def pick_roles(tracks: Iterable[str]) -> tuple[str | None, str | None]:
    """(candidate, baseline) among the tracks present."""
    present = set(tracks)
    cand = next((t for t in CANDIDATES if t in present), None)
    base = next((t for t in BASELINES if t in present), None)
    return cand, base


def decide(candidate: TrackFigures | None, baseline: TrackFigures | None, *, thresholds, settings: MetricsSettings,
           history: History, findings: Iterable[Finding], promql: Mapping[str, str], now: float,
           pending: Mapping[str, str] | None = None, idle: Reason | None = None) -> Verdict:
    """PROMOTE / HOLD / ROLLBACK / NO DATA with every reason and its numbers. Worst wins: rollback > no data
    > hold > promote; all reasons for the winning decision (and the holds under a rollback) are kept."""
    findings = list(findings)
    subject = candidate or baseline
    reasons: list[Reason] = []
    if subject is None:
        return Verdict("no-data", (Reason("no-tracks", "no pods of the rollout to measure", decision="no-data"),))
    who = subject.name
    if candidate is None and idle is not None:
        reasons.append(idle)  # a standby candidate: judged by the track that serves
    elif candidate is None:
        reasons.append(Reason("no-candidate", f"no canary or preview track: judging {who} alone against the "
                                              "success criteria", (("track", who),), decision="promote"))

    # -- no data: say why, by the findings' codes
    rate = subject.request_rate_rps
    mine = [f for f in findings if f.code in NO_DATA_CODES and f.track in (who, None)]
    if rate is None or rate == 0:
        if not mine and (pending or {}).get(who):
            reasons.append(Reason("warming-up", f"{who}: {pending[who]}", (("track", who),), None, "no-data"))
            return Verdict("no-data", tuple(reasons))
        if not mine:
            mine = [Finding("no-series" if rate is None else "no-traffic", "warning", who,
                            f"no request figures for the {who} track", ())]
        for f in mine:
            reasons.append(Reason(f.code, f.summary, tuple((k, v) for k, v in f.evidence),
                                  promql.get("request_rate_rps"), decision="no-data"))
        return Verdict("no-data", tuple(reasons))

    ok_ratio = thresholds.error_rate_ok_percent / 100
    rb_ratio = thresholds.error_rate_rollback_percent / 100
    p99_ok = thresholds.p99_ok_ms / 1000
    p99_rb = thresholds.p99_rollback_ms / 1000
    zc = z_critical(settings.confidence)
    conf = f"{settings.confidence * 100:g} %"
    n, e = subject.requests, subject.errors
    er = subject.error_ratio
    p99 = subject.latency_p99_s
    q_err, q_p99 = promql.get("error_ratio"), promql.get("latency_p99_s")
    w = fmt_duration(subject.window_s) if subject.window_s else "the window"

    # -- latency: seed 002 rolls back when latency > 500 ms, judged over enough requests (like the error rate): the
    # p99 of a handful of requests is their slowest one, not the track's latency
    enough = n is not None and n >= settings.min_requests
    if p99 is not None and not math.isnan(p99) and p99 > p99_rb and enough:
        reasons.append(Reason(
            "latency-above-rollback",
            f"{who} p99 latency {fmt_seconds_latency(p99)} > {thresholds.p99_rollback_ms:g} ms (rollback criterion)",
            (("track", who), ("latency_p99_s", round(p99, 6)), ("threshold_s", p99_rb)), q_p99, "rollback"))

    # -- error rate: > 5 % held for error_rate_rollback_for seconds of wall time
    if er is not None and not math.isnan(er) and er > rb_ratio and enough:
        held = history.held_for(who, "error_ratio", lambda v: v > rb_ratio, now)
        need = thresholds.error_rate_rollback_for
        vals = (("track", who), ("error_ratio", round(er, 6)), ("threshold", rb_ratio), ("held_s", round(held, 1)),
                ("required_s", need), ("requests", _r(n)), ("errors", _r(e)))
        if held >= need:
            reasons.append(Reason(
                "error-rate-above-rollback",
                f"{who} 5xx share {fmt_percent(er)} > {thresholds.error_rate_rollback_percent:g} % "
                f"for {fmt_duration(held)} (rollback after {fmt_duration(need)})", vals, q_err, "rollback"))
        else:
            reasons.append(Reason(
                "error-rate-above-rollback-pending",
                f"{who} 5xx share {fmt_percent(er)} > {thresholds.error_rate_rollback_percent:g} % "
                f"for {fmt_duration(held)} of the {fmt_duration(need)} that call a rollback", vals, q_err, "hold"))

    # -- the statistical guard: too few requests to tell anything
    if not enough:
        reasons.append(Reason(
            "not-enough-traffic",
            f"{who} served {_r(n) if n is not None else 'an unknown number of'} requests in {w}; "
            f"at least {settings.min_requests} are needed to judge",
            (("track", who), ("requests", _r(n)), ("min_requests", settings.min_requests)),
            promql.get("request_rate_rps"), "hold"))
    else:
        # -- success criterion: error rate < 0.1 %, unless not significantly above it
        if er is not None and not math.isnan(er) and er >= ok_ratio and not any(
                r.code.startswith("error-rate-above-rollback") for r in reasons):
            z = one_proportion_z(e or 0.0, n, ok_ratio)
            if z is not None and z > zc:
                reasons.append(Reason(
                    "error-rate-above-success",
                    f"{who} 5xx share {fmt_percent(er)} ({_r(e)} of {_r(n)}) is above the "
                    f"{thresholds.error_rate_ok_percent:g} % success criterion (z = {z:.2f} > {zc:.2f}, {conf})",
                    (("track", who), ("error_ratio", round(er, 6)), ("threshold", ok_ratio), ("z", round(z, 3)),
                     ("requests", _r(n)), ("errors", _r(e))), q_err, "hold"))
        # -- comparison with the baseline: only a significant difference counts
        if baseline is not None and candidate is not None and baseline.requests and baseline.errors is not None \
                and e is not None:
            z = two_proportion_z(e, n, baseline.errors, baseline.requests)
            be = baseline.error_ratio
            if z is not None and z > zc and er is not None and be is not None and er > be:
                rel = (er / be - 1) if be > 0 else math.inf
                reasons.append(Reason(
                    "error-rate-worse-than-stable",
                    f"{who} 5xx share {fmt_percent(er)} vs {baseline.name} {fmt_percent(be)} "
                    f"({fmt_delta(rel)}), significant at {conf} (z = {z:.2f} > {zc:.2f})",
                    (("track", who), ("error_ratio", round(er, 6)), ("baseline", baseline.name),
                     ("baseline_error_ratio", round(be, 6)), ("z", round(z, 3)), ("confidence", settings.confidence),
                     ("requests", _r(n)), ("baseline_requests", _r(baseline.requests))), q_err, "hold"))

    # -- latency success criterion and comparison
    if p99 is not None and not math.isnan(p99) and p99_ok < p99 and (p99 <= p99_rb or not enough):
        reasons.append(Reason(
            "latency-above-success",
            f"{who} p99 latency {fmt_seconds_latency(p99)} > {thresholds.p99_ok_ms:g} ms success criterion",
            (("track", who), ("latency_p99_s", round(p99, 6)), ("threshold_s", p99_ok)), q_p99, "hold"))
    if baseline is not None and candidate is not None and p99 is not None and baseline.latency_p99_s \
            and not math.isnan(p99) and p99 <= p99_rb:
        bp = baseline.latency_p99_s
        rel = p99 / bp - 1
        if rel * 100 > settings.latency_regression_percent and (p99 - bp) * 1000 >= settings.latency_regression_min_ms:
            reasons.append(Reason(
                "latency-worse-than-stable",
                f"{who} p99 latency {fmt_seconds_latency(p99)} vs {baseline.name} {fmt_seconds_latency(bp)} "
                f"({fmt_delta(rel)}, more than +{settings.latency_regression_percent:g} %)",
                (("track", who), ("latency_p99_s", round(p99, 6)), ("baseline", baseline.name),
                 ("baseline_latency_p99_s", round(bp, 6))), q_p99, "hold"))
    if p99 is None and enough:
        reasons.append(Reason("latency-unknown", f"{who} p99 latency is unknown (no histogram series)",
                              (("track", who),), q_p99, "hold"))

    if any(r.decision == "rollback" for r in reasons):
        decision = "rollback"
    elif any(r.decision == "hold" for r in reasons):
        decision = "hold"
    else:
        decision = "promote"
        reasons.append(Reason(
            "success-criteria-met",
            f"{who}: 5xx share {fmt_percent(er)} (success < {thresholds.error_rate_ok_percent:g} %), p99 "
            f"{fmt_seconds_latency(p99)} (success < {thresholds.p99_ok_ms:g} ms) over {_r(n)} requests"
            + (f"; not worse than {baseline.name}" if baseline is not None and candidate is not None else ""),
            (("track", who), ("error_ratio", None if er is None else round(er, 6)),
             ("latency_p99_s", None if p99 is None else round(p99, 6)), ("requests", _r(n))), q_err, "promote"))
    order = {"rollback": 0, "hold": 1, "promote": 2, "no-data": 3}
    reasons.sort(key=lambda r: order.get(r.decision, 9))
    if decision != "promote":
        reasons = [r for r in reasons if r.decision != "promote" or r.code in ("no-candidate", "standby-idle")]
    return Verdict(decision, tuple(reasons))


def _r(x):
    if x is None:
        return None
    return int(round(x))


# ---- resource checks (seed 003) -------------------------------------------------------------------------


def resource_findings(pods: Iterable[PodInfo], history: History, thresholds, now: float,
                      min_span: float = 60.0) -> list[Finding]:
    """CPU or memory over 80 % of the limit (per pod); memory trend last > 1.5 x first over the window (per track)."""
    out: list[Finding] = []
    by_track: dict[str | None, list[PodInfo]] = {}
    for p in pods:
        by_track.setdefault(p.track, []).append(p)
    for track, ps in by_track.items():
        for what, use, limit, pct, code in (
            ("CPU", "cpu_cores", "cpu_limit_cores", thresholds.cpu_warning_percent, "cpu-near-limit"),
            ("memory", "memory_bytes", "memory_limit_bytes", thresholds.memory_warning_percent, "memory-near-limit"),
        ):
            hot = []
            for p in ps:
                u, lim = getattr(p, use), getattr(p, limit)
                if u is not None and lim:
                    share = u / lim * 100
                    if share > pct:
                        hot.append((p, u, lim, share))
            if hot:
                fmt = (lambda v: f"{v * 1000:.0f}m") if what == "CPU" else fmt_bytes
                ev = tuple((f"Pod/{p.name}", f"{fmt(u)} of {fmt(lim)} limit ({share:.0f} %)") for p, u, lim, share in hot)
                out.append(Finding(code, "warning", track,
                                   f"{len(hot)} {track or 'untracked'} pod(s) use over {pct:g} % of their {what} limit",
                                   ev + (("threshold", f"{pct:g} %"),), tuple(f"Pod/{p.name}" for p, *_ in hot)))
        if track is None:
            continue
        pts = history.points(track, "memory_bytes")
        if len(pts) >= 3 and pts[-1][0] - pts[0][0] >= min_span and pts[0][1] > 0:
            first, last = pts[0][1], pts[-1][1]
            if last > thresholds.memory_leak_factor * first:
                out.append(Finding(
                    "memory-leak-suspected", "warning", track,
                    f"{track} memory per pod grew from {fmt_bytes(first)} to {fmt_bytes(last)} in "
                    f"{fmt_duration(pts[-1][0] - pts[0][0])} (over {thresholds.memory_leak_factor:g} x): a possible leak",
                    (("first", fmt_bytes(first)), ("last", fmt_bytes(last)),
                     ("factor", f"{last / first:.2f} x > {thresholds.memory_leak_factor:g} x"))))
    return out


# ---- the analysis ----------------------------------------------------------------------------------------


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def _relative(c, b):
    if c is None or b is None or (isinstance(c, float) and math.isnan(c)) or (isinstance(b, float) and math.isnan(b)):
        return None
    if b == 0:
        return 0.0 if c == 0 else math.inf
    return c / b - 1


class Analysis:
    """Keeps the history between readings and turns each reading into a CompareState."""

    def __init__(self, thresholds=None, settings: MetricsSettings | None = None, clock: Callable[[], float] = time.time):
        if thresholds is None:
            from tui.config import Thresholds

            thresholds = Thresholds()
        self.thresholds = thresholds
        self.settings = settings or MetricsSettings()
        self.clock = clock
        self.history = History(self.settings.history)
        self._last_ok: Reading | None = None
        self.state: CompareState = EMPTY_STATE

    def update(self, reading: Reading, pods: Iterable[PodInfo], now: float | None = None,
               roles=None) -> CompareState:
        """`roles` (tui.rollout.roles.Roles): which track is the baseline and which the candidate, from where the
        traffic goes; without it, by the tracks' names."""
        now = self.clock() if now is None else now
        pods = list(pods)
        stale = not reading.ok
        base_reading = reading if reading.ok else (self._last_ok or reading)
        if reading.ok:
            self._last_ok = reading

        by_track: dict[str, list[PodInfo]] = {}
        for p in pods:
            if p.track is not None:
                by_track.setdefault(p.track, []).append(p)
        names = set(by_track) | set(base_reading.measures)
        cand, base = pick_roles(names)
        if roles is not None and (roles.baseline or roles.candidate):
            cand = roles.candidate if roles.candidate in names else None
            base = roles.baseline if roles.baseline in names else None
        # baseline, candidate, then the rest: the pane and `lookout status` print Δ (candidate vs baseline) beside
        # the columns, which read left to right only with the baseline first (after a blue/green switch green is)
        order = sorted(names, key=lambda t: (0 if t == base else 1 if t == cand else 2, track_sort_key(t)))
        tracks = []
        for t in order:
            m = base_reading.measures.get(t, Measure())
            ps = by_track.get(t, [])
            role = "candidate" if t == cand else "baseline" if t == base else ""
            tf = TrackFigures(
                name=t, role=role, pods=tuple(sorted(p.name for p in ps)),
                request_rate_rps=m.request_rate_rps, error_ratio=_nan_none(m.error_ratio),
                latency_p50_s=_nan_none(m.latency_p50_s), latency_p95_s=_nan_none(m.latency_p95_s),
                latency_p99_s=_nan_none(m.latency_p99_s),
                restarts=sum(p.restarts for p in ps) if ps else None,
                cpu_cores=_mean(p.cpu_cores for p in ps), memory_bytes=_mean(p.memory_bytes for p in ps),
                requests=m.requests, errors=m.errors, window_s=m.window_s)
            tracks.append(tf)

        # history: Prometheus' range queries replace the rings; otherwise each reading adds a point
        if reading.ok:
            for (t, fig), pts in reading.ranges.items():
                self.history.replace(t, fig, pts, now)
            for tf in tracks:
                for fig in HISTORY_FIGURES:
                    if (tf.name, fig) in reading.ranges:
                        continue
                    self.history.add(tf.name, fig, reading.at, tf.get(fig))

        findings = list(reading.findings)
        findings += resource_findings(pods, self.history, self.thresholds, now)
        cand_tf = next((t for t in tracks if t.name == cand), None)
        base_tf = next((t for t in tracks if t.name == base), None)
        if stale:
            verdict = Verdict("no-data", tuple(
                Reason(f.code, f.summary, tuple(f.evidence), None, "no-data")
                for f in findings if f.code in NO_DATA_CODES) or (
                Reason("source-unavailable", reading.error or "the metrics source did not answer", (), None,
                       "no-data"),))
        else:
            idle = None
            quiet = roles.quiet if roles is not None else frozenset()
            subject = cand if cand not in quiet else base
            if cand is not None and cand in quiet and base_tf is not None:
                why = ("declares no container port" if cand in roles.no_http else
                       "is the standby: it takes no production traffic until the switch")
                idle = Reason("standby-idle", f"{cand} {why}; judging {base}, which serves, alone",
                              (("track", base), ("standby", cand)), decision="promote")
            if subject is not None and subject in quiet:
                verdict = Verdict("promote", (Reason(
                    "not-measured", f"{subject} pods declare no container port: no requests to measure; "
                                    "its pods and findings decide", (("track", subject),), decision="promote"),))
            else:
                verdict = decide(cand_tf if idle is None else None, base_tf, thresholds=self.thresholds,
                                 settings=self.settings, history=self.history, findings=findings,
                                 promql=reading.promql, now=now, pending=reading.pending, idle=idle)
        deltas = {}
        if cand_tf is not None and base_tf is not None:
            deltas = {f: _relative(cand_tf.get(f), base_tf.get(f)) for f in FIGURES}
        history = {(t.name, f): self.history.values(t.name, f) for t in tracks for f in HISTORY_FIGURES}
        self.state = CompareState(
            tracks=tuple(tracks), verdict=verdict, findings=tuple(sort_findings(findings)), deltas=deltas,
            history=history, promql=dict(base_reading.promql), source=reading.source,
            updated_at=base_reading.at if (reading.ok or self._last_ok is not None) else None, now=now,
            stale=stale, error=reading.error)
        return self.state


def _nan_none(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return x


def with_now(state: CompareState, now: float) -> CompareState:
    """The same state at a later moment (ages tick without a new reading)."""
    return replace(state, now=now)
