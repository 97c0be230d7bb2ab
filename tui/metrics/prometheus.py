"""Prometheus as the metrics source: one instant query per figure for all tracks, range queries for history.

prometheus-api-client (base install) is synchronous: every poll runs in a worker thread (asyncio.to_thread),
and the library is imported there, on first use, so start-up stays fast. Its query functions drop the API's
`warnings`; a response hook on our requests.Session keeps them (and error bodies) for the diagnosis.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

from tui.metrics.analysis import HISTORY_FIGURES, Measure, MetricsSettings, Reading
from tui.metrics.pods import is_running, no_traffic_finding, pod_name
from tui.metrics.queries import PLAIN, Convention, build_queries
from tui.metrics.scrape import ReadContext, _window
from tui.rollout.findings import Finding
from tui.textsafe import clean_line, mask_url

RANGE_POINTS = 90  # sparkline resolution over the history window
RANGE_FIGURES = ("request_rate_rps", "error_ratio", "latency_p99_s")


class PrometheusSource:
    def __init__(self, url: str, *, settings: MetricsSettings | None = None, convention: Convention = PLAIN,
                 options=None, clock: Callable[[], float] = time.time):
        self.url = url.rstrip("/")  # may carry user:password; only for connecting
        self.shown_url = mask_url(self.url)  # what labels, errors and evidence show: http://user:***@host
        self.settings = settings or MetricsSettings()
        self.convention = convention
        self.options = options
        self.clock = clock
        self.label = f"prometheus {self.shown_url}"
        self._prom = None
        self._tls = threading.local()
        self._lock = threading.Lock()

    # ---- connection (worker thread) ----------------------------------------------------------
    def _connect(self):
        if self._prom is not None:
            return self._prom
        import requests
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        o = self.options
        session = requests.Session()
        headers = {}
        auth = None
        if o is not None:
            session.verify = False if o.insecure_skip_verify else (o.ca_file or True)
            if o.cert_file:
                session.cert = (o.cert_file, o.key_file)
            token = o.bearer_token or (_read(o.bearer_token_file) if o.bearer_token_file else None)
            if token:
                headers["Authorization"] = f"Bearer {token}"
            if o.username:
                auth = (o.username, o.password or (_read(o.password_file) if o.password_file else ""))
            headers.update(dict(o.headers))
        session.hooks["response"].append(self._keep_body)
        self._prom = PrometheusConnect(url=self.url, headers=headers or None, auth=auth, session=session,
                                       retry=Retry(total=0), timeout=self._timeout())
        return self._prom

    def _timeout(self) -> float:
        o = self.options
        return float(getattr(o, "timeout", None) or self.settings.timeout)

    def _keep_body(self, resp, *args, **kwargs):
        try:
            body = resp.json()
        except ValueError:
            body = NOT_JSON
        self._tls.body = body
        self._tls.status = resp.status_code
        self._tls.content_type = resp.headers.get("Content-Type", "")
        self._tls.head = resp.text[:120] if body is NOT_JSON else ""
        return resp

    def _ask(self, call, kind: str) -> "Answer":
        """Run one prometheus-api-client call and judge the answer from the body our hook kept, not from
        what the library made of it (it indexes ["data"]["result"] blindly). Raises requests' ConnectionError
        and Timeout: Prometheus did not answer at all."""
        import requests
        from prometheus_api_client.exceptions import PrometheusApiClientException

        self._tls.body, self._tls.status, self._tls.content_type, self._tls.head = None, None, "", ""
        try:
            call()
        except (requests.ConnectionError, requests.Timeout):
            raise
        except (PrometheusApiClientException, ValueError, KeyError, TypeError, AttributeError, IndexError):
            pass  # the library choked on the answer (requests' JSON error is a ValueError): the kept body says why
        except requests.RequestException as e:  # a broken transfer, too many redirects, ...
            return Answer(error=f"the answer could not be read: {_short(e)}", malformed=True)
        t = self._tls
        return judge_answer(t.status, t.body, kind, getattr(t, "content_type", ""), getattr(t, "head", ""))

    def _query(self, q: str, at: float) -> "Answer":
        prom = self._connect()
        return self._ask(lambda: prom.custom_query(q, params={"time": f"{at:.3f}"}), "vector")

    def _range(self, q: str, start: float, end: float, step: float) -> "Answer":
        from datetime import datetime, timezone

        prom = self._connect()
        return self._ask(lambda: prom.custom_query_range(
            q, start_time=datetime.fromtimestamp(start, timezone.utc), end_time=datetime.fromtimestamp(end, timezone.utc),
            step=f"{step:g}s"), "matrix")

    # ---- one poll -----------------------------------------------------------------------------
    async def read(self, ctx: ReadContext) -> Reading:
        return await asyncio.to_thread(self._read_sync, ctx)

    def _read_sync(self, ctx: ReadContext) -> Reading:
        import requests

        with self._lock:
            now = self.clock()
            pods_by_track: dict[str, list[dict]] = {}
            for p in ctx.pods:
                t = ctx.track_of(p)
                if t is not None:
                    pods_by_track.setdefault(t, []).append(p)
            running = tuple(sorted(pod_name(p) for ps in pods_by_track.values() for p in ps if is_running(p)))
            qs = build_queries(self.convention, ctx.grouping, namespace=ctx.namespace,
                               window=_window(self.settings.window), namespace_label=self.settings.namespace_label,
                               pod_label=self.settings.pod_label, pods=running,
                               status_label=self.settings.status_label, overrides=dict(self.settings.queries))
            reading = Reading(at=now, source=self.label, promql=dict(qs.queries))
            try:
                self._fill(reading, ctx, qs, pods_by_track, now)
            except (requests.ConnectionError, requests.Timeout) as e:
                reading.ok = False
                reading.error = f"Prometheus at {self.shown_url} did not answer: {mask_url(_short(e))}"
                reading.findings = [Finding("prometheus-unreachable", "warning", None,
                                            f"Prometheus at {self.shown_url} did not answer",
                                            (("url", self.shown_url), ("error", clean_line(mask_url(_short(e))))))]
            return reading

    def _fill(self, reading: Reading, ctx: ReadContext, qs, pods_by_track, now: float) -> None:
        g = ctx.grouping
        values: dict[str, dict[str, float]] = {}
        warned: list[str] = []
        for fig, q in qs.queries.items():
            ans = self._query(q, now)
            warned += [w for w in ans.warnings if w not in warned]
            if ans.error is not None:
                reading.findings.append(_query_error(fig, q, ans))
                continue
            per_track: dict[str, list[tuple[dict, float]]] = {}
            for metric, v in ans.samples:
                t = g.track_of(metric.get(g.label))
                if t is not None:
                    per_track.setdefault(t, []).append((metric, v))
            for t, items in per_track.items():
                if len(items) > 1:
                    reading.findings.append(Finding(
                        "multiple-series", "warning", t,
                        f"the {fig} query gives {len(items)} series for the {t} track where one was expected: "
                        f"an aggregation (sum by ({g.label})) is missing; which one counts would be a guess",
                        tuple((f"series {i + 1}", clean_line(_labels(m))) for i, (m, _) in enumerate(items[:4]))
                        + (("query", q.replace("\n", " ")),)))
                    continue
                values.setdefault(t, {})[fig] = items[0][1]
        if warned:
            reading.findings.append(Finding(
                "prometheus-warnings", "warning", None,
                f"Prometheus answered with {len(warned)} warning(s): the figures may be partial",
                tuple((f"warning {i + 1}", clean_line(w)[:300]) for i, w in enumerate(warned[:4]))))

        # which pods are scrape targets, and up?
        up: dict[str, float] = {}
        up_known = True
        if qs.up:
            ans = self._query(qs.up, now)
            if ans.malformed:
                reading.findings.append(_query_error("up", qs.up, ans))
            up_known = ans.error is None
            for metric, v in ans.samples:
                up[metric.get(self.settings.pod_label)] = v

        unit = self.convention.latency_unit
        window = self.settings.window
        failed_figs = {dict(f.evidence).get("figure") for f in reading.findings if f.code == "query-error"}
        for t, ps in sorted(pods_by_track.items()):
            v = values.get(t, {})
            run = [p for p in ps if is_running(p)]
            down = [pod_name(p) for p in run if up.get(pod_name(p)) == 0.0]
            missing = [pod_name(p) for p in run if pod_name(p) not in up]
            if down:
                reading.findings.append(Finding(
                    "metrics-target-down", "warning", t,
                    f"Prometheus cannot scrape {len(down)} of {len(run)} {t} pod(s): up == 0",
                    tuple((f"Pod/{n}", "up 0") for n in down[:5]) + (("query", qs.up or ""),),
                    tuple(f"Pod/{n}" for n in down[:5])))
            rate = v.get("request_rate_rps")
            if "request_rate_rps" not in v:
                if any(f.code == "multiple-series" and f.track == t for f in reading.findings) or \
                        "request_rate_rps" in failed_figs or (down and len(down) == len(run)):
                    continue
                if not run:
                    reading.pending[t] = f"no running {t} pod"
                    continue
                if t in ctx.quiet:
                    continue  # a standby or a worker: no series is what it should have
                ev = [("query", qs.queries["request_rate_rps"].replace("\n", " ")),
                      (f"{g.label} values wanted", ", ".join(k for k, tr in g.values.items() if tr == t) or "(none)")]
                if up_known and missing and len(missing) == len(run):
                    ev.append(("scrape targets", f"none of the {t} pods is a target (up{{...}} is empty): "
                                                 "is there a scrape config / ServiceMonitor for them?"))
                reading.findings.append(Finding(
                    "no-series", "warning", t,
                    f"no series for the {t} track: its label ({g.label}) or the metric names do not match",
                    tuple(ev), tuple(f"Pod/{pod_name(p)}" for p in run[:5])))
                continue
            err = v.get("error_ratio")
            if err is not None and math.isnan(err):
                reading.findings.append(Finding(
                    "nan-result", "warning", t, f"the {t} error ratio is NaN (0/0): usually no traffic",
                    (("query", qs.queries["error_ratio"].replace("\n", " ")),)))
            n = rate * window if rate is not None else None
            e = (err * n) if (err is not None and n is not None and not math.isnan(err)) else (0.0 if n == 0 else None)
            reading.measures[t] = Measure(
                request_rate_rps=rate, error_ratio=err,
                latency_p50_s=_scaled(v.get("latency_p50_s"), unit), latency_p95_s=_scaled(v.get("latency_p95_s"), unit),
                latency_p99_s=_scaled(v.get("latency_p99_s"), unit), requests=n, errors=e, window_s=window)
            if rate == 0 and t not in ctx.quiet:
                reading.findings.append(no_traffic_finding(
                    t, ps, ctx.pods, ctx.services, ctx.track_of,
                    f"rate 0 over {_window(window)} in Prometheus"))

        # history: one range query per sparkline figure, all tracks at once
        span = self.settings.history
        step = max(1.0, span / RANGE_POINTS)
        for fig in RANGE_FIGURES:
            if fig not in HISTORY_FIGURES:
                continue
            ans = self._range(qs.queries[fig], now - span, now, step)
            if ans.malformed and fig not in failed_figs:  # a rejected query was reported by its instant twin
                reading.findings.append(_query_error(f"{fig} history", qs.queries[fig], ans))
            for metric, pts in ans.series:
                t = g.track_of(metric.get(g.label))
                if t is None:
                    continue
                scale = unit if fig.startswith("latency_") else 1.0
                reading.ranges[(t, fig)] = [(ts, x * scale) for ts, x in pts]

    async def aclose(self) -> None:
        if self._prom is not None:
            await asyncio.to_thread(self._prom.close)


# ---- what the HTTP API promises ----------------------------------------------------------------

NOT_JSON = object()  # the body was not JSON at all


@dataclass(frozen=True)
class Answer:
    """One query's answer, judged: the samples, or one line saying what was wrong."""

    samples: tuple[tuple[dict, float], ...] = ()  # instant vector: (labels, value)
    series: tuple[tuple[dict, tuple[tuple[float, float], ...]], ...] = ()  # range matrix: (labels, points)
    warnings: tuple[str, ...] = ()
    error: str | None = None
    malformed: bool = False  # the answer is not what the API promises (else Prometheus refused the query)
    status: int | None = None
    content_type: str = ""
    head: str = ""


def judge_answer(status: int | None, body, kind: str, content_type: str = "", head: str = "") -> Answer:
    """An /api/v1/query (kind "vector") or /api/v1/query_range ("matrix") answer as the API documents it:
    {"status": "success", "data": {"resultType": ..., "result": [...]}, "warnings": [...]}, or
    {"status": "error", "errorType": ..., "error": "..."}. Anything else is one line of what is wrong."""
    def bad(why: str) -> Answer:
        if status is not None and status != 200:
            why = f"HTTP {status}, and the {why[0].lower()}{why[1:]}" if why else f"HTTP {status}"
        return Answer(error=why, malformed=True, status=status, content_type=content_type, head=head)

    if body is None:
        return bad("no answer was read")
    if body is NOT_JSON:
        media = content_type.split(";")[0].strip()
        return bad("answer is not JSON" + (f" ({media})" if media and "json" not in media else ""))
    if not isinstance(body, dict):
        return bad(f"answer is a JSON {_json_type(body)}, not an object")
    warnings = body.get("warnings")
    warnings = tuple(str(w) for w in warnings) if isinstance(warnings, list) else ()
    if body.get("status") == "error" or (status is not None and status != 200 and "error" in body):
        err = body.get("error")
        if isinstance(err, str) and err.strip():
            return Answer(error=err, warnings=warnings, status=status)
        return bad("answer says status error without an error message")
    if status is not None and status != 200:
        return bad("answer is not an API error")
    if body.get("status") != "success":
        return bad("answer has no status" if "status" not in body else
                   f"status is {_short_json(body.get('status'))}, not \"success\"")
    data = body.get("data")
    if not isinstance(data, dict):
        return bad("data is null" if data is None else f"data is a JSON {_json_type(data)}, not an object")
    rtype = data.get("resultType")
    if rtype is not None and rtype != kind:
        return bad(f"result type is {_short_json(rtype)}, not {kind}")
    result = data.get("result")
    if not isinstance(result, list):
        return bad("result is missing" if result is None else "result is not a list")
    samples, series = [], []
    for item in result:
        if not isinstance(item, dict):
            return bad("a series is not an object")
        metric = item.get("metric", {})
        if not isinstance(metric, dict):
            return bad("a series' metric is not an object")
        if kind == "vector":
            if "value" not in item:
                return bad("a series has no value")
            v = _sample(item["value"])
            if v is None:
                return bad('a series\' value is not [time, "number"]')
            samples.append((metric, v[1]))
        else:
            values = item.get("values")
            if not isinstance(values, list):
                return bad("a series has no values" if values is None else "a series' values are not a list")
            pts = []
            for pair in values:
                p = _sample(pair)
                if p is None:
                    return bad('a series\' values are not [time, "number"] pairs')
                pts.append(p)
            series.append((metric, tuple(pts)))
    return Answer(samples=tuple(samples), series=tuple(series), warnings=warnings, status=status)


def _sample(pair) -> tuple[float, float] | None:
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        return None
    ts, v = pair
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not isinstance(v, str):
        return None
    try:
        return float(ts), float(v)  # "NaN", "+Inf" and "-Inf" are numbers here
    except ValueError:
        return None


def _json_type(v) -> str:
    return {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(type(v), "value")


def _short_json(v) -> str:
    s = repr(v) if not isinstance(v, str) else f'"{v}"'
    return clean_line(s if len(s) <= 40 else s[:37] + "...")


def _query_error(fig: str, q: str, ans: Answer) -> Finding:
    """One line for the strip; the evidence keeps the figure, the error, the query and what came back."""
    err = clean_line(ans.error or "")
    if ans.malformed:
        summary = f"Prometheus's answer to the {fig} query is unusable: {err[:200]}"
    else:
        summary = f"Prometheus rejected the {fig} query: {err[:200]}"
    ev = [("figure", fig), ("error", err), ("query", q.replace("\n", " "))]
    if ans.malformed and ans.head:
        ev.append(("answer starts", clean_line(ans.head)[:120]))
    return Finding("query-error", "warning", None, summary, tuple(ev))


def _scaled(v, unit):
    if v is None or math.isnan(v):
        return None
    return v * unit


def _labels(m: dict) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in sorted(m.items())) + "}"


def _short(e: BaseException) -> str:
    s = str(e)
    return s if len(s) <= 200 else s[:197] + "..."


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read().strip()
