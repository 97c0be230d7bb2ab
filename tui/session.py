"""A watching session: one cluster target, one rollout, its informers and store, and the derived views."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, AsyncIterator, Callable, Protocol

if TYPE_CHECKING:
    from tui.assessment import Assessment
    from tui.rollout.roles import Roles

from tui.kube.store import Store
from tui.rollout.progress import StepClock, step_key
from tui.textsafe import clean


# What the findings read from the store: an evaluation is reused while none of these kinds changed.
ROLLOUT_KINDS = ("pods", "events", "replicasets", "rollouts", "deployments")
NETWORK_DEPENDS_ON = ("pods", "services", "endpointslices", "ingresses", "networkpolicies", "httproutes",
                      "virtualservices", "destinationrules", "trafficsplits", "canaries", "rollouts", "deployments",
                      "replicasets")
# Conditions that are plainly on or off (a Service selects pods or not): they clear within seconds of the fix,
# not after the anti-flap wait the others get. An outage that ends must not stay on screen for half a minute.
FAST_CLEAR_CODES = frozenset({"service-selects-no-pods", "no-ready-endpoints", "track-not-selected", "no-traffic"})
METRICS_FRESH_POLLS = 3  # metrics older than this many poll intervals (at least 30 s) are stale
DERIVED_REFRESH = 2.0  # s: re-run unchanged evaluations this often, for rules about how long something lasts
DERIVED_IDLE_SHARE = 0.01  # unchanged but expensive: re-run at most at this share (0.5 s -> every 50 s)
DERIVED_THROTTLE_FROM = 0.01  # s: evaluations cheaper than this run on every tick that has news for them
DERIVED_MAX_SHARE = 0.05  # the expensive ones: at most this share of a core (0.5 s -> every 10 s)
DERIVED_THREAD_FROM = 0.05  # s: evaluations that cost more run in a thread, off the UI loop,
DERIVED_THREAD_PODS = 2000  # and so do all of them from this many pods on
FIRST_ANSWER_TIMEOUT = 10.0  # s: start-up gives up on a server that accepted the connection and says nothing
STOP_TIMEOUT = 3.0  # s: Session.stop() waits at most this long for its tasks and connections


@dataclass
class RolloutChoice:
    """What start-up resolved: a target to watch, or the candidates for the in-app picker."""

    target: object | None  # tui.rollout.target.Target
    namespace: str
    candidates: list = field(default_factory=list)
    forbidden: dict = field(default_factory=dict)  # kind -> the server's 403 message, for kinds start-up was refused


@dataclass
class TargetInfo:
    """What the header and the help screen show about where we are."""

    context: str
    namespace: str
    rollout: str | None
    kind: str | None
    selector: str
    server: str
    demo: bool
    kubeconfig_path: str | None


@dataclass
class Connection:
    ok: bool = True
    since: float = 0.0  # when the current state began
    error: str | None = None
    connecting: bool = False  # no answer from the server yet: the header says "connecting to …"
    server: str = ""


class SessionView(Protocol):
    """What the app reads from and asks of a session: the seam between the screen and the cluster.

    `Session` is the real one; tests' fakes implement the same (tests/test_ui_fakes.py)."""

    store: Store
    choice: RolloutChoice
    read_only: bool
    resolver: object  # tui.rollout.tracks.TrackResolver
    metrics: object | None  # the newest CompareState
    network_view: object | None
    on_derived: Callable[[], None] | None  # a threaded evaluation finished: refresh the status
    on_metrics: Callable[[object], None] | None  # a new CompareState

    @property
    def target(self) -> TargetInfo: ...

    @property
    def connection(self) -> Connection: ...

    def assess(self) -> "Assessment": ...

    def pod_rows(self) -> list: ...

    def event_relevant(self, ev: dict) -> bool: ...

    async def fetch_object(self, res: str, namespace: str, name: str) -> dict: ...

    def follow_logs(self, namespace: str, pod: str, container: str | None = None, previous: bool = False,
                    tail: int = 500) -> AsyncIterator[str]: ...

    async def switch(self, namespace: str | None = None, context: str | None = None,
                     rollout: str | None = None) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def resolve_rollout(kube_target, *, app_name: str | None, selector: str | None,
                          all_namespaces: bool, crds: tuple = ()) -> RolloutChoice:
    """Reach the API server once and find the rollout to watch (exit 3 if unreachable, 4 if ambiguous).
    `crds`: the in-house rollout kinds mapped in the config file (tui.rollout.custom.CustomKind)."""
    from tui.kube.client import ApiError, KubeClient, Unreachable
    from tui.kube.config import ExecPluginTimeout, KubeConfigError
    from tui.launch import EXIT_UNREACHABLE, EXIT_USAGE, ForbiddenTarget, LaunchError
    from tui.rollout.target import AmbiguousTarget, BadSelector, TargetNotFound, candidates, resolve_target

    namespace = None if all_namespaces else kube_target.namespace
    client = KubeClient(kube_target)
    try:
        try:
            await client.credentials_ready()  # an exec plugin: bounded by its own timeout (or the user's login)
            try:
                async with asyncio.timeout(FIRST_ANSWER_TIMEOUT):
                    await client.get_json("/version")
            except TimeoutError:
                raise LaunchError(f"the API server at {kube_target.server} did not answer within "
                                  f"{FIRST_ANSWER_TIMEOUT:g} s", EXIT_UNREACHABLE) from None
        except Unreachable as e:
            raise LaunchError(str(e), EXIT_UNREACHABLE) from None
        except ExecPluginTimeout as e:  # a plugin that hangs: as good as an unreachable server
            raise LaunchError(str(e), EXIT_UNREACHABLE) from None
        except KubeConfigError as e:  # credentials resolved on first use: an exec plugin that fails
            raise LaunchError(str(e), EXIT_USAGE) from None
        except ApiError as e:
            if e.status in (401, 403):
                raise LaunchError(f"the API server at {kube_target.server} refused us: {e}") from None
            raise LaunchError(str(e), EXIT_UNREACHABLE) from None

        forbidden: dict[str, str] = {}

        async def items(path: str, params: dict | None = None, kind: str = "") -> list[dict]:
            try:
                return (await client.get_json(path, params)).get("items") or []
            except ApiError as e:
                if e.status == 403:  # not allowed: remembered, and named wherever it matters, never "none"
                    forbidden[kind] = e.message or str(e)
                    return []
                if e.status == 404:  # Argo not installed: not an error here
                    return []
                raise LaunchError(f"listing {path} failed: {e}") from None

        scope = f"/namespaces/{namespace}" if namespace else ""
        rollouts = await items(f"/apis/argoproj.io/v1alpha1{scope}/rollouts", kind="rollouts")
        deployments = await items(f"/apis/apps/v1{scope}/deployments", kind="deployments")
        canaries = await items(f"/apis/flagger.app/v1beta1{scope}/canaries", kind="canaries")  # 404: no Flagger
        forbidden.pop("canaries", None)  # not allowed to read Canaries: the Deployments are still watched
        custom: list[tuple] = []
        for ck in crds:  # a mapped CRD the cluster does not serve answers 404: none of it, not an error
            custom += [(ck, o) for o in await items(ck.ref().path(namespace or None), kind=ck.store_key)]
        pods: list[dict] = []
        bare = (app_name or "").rsplit("/", 1)[-1]
        if app_name and not any(
            (o.get("metadata") or {}).get("name") == bare for o in rollouts + deployments + [o for _, o in custom]
        ) and "/" not in app_name:
            for key in ("app", "app.kubernetes.io/name"):
                pods += await items(f"/api/v1{scope}/pods", {"labelSelector": f"{key}={app_name}", "limit": 500},
                                    kind="pods")
        elif selector:
            pods = await items(f"/api/v1{scope}/pods", {"labelSelector": selector, "limit": 500}, kind="pods")
        where = f"in namespace {namespace}" if namespace else "in any namespace"
        try:
            target = resolve_target(app_name, selector, rollouts, deployments, pods, namespace, custom, crds,
                                    canaries)
        except AmbiguousTarget as e:
            if app_name or selector:
                raise LaunchError(str(e)) from None
            return RolloutChoice(None, namespace or "", list(e.candidates), dict(forbidden))
        except TargetNotFound as e:
            if forbidden:  # refused, not absent: say what was refused, to whom
                from tui.rollout.forbidden import TITLES, who

                refused = "; ".join(f"{TITLES.get(k, k)} {where}: {who(m)}" for k, m in forbidden.items())
                raise ForbiddenTarget(f"cannot tell whether {app_name or selector} exists, the API server refused "
                                      f"to list {refused}") from None
            raise LaunchError(str(e)) from None
        except BadSelector as e:
            raise LaunchError(str(e)) from None
        return RolloutChoice(target, target.namespace or (namespace or ""),
                             candidates(rollouts, deployments, (), namespace, custom, canaries), dict(forbidden))
    except Unreachable as e:
        raise LaunchError(str(e), EXIT_UNREACHABLE) from None
    finally:
        await client.aclose()


class Session:
    """Owns the client, the informers and the store for one target; the app reads from it."""

    def __init__(self, kube_target, choice: RolloutChoice, settings, *, read_only: bool = False,
                 demo: bool = False, kubeconfig_path: str | None = None, clock: Callable[[], float] = time.time,
                 prometheus_url: str | None = None, dns_server: str | None = None,
                 dns_names: tuple[str, ...] = (), debounce: bool = True):
        from tui.rollout.findings import FindingHistory, FindingTracker
        from tui.rollout.tracks import TrackResolver

        self.kube_target = kube_target
        self.choice = choice
        self.settings = settings
        self.read_only = read_only
        self.demo = demo
        self.kubeconfig_path = kubeconfig_path
        self.clock = clock
        self.prometheus_url = prometheus_url
        self.metrics = None  # the newest CompareState (canary vs stable), from the session's metrics poller
        self.on_metrics: Callable[[object], None] | None = None  # the app: a new CompareState
        self.poll_metrics = True  # start() runs the metrics poller (lookout status polls by hand)
        from tui.assessment import CandidateMemory

        self._candidates = CandidateMemory()
        self._step_clock = StepClock()  # how long the current rollout step has lasted (tui.rollout.progress)
        self._phase_clock = StepClock()  # a mapped CRD's: how long in its current step and phase
        self._roles_cache: tuple | None = None
        self._canary_memo: tuple | None = None  # (key, the Flagger Canary or None): flagger_canary()
        from tui.network.monitor import NetworkMonitor

        self.network = NetworkMonitor(dns_server=dns_server, extra_names=dns_names, clock=clock)
        self.network_view = None  # the newest NetworkView (Services, EndpointSlices, split, DNS)
        self.store = Store()
        self.conventions = _conventions(settings)
        self.resolver = TrackResolver(self.conventions, None)
        if self.custom_kind is not None:
            self.rebuild_resolver()
        self._tracker = FindingTracker(
            # `lookout status` judges one moment: it shows what holds now, with no wait to rise
            raise_after=_setting(settings, "findings", "raise_after", 5.0) if debounce else 0.0,
            clear_after=_setting(settings, "findings", "clear_after", 30.0),
            clock=clock, fast_clear=FAST_CLEAR_CODES,
        )
        self._history = FindingHistory()
        self._gone_pods: dict[str, None] = {}  # recently deleted pods, in order, bounded
        self._client = None
        self._tasks: list[asyncio.Task] = []
        self._connection = Connection(True, clock(), None)
        self.probe_link = True  # start() runs the liveness probe (tui.kube.liveness)
        self._link = None  # its LinkProbe while running
        self._informers: list = []  # (Informer, its task), for restarting stalled streams
        self.store.subscribe(self._on_deltas)
        self._row_cache: dict = {}  # pod key -> (pod object, resolver signature, PodRow, valid until)
        self._derived_cache: dict = {}  # "rollout"/"network" -> (key, now, monotonic, cost s, result)
        self._deriving: set[str] = set()  # evaluations running in a thread
        self.on_derived: Callable[[], None] | None = None  # the app: a threaded evaluation has a new result
        # expensive evaluations are throttled and moved to a thread by their measured cost (wall time); a
        # deterministic replay on a hand-moved clock turns that off
        self.throttle_derived = True

    # ---- what the header shows -----------------------------------------------------------
    @property
    def target(self) -> TargetInfo:
        t = self.choice.target
        return TargetInfo(
            context=self.kube_target.context,
            namespace=self.choice.namespace,
            rollout=getattr(t, "name", None),
            kind=getattr(t, "kind", None),
            selector=getattr(t, "selector", ""),
            server=self.kube_target.server,
            demo=self.demo,
            kubeconfig_path=self.kubeconfig_path,
        )

    @property
    def link(self):
        """The liveness probe's newest LinkState, or None when no probe runs."""
        return self._link.state if self._link is not None else None

    @property
    def connection(self) -> Connection:
        link = self.link
        if link is not None and not link.ok:  # the server stopped answering: since its last answer
            err = f"no answer from {self.kube_target.server} ({link.error or 'no answer'})"
            if self._connection.ok or self._connection.since != link.last_ok:
                self._connection = Connection(False, link.last_ok, err)
            self._connection.error = err
            return self._connection
        hs = list(self.store.health.values())
        connecting = (not any(h.synced or h.last_event or h.connected or h.error for h in hs)
                      and not (link is not None and link.answered))
        if connecting != self._connection.connecting:
            self._connection = Connection(self._connection.ok, self._connection.since, self._connection.error,
                                          connecting, self.kube_target.server)
        down = [h for h in hs if not h.connected and h.error and not h.forbidden and not h.not_installed]
        ok = not hs or len(down) < len(hs)
        if ok != self._connection.ok:
            self._connection = Connection(ok, self.clock(), None if ok else down[0].error, connecting,
                                          self.kube_target.server)
        elif not ok:
            self._connection.error = down[0].error
        return self._connection

    @property
    def custom_kind(self):
        """The config mapping (tui.rollout.custom.CustomKind) of the target's kind, when it is an in-house CRD."""
        t = self.choice.target
        if t is None or t.kind in ("Rollout", "Deployment", "Label"):
            return None
        from tui.rollout.custom import custom_kind_of

        return custom_kind_of(getattr(self.settings, "crds", ()), t.kind)

    def workload(self) -> dict | None:
        t = self.choice.target
        ck = self.custom_kind
        if ck is not None:
            return self.store.get(ck.store_key, t.namespace, t.name)
        if t is None or t.kind not in ("Rollout", "Deployment"):
            return None
        kind = "rollouts" if t.kind == "Rollout" else "deployments"
        return self.store.get(kind, t.namespace, t.name)

    def summary(self):
        from tui.rollout.target import rollout_summary

        t = self.choice.target
        if t is None:
            return None
        ck = self.custom_kind
        if ck is not None:
            from tui.rollout.custom import custom_summary

            return custom_summary(t, ck, self.workload(), self.store.list("pods"))
        return rollout_summary(t, self.workload(), self.store.list("replicasets"))

    def findings(self):
        from tui.rollout.findings import evaluate

        t = self.choice.target
        if t is None:
            return []
        now = self.clock()
        sig = (id(t), _resolver_signature(self.resolver))
        resolver, history, workload = self.resolver, self._history, self.workload()
        raw = self._derived("rollout", (sig, self.store.generations(ROLLOUT_KINDS)), now, ROLLOUT_KINDS,
                            lambda store: evaluate(store, resolver, t, now, history), [])
        if self.metrics is not None:  # "no data" diagnoses and resource checks are findings too
            raw = [*raw, *self.metrics.findings]
        canary = self.flagger_canary()
        if canary is not None:  # Flagger's "no values found … not receiving traffic" halts
            from tui.rollout.flagger import analysis, event_findings
            from tui.rollout.progress import parse_duration

            interval = parse_duration(analysis(canary).get("interval")) or 60.0
            raw = [*raw, *event_findings(canary, self.store.list("events", t.namespace), now, max(120.0, 3 * interval))]

        try:
            # DNS is looked up again every 10 s: what counts is whether the answers changed, not when they came
            dns = tuple((a.name, a.server, a.addresses, a.cnames, a.error, a.service) for a in self.network.answers)
            key = (sig, self.store.generations(NETWORK_DEPENDS_ON), dns)
            self.network_view, net = self._derived(
                "network", key, now, NETWORK_DEPENDS_ON,
                lambda store: self.network.evaluate(store, t, resolver, workload, now), (self.network_view, []))
            raw = [*raw, *net]
        except Exception:  # a bug in one check must not take the other findings down
            import logging

            logging.getLogger(__name__).exception("network evaluation failed")
        try:  # blue and green differing in configuration (tui.diff): `b` shows how
            from tui.diff.report import DRIFT_KINDS, drift

            found = self._derived("diff", (sig, self.store.generations(DRIFT_KINDS)), now, DRIFT_KINDS,
                                  lambda store: drift(store, t, resolver), None)
            if found is not None:
                raw = [*raw, found]
        except Exception:
            import logging

            logging.getLogger(__name__).exception("environment diff failed")
        from tui.rollout.forbidden import forbidden_findings, forbidden_kinds, without_blind_findings

        refused = forbidden_kinds(self.store.health.values(), self.choice.forbidden)
        if refused:  # a 403 is named, never taken for "none exist" (no "Service selects no pods" when pods are)
            by_label = getattr(t, "kind", None) not in ("Rollout", "Deployment")
            named = forbidden_findings(refused, by_label=by_label)
            raw = [*without_blind_findings(raw, refused), *named]
            self._name_refused_in_network_view(refused, named)
        return self._tracker.update(raw, now)

    def _name_refused_in_network_view(self, refused: dict, named: list) -> None:
        """The DNS / endpoints pane says which of its kinds were refused, instead of "no Service selects…"."""
        import dataclasses

        from tui.rollout.forbidden import without_blind_findings

        view = self.network_view
        if view is None or not ({"pods", "services", "endpointslices"} & set(refused)):
            return
        key = tuple(sorted(refused.items()))
        memo = getattr(self, "_refused_view", None)  # (raw view, key, the view shown)
        if memo is not None and memo[1] == key and view in (memo[0], memo[2]):
            self.network_view = memo[2]  # the same object while nothing changed: the pane does not redraw
            return
        mine = tuple(f for f in named if f.code in ("forbidden-endpoints", "forbidden-pods"))
        shown = dataclasses.replace(view, findings=mine + tuple(without_blind_findings(view.findings, refused)))
        self._refused_view = (view, key, shown)
        self.network_view = shown

    def _derived(self, name: str, key, now: float, kinds: tuple[str, ...], compute, default):
        """`compute(store)`, or its last result while nothing it reads changed (same store generations, resolver
        and target; re-run after DERIVED_REFRESH seconds anyway, as rules look at ages), and at most at
        DERIVED_MAX_SHARE of one core when it is expensive: at 10,000 pods under churn every tick has something
        new and the network checks cost ~0.5 s. Those slow ones run in a thread on a snapshot of the store (the
        store replaces objects, never changes them, so copying the kinds' dicts is enough): the UI loop keeps
        painting meanwhile, and the next status tick takes the result."""
        hit = self._derived_cache.get(name)
        mono = time.monotonic()
        if not self.throttle_derived:  # tests on a hand-moved clock: every result now, whatever it costs
            if hit is not None and hit[0] == key and 0 <= now - hit[1] < DERIVED_REFRESH:
                return hit[4]
            value = compute(self.store)
            self._derived_cache[name] = (key, now, mono, 0.0, value)
            return value
        # the cost of the last run can be that of a store still filling: its size says what is coming
        big = len(self.store.objects.get("pods", ())) >= DERIVED_THREAD_PODS
        if hit is not None:
            hkey, hnow, hmono, cost, value = hit
            if hkey == key and 0 <= now - hnow < max(DERIVED_REFRESH, cost / DERIVED_IDLE_SHARE):
                return value
            if cost >= DERIVED_THROTTLE_FROM and mono - hmono < cost / DERIVED_MAX_SHARE:
                return value
            if cost >= DERIVED_THREAD_FROM or big:
                self._derive_in_thread(name, key, now, kinds, compute)
                return self._derived_cache[name][4]  # the last result (new only without a loop)
        elif big:
            if self._derive_in_thread(name, key, now, kinds, compute):
                return default  # the first result comes with the next tick
            return self._derived_cache[name][4]
        started = time.perf_counter()
        value = compute(self.store)
        self._derived_cache[name] = (key, now, mono, time.perf_counter() - started, value)
        return value

    def _derive_in_thread(self, name: str, key, now: float, kinds: tuple[str, ...], compute) -> bool:
        """Start compute(snapshot) in a thread; False (nothing started) without a running loop."""
        if name in self._deriving:
            return True  # the previous one is still running: its result comes first
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a plain call from a test): compute here
            started = time.perf_counter()
            value = compute(self.store)
            self._derived_cache[name] = (key, now, time.monotonic(), time.perf_counter() - started, value)
            return False
        objects = self.store.objects
        snapshot = Store(objects={k: dict(objects[k]) for k in kinds if k in objects})
        self._deriving.add(name)
        cache = self._derived_cache

        def run():
            started = time.thread_time()
            value = compute(snapshot)
            return value, time.thread_time() - started

        def done(fut) -> None:
            self._deriving.discard(name)
            if cache is not self._derived_cache or fut.cancelled():
                return  # switched rollout meanwhile
            if fut.exception() is not None:
                import logging

                logging.getLogger(__name__).error("%s evaluation failed", name, exc_info=fut.exception())
                cache.pop(name, None)  # the next tick computes it in place (and shows the error there)
                return
            value, cost = fut.result()
            cache[name] = (key, now, time.monotonic(), max(cost, DERIVED_THREAD_FROM), value)
            if self.on_derived is not None:
                self.on_derived()

        loop.run_in_executor(None, run).add_done_callback(done)
        return True

    def metrics_monitor(self):
        """The canary-vs-stable poller: Prometheus when --prometheus (or [prometheus] url) is set, else a
        direct scrape of each pod's /metrics through the API server."""
        from tui.metrics.monitor import MetricsMonitor

        return MetricsMonitor(self, prometheus_url=self.prometheus_url, clock=self.clock)

    def pod_rows(self):
        from tui.rollout.pods import pod_row

        # Rows are kept per pod between status ticks: at 10,000 pods converting every pod on every
        # tick cost ~40 ms of the UI loop while only the pods that changed need it. A row is reused
        # while the pod object (the store replaces it on change), the resolver and the time-bound
        # "restarted recently" verdict are the same. The resolver is rebuilt on every ReplicaSet
        # status change, so what counts is what decides tracks: its strategy and hashes.
        now = self.clock()
        resolver = self.resolver
        sig = _resolver_signature(resolver)
        track_of = resolver.track_of_pod
        cache = self._row_cache
        fresh: dict = {}
        out = []
        for key, p in self.store.objects.get("pods", {}).items():
            hit = cache.get(key)
            if hit is not None and hit[0] is p and hit[1] == sig and now < hit[3]:
                fresh[key] = hit
                out.append(hit[2])
                continue
            row = pod_row(p, track_of(p), now)
            fresh[key] = (p, sig, row, _row_expiry(p, now))
            out.append(row)
        self._row_cache = fresh
        return out

    def roles(self) -> "Roles":
        """Baseline and candidate from where the traffic goes (tui.rollout.roles), kept while pods, Services and
        the workload are unchanged."""
        from tui.rollout.roles import traffic_roles

        t = self.choice.target
        key = (id(t), _resolver_signature(self.resolver), self.store.generations(("pods", "services", "rollouts",
                                                                                  "deployments")))
        if self._roles_cache is not None and self._roles_cache[0] == key:
            return self._roles_cache[1]
        ns = getattr(t, "namespace", "") or self.choice.namespace
        sel = t.pod_selector() if t is not None and getattr(t, "selector", "") else None
        pods = [p for (pns, _), p in self.store.objects.get("pods", {}).items()
                if pns == ns and (sel is None or sel.matches((p.get("metadata") or {}).get("labels")))]
        services = [o for (sns, _), o in self.store.objects.get("services", {}).items() if sns == ns]
        summary = self.summary()
        roles = traffic_roles(pods, self.resolver.track_of_pod, services,
                              active_service=getattr(summary, "active_service", None),
                              preview_service=getattr(summary, "preview_service", None))
        self._roles_cache = (key, roles)
        return roles

    def metrics_bound(self) -> float:
        from tui.metrics.monitor import metrics_settings

        interval = metrics_settings(self.settings, self.choice.target).interval
        return max(30.0, METRICS_FRESH_POLLS * interval)

    def analysis_runs(self) -> list[dict]:
        """The rollout's AnalysisRuns (Argo names them after the rollout, or owns them by it)."""
        t = self.choice.target
        if t is None or t.kind != "Rollout":
            return []
        out = []
        for (ns, name), run in self.store.objects.get("analysisruns", {}).items():
            owners = (run.get("metadata") or {}).get("ownerReferences") or ()
            if ns == t.namespace and (name.startswith(t.name + "-") or any(
                    o.get("kind") == "Rollout" and o.get("name") == t.name for o in owners)):
                out.append(run)
        return out

    def assess(self) -> "Assessment":
        """The one assessment every view renders (tui.assessment.assess)."""
        from tui.assessment import assess

        t = self.choice.target
        now = self.clock()
        findings = self.findings()
        summary = self.summary()
        roles = self.roles()
        workload = self.workload()
        from tui.assessment import rollout_outcome

        canary = self.flagger_canary()
        from tui.rollout.flagger import step_key as flagger_step_key

        if canary is not None:
            from tui.rollout.flagger import flagger_outcome

            revision = flagger_outcome(canary).revision
        else:
            revision = rollout_outcome(getattr(t, "kind", None), workload, summary).revision
        self._candidates.observe(self.metrics, roles, revision, now)
        rollout = f"{getattr(t, 'kind', '') or 'Label'}/{getattr(t, 'name', '') or ''}"
        return assess(now=now, rollout=rollout, kind=getattr(t, "kind", None), workload=workload, summary=summary,
                      pod_rows=self.pod_rows(), findings=findings, compare=self.metrics,
                      network_view=self.network_view, health=list(self.store.health.values()), roles=roles,
                      sighting=self._candidates.for_revision(revision), analysis_runs=self.analysis_runs(),
                      metrics_bound=self.metrics_bound(), link=self.link, replicasets=self.store.list("replicasets"),
                      step_for_s=self._step_clock.observe(step_key(workload) if canary is None
                                                          else flagger_step_key(canary), now),
                      group_progress=self.group_progress(), canary=canary,
                      events=self.store.list("events") if canary is not None else (),
                      deployments=self.store.list("deployments", t.namespace) if canary is not None else ())

    def flagger_canary(self) -> dict | None:
        """The Flagger Canary of a label target: the one whose primary or canary Deployment it selects."""
        t = self.choice.target
        if t is None or t.kind != "Label":
            return None
        canaries = self.store.objects.get("canaries") or {}
        if not canaries:
            return None
        # asked per event row and per tick: kept while no Canary or Deployment changed
        key = (id(t), self.store.generations(("canaries", "deployments")))
        memo = self._canary_memo
        if memo is not None and memo[0] == key:
            return memo[1]
        from tui.rollout.flagger import canary_for_selector

        found = canary_for_selector(canaries.values(), self.store.objects.get("deployments", {}).values(),
                                    t.pod_selector().matches, t.namespace)
        self._canary_memo = (key, found)
        return found

    def group_progress(self):
        """A label target's Deployments (a manual canary or blue/green pair), or a mapped in-house CRD
        (tui.rollout.custom), for the rollout strip."""
        t = self.choice.target
        ck = self.custom_kind
        if ck is not None:
            from tui.rollout.custom import custom_progress

            wl = self.workload()
            return custom_progress(ck, wl, self.store.list("pods"), track_of=self.resolver.track_of_labels,
                                   step_for_s=self._phase_clock.observe((ck.read("step", wl or {}),
                                                                        ck.read("phase", wl or {})), self.clock()))
        if t is None or t.kind != "Label" or self.flagger_canary() is not None:
            return None
        from tui.rollout.progress import group_progress

        sel = t.pod_selector()
        ds = [d for (ns, _), d in self.store.objects.get("deployments", {}).items()
              if (not t.namespace or ns == t.namespace) and sel.matches(
                  (((d.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels"))]
        return group_progress(t.name, ds, self.resolver.track_of_labels)

    # ---- lifecycle ---------------------------------------------------------------------------
    async def wait_synced(self, timeout: float, on_wait: Callable[[], None] | None = None) -> bool:
        """Until every informer has its first list (or said why not), at most `timeout` seconds: for the commands
        that judge once (`lookout status`, `lookout runbooks run`). False when the time ran out."""
        import time as _time

        deadline = _time.monotonic() + timeout
        while _time.monotonic() < deadline:
            hs = list(self.store.health.values())
            if hs and all(h.settled for h in hs):
                return True
            await asyncio.sleep(0.05)
            if on_wait is not None:
                on_wait()
        return False

    async def start(self) -> None:
        from tui.kube.client import KubeClient

        self._client = KubeClient(self.kube_target)
        self._start_informers()
        if self.probe_link:
            from tui.kube.liveness import LinkProbe

            self._link = LinkProbe(self.kube_target, clock=self.clock, on_change=lambda _s: self._link_changed(),
                                   on_restore=self._restart_informers)
            self._tasks.append(asyncio.create_task(self._link.run(), name="liveness"))
        # the demo cluster answers DNS for its scenario's names: the app in demo mode, and `lookout status` run
        # against its kubeconfig (context lookout-demo), ask it rather than the system's resolvers
        if (self.demo or getattr(self.kube_target, "context", "") == "lookout-demo") and self.network.dns_server is None:
            await self._demo_dns_server()
        self._tasks.append(asyncio.create_task(self.network.run_dns(), name="dns"))
        if self.poll_metrics and t_has_target(self):
            self._tasks.append(asyncio.create_task(self._run_metrics(), name="metrics"))

    async def _run_metrics(self) -> None:
        """Canary vs stable for as long as we watch: Prometheus or direct scrape (metrics_monitor)."""
        import logging

        try:
            monitor = self.metrics_monitor()
        except Exception as e:  # noqa: BLE001 - a bad --prometheus URL: the pane says why, the rest goes on
            from tui.metrics.analysis import EMPTY_STATE
            import dataclasses

            self.metrics = dataclasses.replace(EMPTY_STATE, stale=True, error=f"metrics: {clean(str(e))}",
                                               now=self.clock())
            if self.on_metrics is not None:
                self.on_metrics(self.metrics)
            logging.getLogger(__name__).warning("metrics source: %s", e)
            return
        await monitor.run(self._metrics_state)

    def _metrics_state(self, state) -> None:
        self.metrics = state
        if self.on_metrics is not None:
            self.on_metrics(state)

    async def _demo_dns_server(self) -> None:
        """The demo cluster answers for its scenario's external names: ask its control API where."""
        try:
            status = await self._client.get_json("/lookout/v1/status")
        except Exception:
            return
        server = ((status.get("simulation") or status.get("scenario") or status).get("dns") or {}).get("server") \
            if isinstance(status, dict) else None
        if server:
            self.network.dns_server = server

    async def stop(self) -> None:
        """Cancel every task and wait for them, within STOP_TIMEOUT: a task that swallows its cancellation (Python
        3.11's wait_for can) is cancelled again, and after the bound left behind rather than waited for."""
        tasks, self._tasks = self._tasks, []
        tasks += [t for _, t in self._informers]
        self._informers = []
        self._link = None
        await cancel_and_wait(tasks, STOP_TIMEOUT)
        client, self._client = self._client, None
        if client is not None:
            try:
                async with asyncio.timeout(STOP_TIMEOUT):
                    await client.aclose()
            except TimeoutError:
                pass

    def _start_informers(self) -> None:
        from tui.kube.informer import Informer
        from tui.kube.resources import RESOURCES

        t = self.choice.target
        if t is None:
            return
        ns = t.namespace or None
        specs = [
            ("pods", ns, t.selector, None),
            ("replicasets", ns, t.selector, None),
            ("events", ns, None, None),
            ("services", ns, None, None),
            ("endpointslices", ns, None, None),
        ]
        if t.kind == "Label":  # a Flagger Canary over the selected Deployments (tui.rollout.flagger)
            specs.append(("canaries", ns, None, None))
        from tui.network.kinds import DESTINATIONRULES, HTTPROUTES, TRAFFICSPLITS, VIRTUALSERVICES
        from tui.rollout.flagger import CANARIES

        refs = dict(RESOURCES, httproutes=HTTPROUTES, virtualservices=VIRTUALSERVICES, canaries=CANARIES,
                    destinationrules=DESTINATIONRULES, trafficsplits=TRAFFICSPLITS)
        ck = self.custom_kind
        if ck is not None:  # an in-house CRD mapped in the config file: its one object
            refs[ck.store_key] = ck.ref()
            specs.append((ck.store_key, ns, None, f"metadata.name={t.name}"))
        if t.kind == "Rollout":
            specs.append(("rollouts", ns, None, f"metadata.name={t.name}"))
            specs.append(("analysisruns", ns, None, None))  # a failed analysis says why the rollout aborted
        # every Deployment of the namespace: a track with no pods yet is checked from its template
        specs.append(("deployments", ns, None, None))
        # what the environments read, for the blue/green diff (Secrets: keys and keyed digests only, tui.kube.slim)
        specs.append(("configmaps", ns, None, None))
        specs.append(("secrets", ns, None, None))
        # what routes traffic: absent CRDs answer 404 and show as "not installed", never as errors
        for kind in ("ingresses", "networkpolicies", "httproutes", "virtualservices", "destinationrules",
                     "trafficsplits"):
            specs.append((kind, ns, None, None))
        for kind, namespace, labels, fields in specs:
            # 250-object pages: parsing one blocks the loop, so keep each bite short for the UI.
            inf = Informer(self._client, self.store, refs[kind], namespace=namespace,
                           label_selector=labels, field_selector=fields, page_size=250)
            self._informers.append((inf, asyncio.create_task(inf.run(), name=f"informer-{kind}")))

    def _restart_informers(self) -> None:
        """The link is back after being lost: a watch whose connection stalled meanwhile may never say so (no
        FIN, no bytes), so every informer starts again, resuming its watch from its resourceVersion (a relist
        only where the server no longer has it: 410 Gone)."""
        old, self._informers = self._informers, []
        for inf, task in old:
            task.cancel()
            self._informers.append((inf, asyncio.create_task(self._resume(inf, task), name=task.get_name())))

    @staticmethod
    async def _resume(inf, old: asyncio.Task) -> None:
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await asyncio.gather(old, return_exceptions=True)
        except TimeoutError:
            pass
        await inf.run()

    def _link_changed(self) -> None:
        if self.on_derived is not None:  # the app refreshes what it shows, as after a threaded evaluation
            self.on_derived()

    async def switch(self, namespace: str | None = None, context: str | None = None,
                     rollout: str | None = None) -> None:
        """Point the session elsewhere; raises LaunchError with a sentence when that cannot be done."""
        from tui.kube.config import KubeConfigError, load_target

        kube_target = self.kube_target
        if context is not None:
            try:
                kube_target = load_target(self.kubeconfig_path, context, namespace)
            except KubeConfigError as e:
                from tui.launch import LaunchError

                raise LaunchError(str(e)) from None
        if namespace is not None and context is None:
            kube_target = _with_namespace(kube_target, namespace)
        choice = await resolve_rollout(kube_target, app_name=rollout, selector=None, all_namespaces=False,
                                       crds=getattr(self.settings, "crds", ()))
        await self.stop()
        self.kube_target, self.choice = kube_target, choice
        self.store.reset()
        self.resolver = type(self.resolver)(self.conventions, None)
        if self.custom_kind is not None:
            self.rebuild_resolver()
        self._tracker.reset()
        self.metrics = None
        self._candidates.reset()
        self._roles_cache = None
        self._canary_memo = None
        self.network.reset()
        self.network_view = None
        self._derived_cache = {}  # a threaded evaluation of the old rollout still running drops its result
        from tui.rollout.findings import FindingHistory

        self._history = FindingHistory()
        await self.start()

    # ---- on demand ---------------------------------------------------------------------------
    async def fetch_object(self, res: str, namespace: str, name: str) -> dict:
        from tui.kube.resources import RESOURCES

        from tui.kube.slim import redact_secret

        obj = await self._client.get_json(RESOURCES[res].path(namespace, name))
        return redact_secret(obj)

    async def follow_logs(self, namespace: str, pod: str, container: str | None = None,
                          previous: bool = False, tail: int = 500) -> AsyncIterator[str]:
        params: dict = {"tailLines": tail}
        if container:
            params["container"] = container
        if previous:
            params["previous"] = "true"
        else:
            params["follow"] = "true"
        from tui.kube.resources import RESOURCES

        path = RESOURCES["pods"].path(namespace, pod, "log")
        async for raw in self._client.stream_lines(path, params, keep_empty=True):
            yield clean(raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else raw)

    def event_relevant(self, ev: dict) -> bool:
        """Is this event about the rollout: its workload, its ReplicaSets, its pods or its Services?

        The pods and ReplicaSets informers are scoped to the rollout's selector, so being in the store
        is being the rollout's; events of other apps in the namespace stay out of the pane.
        """
        inv = ev.get("involvedObject") or ev.get("regarding") or {}
        kind, name = inv.get("kind"), inv.get("name") or ""
        ns = inv.get("namespace") or (ev.get("metadata") or {}).get("namespace") or ""
        t = self.choice.target
        if t is None:
            return True
        if kind == "Pod":
            return (ns, name) in self.store.objects.get("pods", {}) or name in self._gone_pods
        if kind == "ReplicaSet":
            return (ns, name) in self.store.objects.get("replicasets", {})
        if kind in ("Rollout", "Deployment") or kind == t.kind:  # t.kind: a mapped in-house CRD's own events
            return kind == t.kind and name == t.name
        if kind == "Canary":  # Flagger records everything on its Canary
            c = self.flagger_canary()
            return c is not None and name == (c.get("metadata") or {}).get("name")
        if kind in ("Service", "Endpoints", "EndpointSlice", "AnalysisRun"):
            return True  # same namespace; a later issue narrows Services to the rollout's
        return False

    # ---- store reactions ---------------------------------------------------------------------
    def _on_deltas(self, deltas) -> None:
        for d in deltas:
            if d.kind == "pods" and d.type == "DELETED":  # its Killing events still arrive afterwards
                self._gone_pods[d.key[1]] = None
                if len(self._gone_pods) > 1000:
                    self._gone_pods.pop(next(iter(self._gone_pods)))
        ck = self.custom_kind
        if any(d.kind in ("rollouts", "deployments", "replicasets", "canaries")
               or (ck is not None and d.kind == ck.store_key) for d in deltas):
            self.rebuild_resolver()

    def rebuild_resolver(self) -> None:
        """Tracks follow the workload's status (Argo's stable/canary hashes, a Deployment's ReplicaSets)."""
        from tui.rollout.tracks import TrackResolver

        t = self.choice.target
        workload = self.workload()
        rss = tuple(self.store.objects.get("replicasets", {}).values()) if t is not None and t.kind == "Deployment" else ()
        versions = {}
        conventions = self.conventions
        canary = self.flagger_canary()
        if canary is not None:  # Flagger: `app=NAME-primary` is the primary track, `app=NAME` the canary
            from tui.rollout.flagger import track_rule
            from tui.rollout.tracks import TrackConventions

            rule = track_rule(canary, self.store.objects.get("deployments", {}).values())
            conventions = TrackConventions((rule,) + tuple(conventions.labels), conventions.argo_hash_label)
        elif t is not None and t.kind == "Label":  # an app told apart only by `version` labels
            from tui.rollout.tracks import version_tracks

            sel = t.pod_selector()
            versions = version_tracks([d for (ns, _), d in self.store.objects.get("deployments", {}).items()
                                       if not t.namespace or ns == t.namespace], sel.matches)
        ck = self.custom_kind
        if ck is not None:  # an in-house CRD: its mapping's track labels first
            from tui.rollout.custom import custom_conventions

            self.resolver = TrackResolver(custom_conventions(ck, self.conventions), None, workload_kind=t.kind)
            self.resolver.strategy = ck.strategy
            return
        self.resolver = TrackResolver(conventions, workload, replicasets=rss,
                                      workload_kind=getattr(t, "kind", None), versions=versions)


async def cancel_and_wait(tasks, timeout: float) -> list:
    """Cancel the tasks and wait until they end, cancelling again every 0.2 s (a cancel can be lost), for at most
    `timeout` seconds; returns the ones that would not end."""
    pending = {t for t in tasks if not t.done()}
    end = time.monotonic() + timeout
    while pending:
        for t in pending:
            t.cancel()
        left = end - time.monotonic()
        if left <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=min(0.2, left))
    for t in tasks:  # retrieve their outcome, so asyncio does not log "exception never retrieved"
        if t.done() and not t.cancelled():
            t.exception()
    if pending:
        import logging

        logging.getLogger(__name__).debug("tasks that would not end: %s", sorted(t.get_name() for t in pending))
    return list(pending)


def t_has_target(session) -> bool:
    return session.choice.target is not None


def _conventions(settings):
    from tui.rollout.tracks import TrackConventions

    conv = getattr(settings, "tracks", None)
    return conv if isinstance(conv, TrackConventions) else TrackConventions()


def _setting(settings, section: str, key: str, default):
    sec = getattr(settings, section, None)
    return getattr(sec, key, default) if sec is not None else default


def _with_namespace(kube_target, namespace: str):
    import dataclasses

    return dataclasses.replace(kube_target, namespace=namespace)


def _row_expiry(pod: dict, now: float) -> float:
    """Until when a pod's row stays right: a restart counts as recent for a while, then no longer."""
    from tui.rollout.pods import RECENT_RESTART_SECONDS, parse_time

    st = pod.get("status") or {}
    until = float("inf")
    for group in ("initContainerStatuses", "containerStatuses"):
        for cs in st.get(group) or ():
            if not cs.get("restartCount"):
                continue
            last = (cs.get("lastState") or {}).get("terminated")
            t = parse_time(last.get("finishedAt")) if last else None
            if t is not None and now - t < RECENT_RESTART_SECONDS:
                until = min(until, t + RECENT_RESTART_SECONDS)
    return until


def _resolver_signature(r) -> object:
    try:
        return (r.strategy, r._hash_label, tuple(sorted(r._by_hash.items())),
                tuple(sorted((getattr(r, "versions", None) or {}).items())))
    except (AttributeError, TypeError):
        return id(r)
