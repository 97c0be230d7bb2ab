"""The Prometheus source against a real Prometheus (the Debian `prometheus` binary) scraping the demo pods.

Prometheus runs on 127.0.0.1 with a temporary config and storage, scraping every second through the demo
cluster's pod proxy; rates in the demo are wall-clock, so the scenario timeline is compressed (speed 2)
and the rate window is 5 s. Skipped without the binary unless LOOKOUT_REQUIRE_REAL_TOOLS=1.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket

import pytest

from e2e_support import demo_cluster, open_session
from metrics_support import poll_until, prometheus_for
from tui.config import PrometheusSettings, Settings
from tui.metrics.analysis import MetricsSettings
from tui.metrics.monitor import MetricsMonitor
from tui.metrics.prometheus import PrometheusSource

pytestmark = pytest.mark.prometheus

FAST = Settings(metrics=MetricsSettings(window=5.0, interval=1.0, history=120.0, timeout=2.0))


def codes(state):
    return [r.code for r in state.verdict.reasons]


def finding(state, code):
    return next((f for f in state.findings if f.code == code), None)


async def _setup(scenario, speed, settings=FAST, app=None, **prom_kw):
    rc_cm = demo_cluster(scenario=scenario, speed=speed)
    rc = await rc_cm.__aenter__()
    prom_cm = prometheus_for(rc, **prom_kw)
    prom = await prom_cm.__aenter__()
    session = await open_session(rc, app)
    session.settings = settings
    await session.start()
    mon = MetricsMonitor(session, PrometheusSource(prom.url, settings=settings.metrics))

    async def close():
        await mon.aclose()
        await session.stop()
        await prom_cm.__aexit__(None, None, None)
        await rc_cm.__aexit__(None, None, None)

    return rc, prom, session, mon, close


async def test_bad_canary_rolls_back_and_misbuilt_queries_are_diagnosed():
    rc, prom, session, mon, close = await _setup("bad-canary", 2)
    try:
        st = await poll_until(mon, lambda s: s.verdict.decision == "rollback", timeout=28, what="ROLLBACK")
        assert st.verdict.reasons[0].code == "latency-above-rollback"
        assert st.verdict.reasons[0].values_dict()["latency_p99_s"] > 0.5
        assert st.source == f"prometheus {prom.url}"
        canary, stable = st.track("canary"), st.track("stable")
        # the model: 150 requests/s over the served pods (Prometheus' rate() extrapolates: 15 %)
        assert canary.request_rate_rps + stable.request_rate_rps == pytest.approx(150, rel=0.15)
        # stable's p99 sits in the 50-100 ms bucket; over a 5 s window a few slow samples can move
        # histogram_quantile's interpolation into the next bucket (100-250 ms), never near the 500 ms rule
        assert stable.error_ratio < 0.01 and 0.05 < stable.latency_p99_s <= 0.25
        assert len(st.history[("canary", "latency_p99_s")]) >= 3  # from a range query

        # a template without its aggregation gives one series per pod and method: multiple-series, no guess
        m = dataclasses.replace(FAST.metrics, queries={
            "request_rate_rps": "rate(http_requests_total{{{sel}}}[{window}])",
            "error_ratio": "sum by ({group}) (rate(http_requests_total{{{sel}}}[{window}]) / )"})
        mon.source = PrometheusSource(prom.url, settings=m)
        st = await mon.poll()
        assert st.verdict.decision == "no-data"
        mult = finding(st, "multiple-series")
        assert mult is not None and "aggregation" in mult.summary
        qe = finding(st, "query-error")
        assert qe is not None and dict(qe.evidence)["figure"] == "error_ratio" and "parse error" in qe.summary

        # a label that is not on the series: no-series, naming the label values it looked for
        m = dataclasses.replace(FAST.metrics, track_label="deployment")
        mon.source = PrometheusSource(prom.url, settings=m)
        mon.settings = m
        st = await mon.poll()
        ns = finding(st, "no-series")
        assert st.verdict.decision == "no-data" and ns is not None and "deployment" in ns.summary
    finally:
        await close()


async def test_healthy_canary_is_promoted_then_survives_a_frozen_prometheus():
    rc, prom, session, mon, close = await _setup("healthy-canary", 2)
    try:
        st = await poll_until(mon, lambda s: s.verdict.decision == "promote", timeout=28, what="PROMOTE")
        assert codes(st) == ["success-criteria-met"]
        for t in st.tracks:
            # the model's p99 is ~90 ms; histogram_quantile interpolates inside the (0.05, 0.1] or, with a few
            # slow samples in a short window, the (0.1, 0.25] bucket: the bucket bounds are the tolerance
            assert 0.05 < t.latency_p99_s <= 0.25 and t.error_ratio < 0.005
        # Prometheus stops answering (SIGSTOP): the reading times out, figures stay with their age, NO DATA
        prom.pause()
        try:
            t0 = asyncio.get_running_loop().time()
            st = await mon.poll()
            assert asyncio.get_running_loop().time() - t0 < 10  # the timeout, not a hang
            assert st.stale and st.verdict.decision == "no-data" and st.track("canary").request_rate_rps > 0
            assert codes(st) == ["prometheus-unreachable"] and st.age is not None
        finally:
            prom.resume()
        st = await poll_until(mon, lambda s: not s.stale and s.verdict.decision == "promote", timeout=10,
                              what="recovery")
    finally:
        await close()


async def test_metrics_missing_is_target_down_and_warnings_are_reported():
    # a remote_read endpoint that does not answer: Prometheus answers queries with warnings
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    extra = {"remote_read": [{"url": f"http://127.0.0.1:{dead}/read", "read_recent": True,
                              "remote_timeout": "1s"}]}
    rc, prom, session, mon, close = await _setup("metrics-missing", 2, extra_config=extra)
    try:
        st = await poll_until(mon, lambda s: "metrics-target-down" in codes(s), timeout=25, what="target down")
        f = finding(st, "metrics-target-down")
        assert f.track == "canary" and "up == 0" in f.summary and f.objects
        w = finding(st, "prometheus-warnings")
        assert w is not None and any("127.0.0.1" in v or "remote" in v.lower() for _, v in w.evidence)
    finally:
        await close()


async def test_unreachable_prometheus():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with demo_cluster(scenario="healthy-canary", speed=2) as rc:
        session = await open_session(rc)
        session.settings = FAST
        await session.start()
        src = PrometheusSource(f"http://127.0.0.1:{port}", settings=FAST.metrics,
                               options=PrometheusSettings(timeout=2.0))
        mon = MetricsMonitor(session, src)
        try:
            await asyncio.sleep(0.5)
            st = await mon.poll()
            assert st.verdict.decision == "no-data" and codes(st) == ["prometheus-unreachable"]
            assert dict(finding(st, "prometheus-unreachable").evidence)["url"] == f"http://127.0.0.1:{port}"
        finally:
            await mon.aclose()
            await session.stop()


async def test_canary_without_traffic_is_nan_result_and_no_traffic_with_its_cause():
    rc, prom, session, mon, close = await _setup("canary-no-traffic", 3, app="checkout")
    try:
        st = await poll_until(mon, lambda s: "no-traffic" in codes(s), timeout=25, what="no-traffic")
        assert st.verdict.decision == "no-data"
        nan = finding(st, "nan-result")
        assert nan is not None and nan.track == "canary" and "0/0" in nan.summary
        nt = finding(st, "no-traffic")
        assert dict(nt.evidence)["cause"] == "track-not-selected"
        assert "sum by (deployment)" in st.promql["request_rate_rps"]
    finally:
        await close()
