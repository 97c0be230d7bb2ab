"""A demo scenario played whole on the demo cluster's own state and a hand-moved clock, assessed as the app does.

The scenario runs in the demo cluster's ClusterState and Simulation (the same ones `lookout demo-cluster` serves);
after every step the real Session's store is made equal to the cluster's objects, its metrics poller's parts
(DirectScrape + Analysis) read each pod's /metrics from the simulation's traffic model, and `Session.assess()`
gives the assessment every view renders. No wall clock, no network: the story is deterministic and quick.
"""

from __future__ import annotations

import copy
import datetime as dt

from tui.config import Settings
from tui.demo.sim import ManualClock, Simulation
from tui.demo.state import ClusterState
from tui.kube.store import SourceHealth
from tui.launch import scenario_target
from tui.session import RolloutChoice, Session

T0 = 1_767_225_600.0
KINDS = ("pods", "events", "replicasets", "rollouts", "deployments", "services", "endpointslices", "analysisruns",
         "ingresses", "networkpolicies", "httproutes", "virtualservices", "destinationrules", "trafficsplits",
         "canaries", "configmaps", "secrets")
# the session's store kind -> the demo ClusterState's resource key (custom resources are keyed by plural.group)
STATE_KIND = {"canaries": "canaries.flagger.app", "destinationrules": "destinationrules.networking.istio.io",
              "trafficsplits": "trafficsplits.split.smi-spec.io"}


class Target:
    context = "lookout-demo"
    server = "https://127.0.0.1:6443"
    namespace = "demo"


class Clock:
    def __init__(self, sim_clock: ManualClock):
        self.sim_clock = sim_clock

    def __call__(self) -> float:
        return self.sim_clock()


class PlayedSession(Session):
    """The real Session; its informers are replaced by `Player.sync` (the store mirrors the cluster state), and
    drill-downs read the cluster's objects and the simulation's container logs in-process."""

    player: "Player | None" = None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def fetch_object(self, res: str, namespace: str, name: str) -> dict:
        from tui.kube.slim import redact_secret

        obj = self.player.state.get(res, namespace, name) if self.player else None
        if obj is None:
            raise LookupError(f"{res} {namespace}/{name} not found")
        return redact_secret(copy.deepcopy(obj))

    async def follow_logs(self, namespace: str, pod: str, container: str | None = None, previous: bool = False,
                          tail: int = 500):
        from tui.textsafe import clean

        obj = self.player.state.get("pods", namespace, pod) if self.player else None
        containers = [c["name"] for c in ((obj or {}).get("spec") or {}).get("containers") or ()]
        for _, line in self.player.sim.logs.entries(namespace, pod, container or (containers or ["app"])[0],
                                                    previous=previous, tail=tail) or ():
            yield clean(line)


class Player:
    def __init__(self, scenario: str, *, seed: int = 3, settings: Settings | None = None, poll_every: float = 5.0):
        self.scenario = scenario
        self.seed = seed
        self.settings = settings or Settings()
        self.poll_every = poll_every
        self.clock = ManualClock(T0)
        self.state = ClusterState()
        self.sim = Simulation(self.state, scenario=scenario, seed=seed, speed=1.0, clock=self.clock)
        self.t = 0.0
        self._next_poll = 0.0
        self.assessments: list = []

    async def start(self) -> "Player":
        import tui.demo.state as state_mod

        self._wall = state_mod.now_rfc3339
        clock = self.clock
        state_mod.now_rfc3339 = lambda: dt.datetime.fromtimestamp(clock(), dt.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        await self.sim.start(background=False)
        sc = self.sim.scenario
        self.ns = sc.namespace
        self.target = scenario_target(sc, self.settings.crds)  # a mapped in-house CRD named like the app
        self.session = PlayedSession(Target(), RolloutChoice(self.target, self.ns), self.settings, demo=True,
                                     kubeconfig_path="/tmp/kubeconfig", clock=Clock(self.clock))
        self.session.player = self
        self.session.throttle_derived = False  # deterministic: no evaluation deferred by its wall-clock cost
        ck = self.session.custom_kind
        for kind in KINDS + ((ck.store_key,) if ck is not None else ()):
            self.session.store.set_health(SourceHealth(source=f"{kind}/{self.ns}", kind=kind, connected=True,
                                                       synced=True, last_event=self.clock()))
        self._metrics_parts()
        self.sync()
        return self

    async def stop(self) -> None:
        import tui.demo.state as state_mod

        state_mod.now_rfc3339 = self._wall
        await self.sim.stop()

    def _metrics_parts(self) -> None:
        from snapshot_support import SimPodProxy
        from tui.metrics.analysis import Analysis
        from tui.metrics.monitor import metrics_settings
        from tui.metrics.queries import CONVENTIONS, PLAIN
        from tui.metrics.scrape import DirectScrape

        s = self.session
        self.msettings = metrics_settings(s.settings, s.choice.target)
        self.source = DirectScrape(SimPodProxy(self.sim), self.msettings,
                                   CONVENTIONS.get(self.msettings.convention, PLAIN), clock=self.clock)
        self.analysis = Analysis(s.settings.thresholds, self.msettings, self.clock)

    def sync(self) -> None:
        """Make the session's store equal to the cluster's objects (what the informers would do)."""
        sel = self.target.pod_selector()
        store = self.session.store
        ck = self.session.custom_kind  # an in-house CRD mapped in the config: its objects, keyed by plural.group
        kinds = KINDS + ((ck.store_key,) if ck is not None else ())
        state_kind = dict(STATE_KIND, **({ck.store_key: f"{ck.plural}.{ck.group}"} if ck is not None else {}))
        for kind in kinds:
            try:
                items = self.state.list(state_kind.get(kind, kind), self.ns)[0]
            except Exception:  # a kind the demo does not serve
                continue
            if kind in ("pods", "replicasets"):
                items = [o for o in items if sel.matches((o.get("metadata") or {}).get("labels"))]
            if kind == "secrets":  # as the informer keeps them: keys and keyed digests, never values
                from tui.kube.slim import slim_secret

                items = [slim_secret(o) for o in items]
            store.replace(kind, [copy.deepcopy(o) for o in items], scope=lambda k, ns=self.ns: k[0] == ns)
        self.session.rebuild_resolver()

    async def poll(self) -> None:
        from snapshot_support import _usage
        from tui.metrics.monitor import read_context
        from tui.metrics.pods import pod_infos

        s = self.session
        ctx = read_context(s, self.msettings, self.clock())
        reading = await self.source.read(ctx)
        s.metrics = self.analysis.update(
            reading, pod_infos(ctx.pods, ctx.track_of, _usage(self.sim, ctx.namespace, ctx.pods)), self.clock(),
            roles=s.roles())

    async def step(self, seconds: float = 1.0):
        """Advance the story, sync, poll metrics when due; return the new assessment."""
        self.sim.advance(seconds)
        self.t += seconds
        self.sync()
        if self.t >= self._next_poll:
            self._next_poll = self.t + self.poll_every
            await self.poll()
        a = self.session.assess()
        self.assessments.append((self.t, a))
        return a

    async def play(self, until: float, step: float = 1.0):
        while self.t < until:
            await self.step(step)
        return self.assessments[-1][1]


async def played(scenario: str, until: float, **kw) -> Player:
    p = await Player(scenario, **kw).start()
    try:
        await p.play(until)
    finally:
        await p.stop()
    return p
