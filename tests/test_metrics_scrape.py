"""Direct scrape through the demo cluster's pod proxy, over HTTPS: figures, verdicts and "no data" causes.

Rates in the demo are wall-clock whatever --speed is, so the timeline is compressed (speed 2-3) to reach
the interesting part quickly; the rate window is 10 s so the figures follow the model within seconds.
"""

from __future__ import annotations

import dataclasses

import pytest

from metrics_support import monitored, poll_until
from tui.config import Settings
from tui.metrics.analysis import MetricsSettings
from tui.metrics.queries import CONVENTIONS
from tui.metrics.scrape import DirectScrape

FAST = Settings(metrics=MetricsSettings(window=10.0, interval=1.0))


def codes(state):
    return [r.code for r in state.verdict.reasons]


async def test_healthy_canary_is_promoted_and_figures_match_the_traffic_model():
    async with monitored("healthy-canary", speed=2, settings=FAST) as (rc, session, mon):
        # PROMOTE of the canary itself: before the canary pod exists, stable alone is judged ("no-candidate")
        def promoted(s):
            return (s.verdict.decision == "promote" and s.track("canary") is not None
                    and s.track("canary").request_rate_rps is not None)

        def settled(s):
            # a rate is a counter's increase over the scrapes' interval: the first one after the canary pod
            # starts covers part of a window (and a loaded machine stretches it), so wait for a settled reading
            c, st_ = s.track("canary"), s.track("stable")
            per_pod = 120 / (len(c.pods) + len(st_.pods))
            return abs(c.request_rate_rps / len(c.pods) - per_pod) <= 0.2 * per_pod

        st = await poll_until(mon, promoted, timeout=25, what="PROMOTE")
        st = await poll_until(mon, lambda s: promoted(s) and settled(s), timeout=25,
                              what="a canary per-pod rate within 20 % of the model's")
        assert codes(st) == ["success-criteria-met"]
        canary, stable = st.track("canary"), st.track("stable")
        # the model: 120 requests/s shared by the served pods; stable p99 85 ms, canary 80 ms, 5xx 0.06 %/0.04 %
        assert canary.request_rate_rps + stable.request_rate_rps == pytest.approx(120, rel=0.12)
        per_pod = 120 / (len(canary.pods) + len(stable.pods))
        assert canary.request_rate_rps / len(canary.pods) == pytest.approx(per_pod, rel=0.2)
        for t in (canary, stable):
            # in the 50-100 ms bucket where the lognormal puts it; a short window's few slow samples can
            # interpolate into the next bucket (100-250 ms)
            assert 0.05 < t.latency_p99_s <= 0.25
            assert 0.02 < t.latency_p50_s < 0.04
            assert t.error_ratio < 0.005
            assert t.cpu_cores > 0 and t.memory_bytes > 50 * 2 ** 20 and t.restarts == 0
        assert st.deltas["latency_p99_s"] is not None
        assert "rollouts_pod_template_hash" in st.promql["error_ratio"] and st.source == "direct scrape"
        assert len(st.history[("stable", "request_rate_rps")]) >= 2


async def test_bad_canary_rolls_back_on_latency_with_the_numbers():
    async with monitored("bad-canary", speed=2, settings=FAST) as (rc, session, mon):
        st = await poll_until(mon, lambda s: s.verdict.decision == "rollback", timeout=25, what="ROLLBACK")
        r = st.verdict.reasons[0]
        assert r.code == "latency-above-rollback" and r.values_dict()["latency_p99_s"] > 0.5
        assert r.promql.startswith("histogram_quantile(0.99, sum by (rollouts_pod_template_hash, le)")
        # the canary's 5xx share climbs too: significantly worse than stable's
        assert "error-rate-worse-than-stable" in codes(st) or "error-rate-above-success" in codes(st)


async def test_bad_canary_error_rate_rollback_after_its_wall_time_duration():
    s = dataclasses.replace(FAST, thresholds=dataclasses.replace(FAST.thresholds, error_rate_rollback_for=2.0,
                                                                 p99_rollback_ms=5000.0))
    async with monitored("bad-canary", speed=2, settings=s) as (rc, session, mon):
        st = await poll_until(mon, lambda s: "error-rate-above-rollback" in codes(s), timeout=25,
                              what="error-rate-above-rollback")
        r = next(r for r in st.verdict.reasons if r.code == "error-rate-above-rollback")
        assert st.verdict.decision == "rollback"
        v = r.values_dict()
        assert v["error_ratio"] > 0.05 and v["held_s"] >= 2.0 and v["requests"] >= 100


async def test_metrics_missing_is_no_data_diagnosed_as_target_down():
    async with monitored("metrics-missing", speed=2, settings=FAST) as (rc, session, mon):
        st = await poll_until(mon, lambda s: "metrics-target-down" in codes(s), timeout=20, what="target down")
        assert st.verdict.decision == "no-data"
        f = next(f for f in st.findings if f.code == "metrics-target-down")
        assert f.track == "canary" and f.objects and "connection refused" in f.evidence[0][1]
        assert st.track("stable").request_rate_rps > 0  # stable still measured


async def test_canary_not_selected_by_the_service_is_no_traffic_with_its_cause():
    async with monitored("canary-no-traffic", speed=3, app="checkout", settings=FAST) as (rc, session, mon):
        st = await poll_until(mon, lambda s: "no-traffic" in codes(s), timeout=20, what="no-traffic")
        assert st.verdict.decision == "no-data"
        f = next(f for f in st.findings if f.code == "no-traffic")
        ev = dict(f.evidence)
        assert f.track == "canary" and ev["cause"] == "track-not-selected"
        assert ev["Service/checkout selector"] == "app=checkout,tier=web" and "tier=web" in ev["canary pods miss"]


async def test_label_mismatch_is_no_series():
    # the config says Istio, the pods expose plain http_requests_total: the series the queries want do not exist
    s = dataclasses.replace(FAST, metrics=dataclasses.replace(FAST.metrics, convention="istio"))
    async with monitored("healthy-canary", speed=3, settings=s) as (rc, session, mon):
        mon.source = DirectScrape(mon._client, s.metrics, CONVENTIONS["istio"])
        st = await poll_until(mon, lambda s: "no-series" in codes(s), timeout=15, what="no-series")
        assert st.verdict.decision == "no-data"
        assert any(f.code == "no-series" and dict(f.evidence)["looked for"] == "istio_requests_total"
                   for f in st.findings)
