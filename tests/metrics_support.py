"""Helpers for the metrics tests: a session and a MetricsMonitor on the demo cluster, polled until a condition."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager

from e2e_support import demo_cluster, open_session
from tui.metrics.monitor import MetricsMonitor


@asynccontextmanager
async def monitored(scenario: str, *, speed: float = 1.0, app: str | None = None, source=None, settings=None,
                    cluster=None):
    """A demo cluster playing `scenario`, a started session on it and a MetricsMonitor (direct scrape unless
    `source` is given)."""
    async with demo_cluster(scenario=scenario, speed=speed) as rc:
        session = await open_session(rc, app)
        if settings is not None:
            session.settings = settings
        await session.start()
        mon = MetricsMonitor(session, source)
        try:
            yield rc, session, mon
        finally:
            await mon.aclose()
            await session.stop()


async def poll_until(mon, predicate, *, timeout: float, every: float = 1.0, what: str = "condition"):
    """Poll the monitor until predicate(state) holds; fail with the last state's verdict and findings."""
    import asyncio

    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = await mon.poll()
        if predicate(state):
            return state
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last verdict "
                         f"{state.verdict if state else None}; findings "
                         f"{[(f.code, f.track, f.summary) for f in (state.findings if state else ())]}")


@asynccontextmanager
async def prometheus_for(rc, *, extra_config: dict | None = None, interval: float = 1.0):
    """A real Prometheus (the `prometheus` binary) scraping the demo cluster's pods through its pod proxy."""
    import asyncio

    from realtools import require_tool
    from tui.demo.prometheus import start_demo_prometheus
    from tui.kube.config import load_target

    binary = require_tool("prometheus")
    prom = await asyncio.to_thread(start_demo_prometheus, api_server=rc.url, ca_pem=rc.ca_pem, token=rc.token,
                                   binary=binary, scrape_interval=interval, extra_config=extra_config)
    ns = rc.sim.scenario.namespace if rc.sim is not None else "default"
    task = asyncio.create_task(prom.follow_pods(load_target(rc.kubeconfig_path, "lookout-demo", None), [ns], 0.5))
    try:
        yield prom
    finally:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
        await asyncio.to_thread(prom.stop)
