"""The demo's PromQL answers (tui/demo/promql.py over the traffic model) against a real Prometheus (the Debian
`prometheus` binary) scraping the same pods' /metrics: the analysis controller measures what a Prometheus would.

Scenario argo-bluegreen-analysis at speed 1: green (9 % 5xx) comes up behind the preview Service at ~8 s, blue keeps
0.08 %; both Services share 120 requests/s. Skipped without the binary unless LOOKOUT_REQUIRE_REAL_TOOLS=1.
"""
from __future__ import annotations

import asyncio

import httpx
import pytest

from e2e_support import demo_cluster
from metrics_support import prometheus_for
from tui.demo.promql import evaluate

pytestmark = pytest.mark.prometheus


async def _prom(url: str, q: str) -> list[float]:
    async with httpx.AsyncClient(timeout=5) as c:
        r = await c.get(f"{url}/api/v1/query", params={"query": q})
        r.raise_for_status()
        return [float(s["value"][1]) for s in r.json()["data"]["result"]]


async def test_error_share_and_request_rate_agree_with_a_real_prometheus():
    async with demo_cluster(scenario="argo-bluegreen-analysis", speed=1.0) as rc:
        async with prometheus_for(rc) as prom:
            sim = rc.sim
            green = None
            for _ in range(200):  # green's pods up and scraped for a while
                ro = sim.state.get("rollouts", "demo", "checkout")
                h = (ro.get("status") or {}).get("currentPodHash")
                stable = (ro.get("status") or {}).get("stableRS")
                if h and h != stable and sim.t >= 20:
                    green = h
                    break
                await asyncio.sleep(0.1)
            assert green, "green never came up"
            share = ('sum(rate(http_requests_total{code=~"5..",rollouts_pod_template_hash="%s"}[8s])) / '
                     'sum(rate(http_requests_total{rollouts_pod_template_hash="%s"}[8s]))' % (green, green))
            total = 'sum(rate(http_requests_total{namespace="demo",app="checkout"}[8s]))'
            p50 = ('histogram_quantile(0.5, sum(rate(http_request_duration_seconds_bucket'
                   '{rollouts_pod_template_hash="%s"}[8s])) by (le))' % green)
            for q, tol in ((share, 0.03), (total, 25.0), (p50, 0.02)):
                real = await _prom(prom.url, q)
                ours = [v for _, v in evaluate(q, lambda w: sim.ctl._pod_series("demo", w))]
                assert len(real) == len(ours) == 1, (q, real, ours)
                assert ours[0] == pytest.approx(real[0], abs=tol), (q, real, ours)
