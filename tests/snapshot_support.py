"""Deterministic screens: a scenario played on a hand-moved clock, its objects in a real Store, the real Session.

No HTTP here (snapshots must not depend on timing); the end-to-end tests cover the wire.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tui.config import Settings
from tui.demo.sim import ManualClock, Simulation
from tui.demo.state import ClusterState
from tui.kube.store import SourceHealth
from tui.rollout.target import resolve_target
from tui.session import RolloutChoice, Session

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z: every age on screen is relative to this fixed clock


@dataclass
class FixedTarget:
    """What Session needs of a KubeTarget for display."""

    context: str = "lookout-demo"
    server: str = "https://127.0.0.1:6443"
    namespace: str = "demo"


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


class FrozenSession(Session):
    """The real Session (tracks, summary, findings, health) over a pre-filled store; it never connects."""

    metrics_monitor = None  # no poller: a test sets `metrics` (a CompareState) itself when it wants one

    async def start(self) -> None:
        for kind in ("pods", "events", "replicasets", "rollouts", "deployments"):
            self.store.set_health(SourceHealth(source=f"{kind}/demo", kind=kind, connected=True, synced=True,
                                               last_event=self.clock()))

    async def stop(self) -> None:
        return None

    async def fetch_object(self, res: str, namespace: str, name: str) -> dict:
        from tui.kube.slim import redact_secret

        obj = self.store.get(res, namespace, name)
        if obj is None:
            raise LookupError(f"{res} {namespace}/{name} not found")
        return redact_secret(obj)


KINDS = ("pods", "events", "replicasets", "rollouts", "deployments", "services", "endpointslices", "configmaps",
         "secrets")


async def scenario_session(scenario: str, seconds: float, *, app: str | None = None, speed: float = 10.0,
                           seed: int = 3, metrics: bool = False, metrics_gap: float = 10.0) -> Session:
    """Play `scenario` for `seconds` of scenario time from T0, then freeze it into a session.

    metrics=True: `session.metrics` is the CompareState of two direct scrapes `metrics_gap` seconds apart of
    the frozen scenario (its traffic model keeps counting; nothing else moves), and the session's clock is
    the moment of the second one."""
    import datetime as dt

    import tui.demo.state as state_mod

    sim_clock = ManualClock(T0)
    wall = state_mod.now_rfc3339
    # objects the API server stamps itself (creationTimestamp) follow the scenario's clock here
    state_mod.now_rfc3339 = lambda: dt.datetime.fromtimestamp(sim_clock(), dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    try:
        state = ClusterState()
        sim = Simulation(state, scenario=scenario, seed=seed, speed=speed, clock=sim_clock)
        await sim.start(background=False)
        step = 0.5
        t = 0.0
        while t < seconds:
            sim.advance(step)
            t += step
    finally:
        state_mod.now_rfc3339 = wall
    ns = sim.scenario.namespace
    objs = {k: state.list(k, ns)[0] for k in KINDS}
    target = resolve_target(app or (sim.scenario.workload or {}).get("name"), None, objs["rollouts"],
                            objs["deployments"], objs["pods"], ns)
    sel = target.pod_selector()  # what the informers' server-side selector would have let through
    for kind in ("pods", "replicasets"):
        objs[kind] = [o for o in objs[kind] if sel.matches(o["metadata"].get("labels"))]
    clock = Clock(sim_clock())
    session = FrozenSession(FixedTarget(), RolloutChoice(target, ns), Settings(), demo=True,
                            kubeconfig_path="/tmp/lookout-demo/kubeconfig", clock=clock)
    session.throttle_derived = False  # deterministic: no evaluation deferred by its wall-clock cost
    from tui.kube.slim import slim_secret

    objs["secrets"] = [slim_secret(o) for o in objs["secrets"]]  # as the informer keeps them: digests, no values
    for kind, items in objs.items():
        session.store.apply(kind, "ADDED", [dict(o) for o in items])
    session.rebuild_resolver()
    if metrics:
        session.metrics = await frozen_compare_state(sim, session, metrics_gap)
        clock.now = sim_clock()
    # findings show only after holding for a while (no flapping): let the debounce see them hold
    clock.now -= 40
    session.findings()
    clock.now += 40
    session.findings()
    await sim.stop()
    return session


class SimPodProxy:
    """The API server's pod proxy (`/api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH`) answered in-process
    from the simulation, in the demo server's words: the same text, the same 503 when nothing listens."""

    def __init__(self, sim: Simulation):
        self.sim = sim

    async def get_text(self, path: str) -> str:
        import re

        from tui.kube.client import ApiError

        m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/:]+)(?::([^/]+))?/proxy/(.*)", path)
        if m is None:
            raise ApiError(404, "NotFound", "404 page not found", path)
        ns, pod, port, rest = m.groups()
        port = port or "80"
        text = None
        if rest.strip("/") == "metrics":
            text = self.sim.pod_metrics_text(ns, pod, int(port) if port.isdigit() else port)
        if text is None:
            obj = self.sim.state.get("pods", ns, pod) or {}
            ip = (obj.get("status") or {}).get("podIP") or "10.0.0.1"
            raise ApiError(503, "ServiceUnavailable",
                           f"error trying to reach service: dial tcp {ip}:{port}: connect: connection refused", path)
        return text


def _usage(sim: Simulation, namespace: str, pods: list[dict]) -> dict:
    """metrics.k8s.io as the demo server answers it (PodMetrics from the traffic model), parsed as the app does."""
    from tui.metrics.pods import usage_from_pod_metrics

    items = []
    for p in pods:
        name = p["metadata"]["name"]
        u = sim.pod_usage(namespace, name)
        if u:
            items.append({"metadata": {"name": name, "namespace": namespace},
                          "containers": [{"name": c, "usage": v} for c, v in u.items()]})
    return usage_from_pod_metrics(items)


async def frozen_compare_state(sim: Simulation, session: Session, gap: float = 10.0):
    """Canary vs stable from the real traffic model, with no network and no wall clock: two direct scrapes of
    every pod's /metrics `gap` seconds apart on the simulation's ManualClock (the scenario itself stays
    frozen), through DirectScrape and Analysis as the app's MetricsMonitor runs them."""
    from tui.metrics.analysis import Analysis
    from tui.metrics.monitor import metrics_settings, read_context
    from tui.metrics.pods import pod_infos
    from tui.metrics.queries import CONVENTIONS, PLAIN
    from tui.metrics.scrape import DirectScrape

    clock = sim.clock
    settings = metrics_settings(session.settings, session.choice.target)
    source = DirectScrape(SimPodProxy(sim), settings, CONVENTIONS.get(settings.convention, PLAIN), clock=clock)
    analysis = Analysis(session.settings.thresholds, settings, clock)
    state = None
    for i in range(2):
        if i:
            clock.advance(gap)
            sim.traffic.advance(clock())
        ctx = read_context(session, settings, clock())
        reading = await source.read(ctx)
        state = analysis.update(reading, pod_infos(ctx.pods, ctx.track_of, _usage(sim, ctx.namespace, ctx.pods)),
                                clock(), roles=session.roles())
    return state


def run(coro):
    return asyncio.new_event_loop().run_until_complete(coro)
