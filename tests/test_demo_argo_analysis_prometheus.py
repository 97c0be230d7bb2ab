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
            for _ in range(600):  # green's pods up and served: stop the story there (traffic keeps flowing)
                ro = sim.state.get("rollouts", "demo", "checkout")
                st = ro.get("status") or {}
                h, stable = st.get("currentPodHash"), st.get("stableRS")
                if h and h != stable and st.get("blueGreen", {}).get("prePromotionAnalysisRunStatus"):
                    sim.pause()
                    assert not st.get("abort")
                    green = h
                    break
                await asyncio.sleep(0.1)
            assert green, "green never came up"
            await asyncio.sleep(10)  # a window's worth of scrapes
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


async def test_with_prometheus_the_analysis_controller_measures_from_it():
    """`lookout demo --with-prometheus`: POST /lookout/v1/prometheus?url= points the analysis controller at the real
    Prometheus; measurements go in flight (startedAt, no finishedAt) while the query runs in a thread and complete
    with Prometheus' answer. The preview's pre-promotion run still fails (green's 5xx share is 9 %) and aborts."""
    async with demo_cluster(scenario="argo-bluegreen-analysis", speed=1.0) as rc:
        async with prometheus_for(rc) as prom:
            from tui.demo.prometheus import tell_demo_cluster
            await asyncio.to_thread(tell_demo_cluster, rc.kubeconfig_path, prom.url)
            assert rc.sim.prometheus_url == prom.url
            sim = rc.sim
            run = None
            for _ in range(600):
                runs = sim.state.list("analysisruns", "demo")[0]
                if runs and (runs[0].get("status") or {}).get("phase") in ("Failed", "Error", "Successful"):
                    run = runs[0]
                    break
                await asyncio.sleep(0.1)
            assert run is not None, "the pre-promotion run did not complete"
            st = run["status"]
            assert st["phase"] == "Failed", st
            values = [m.get("value") for m in st["metricResults"][0]["measurements"]]
            failed = [float(v.strip("[]")) for m, v in zip(st["metricResults"][0]["measurements"], values)
                      if m["phase"] == "Failed"]
            assert failed and all(0.05 <= v <= 0.15 for v in failed), values
            assert all(m.get("finishedAt") for m in st["metricResults"][0]["measurements"])
            ro = sim.state.get("rollouts", "demo", "checkout")
            for _ in range(50):
                if ro["status"].get("phase") == "Degraded":
                    break
                await asyncio.sleep(0.1)
                ro = sim.state.get("rollouts", "demo", "checkout")
            assert "Blue/green pre-promotion analysis phase error/failed" in ro["status"]["message"]
