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
        from tui.session import redact_secret

        obj = self.store.get(res, namespace, name)
        if obj is None:
            raise LookupError(f"{res} {namespace}/{name} not found")
        return redact_secret(obj)


KINDS = ("pods", "events", "replicasets", "rollouts", "deployments", "services", "endpointslices")


async def scenario_session(scenario: str, seconds: float, *, app: str | None = None, speed: float = 10.0,
                           seed: int = 3) -> Session:
    """Play `scenario` for `seconds` of scenario time from T0, then freeze it into a session."""
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
    for kind, items in objs.items():
        session.store.apply(kind, "ADDED", [dict(o) for o in items])
    session.rebuild_resolver()
    # findings show only after holding for a while (no flapping): let the debounce see them hold
    clock.now -= 40
    session.findings()
    clock.now += 40
    session.findings()
    await sim.stop()
    return session


def run(coro):
    return asyncio.new_event_loop().run_until_complete(coro)
