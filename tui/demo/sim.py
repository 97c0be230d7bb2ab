"""The demo cluster's simulation: plays a scenario's timeline on a ClusterState and runs its controllers.

Two clocks: `t` is scenario time (seconds since start, advancing at `speed` x wall time, paused by
`pause()`), which decides when the next timeline step, pod start-up, probe or back-off happens;
`clock()` is wall time, which every timestamp and every metric rate uses. Everything random comes
from `random.Random` seeded by `seed` and a stable key, so a seed replays the same names and IPs.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
import time
from typing import AsyncIterator, Callable

from tui.demo import controllers as ctl_mod
from tui.demo.controllers import (ARGO_HASH, CHANGED_AT, DEPLOY_HASH, NODES, Controllers, pod_ready, rfc3339,
                                  selector_matches, template_hash)
from tui.demo.logs import LogBook, TrafficView
from tui.demo.patch import merge_patch, strategic_merge_patch
from tui.demo.scenario import Scenario, TrafficProfile, load_scenario
from tui.demo.state import AlreadyExists, ClusterState, NotFound, StateError
from tui.demo.traffic import TrafficModel

BACKGROUND_APPS = ("inventory", "search", "payments", "notifications", "recommendations", "ledger", "auth", "catalog")
CHURN_ROWS = 50  # churn touches the first rows by name, the ones a screen shows


class ManualClock:
    """A wall clock tests move by hand; `Simulation.advance` moves it along with scenario time."""

    def __init__(self, start: float | None = None):
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, dt: float) -> None:
        self.now += dt


class Simulation:
    def __init__(self, state: ClusterState, *, scenario: str | Scenario = "healthy-canary", seed: int = 1,
                 speed: float = 1.0, pods: int | None = None, background_pods: int = 0, churn: float = 0.0,
                 clock: Callable[[], float] = time.time, tick: float = 0.05):
        self.state = state
        self.scenario: Scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        self.seed = seed
        self.rng = random.Random(seed)
        self.speed = float(speed)
        self.pods_override = pods
        self.background_pods = int(background_pods or 0)
        self.churn = float(churn or 0.0)
        self.clock = clock
        self.tick = tick
        self.t = 0.0
        self.paused = False
        self.started = False
        self.restored = False
        self._heap: list = []
        self._seq = 0
        self._dedupe: set = set()
        self._next_step = 0
        self._last_wall: float | None = None
        self._task: asyncio.Task | None = None
        self._quick_pending = False
        self._pending_actions: list = []
        self._ramps: dict[str, tuple[TrafficProfile, dict, float, float]] = {}
        self._churn_budget = 0.0
        self._churn_idx = 0
        self._churn_rows: list[str] | None = None
        self._pod_serial: dict[tuple[str, str], int] = {}
        self.errors: list[str] = []
        self.said: list[tuple[float, str]] = []
        self.startup_seconds: float | None = None
        self.counters = {"churn_changes": 0, "steps_fired": 0}
        sc = self.scenario
        self.traffic = TrafficModel(sc.total_rps, sc.profiles, clock())
        self.logs = LogBook(seed, clock, self._traffic_view)
        self.ctl = Controllers(self)
        self._dns_initial: dict | None = None
        self.mesh_routes: dict[tuple[str, str], dict[str, int]] = {}  # (ns, Service) -> {backend Service: weight}
        self._served_by: dict[str, set] = {}  # traffic Service -> its ready endpoints, when there are several
        self.prometheus_url: str | None = None  # `--with-prometheus`: the analysis controller queries it

    # ================================================================ lifecycle
    async def start(self, *, background: bool = True) -> None:
        """Seed the scenario's objects, start the controllers and (unless background=False) the timeline task."""
        if self.started:
            return
        t0 = time.perf_counter()
        self.started = True
        self.state.graceful_pod_delete = True
        self.state.on_change(self.ctl.on_change)
        self.ctl.prime()
        self._seed_objects()
        self.ctl.reconcile()
        self._last_wall = self.clock()
        self.startup_seconds = time.perf_counter() - t0
        if background:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="demo-simulation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            try:
                self._on_tick()
            except Exception as e:  # a bug in one step must not stop the cluster
                self.note_error(f"tick: {e!r}")

    def _on_tick(self) -> None:
        now = self.clock()
        wall_dt = max(0.0, now - (self._last_wall if self._last_wall is not None else now))
        self._last_wall = now
        if self.churn > 0:
            self._do_churn(wall_dt)
        if not self.paused:
            self._advance(wall_dt * self.speed)
        else:
            self.ctl.reconcile()
        self.traffic.advance(now)

    # ================================================================ control
    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self._last_wall = self.clock()

    def step(self) -> dict:
        """Jump scenario time to the next timeline step and play it (with everything due before it); the new status."""
        if self._next_step < len(self.scenario.timeline):
            target = self.scenario.timeline[self._next_step].at
            self._advance(max(0.0, target - self.t), move_clock=False)
            if self._next_step < len(self.scenario.timeline) and self.scenario.timeline[self._next_step].at <= self.t:
                self._fire_due_steps()
        else:
            self._advance(5.0, move_clock=False)
        return self.status()

    def set_speed(self, x: float) -> None:
        if not (x > 0 and math.isfinite(x)):
            raise ValueError(f"speed must be a positive number, got {x!r}")
        self.speed = float(x)

    def status(self) -> dict:
        sc = self.scenario
        nxt = sc.timeline[self._next_step] if self._next_step < len(sc.timeline) else None
        return {
            "scenario": sc.name, "plays": sc.plays, "seed": self.seed, "speed": self.speed, "paused": self.paused,
            "time": round(self.t, 3), "steps_done": self._next_step, "steps_total": len(sc.timeline),
            "next_step": ({"at": nxt.at, "action": nxt.action, "say": nxt.say, "in": round(max(0.0, nxt.at - self.t), 3)}
                          if nxt else None),
            "last_said": self.said[-1][1] if self.said else "",
            "pods": self.state.count("pods"), "restored": self.restored,
            "churn": self.churn, "churn_changes": self.counters["churn_changes"],
            "startup_seconds": self.startup_seconds,
            "dns": self.dns_status(), "errors": list(self.errors[-20:]),
        }

    def advance(self, seconds: float) -> None:
        """Tests: move scenario time by `seconds` now (a ManualClock moves by seconds/speed along with it)."""
        self._advance(seconds, move_clock=True)
        self.traffic.advance(self.clock())

    # ================================================================ time
    def schedule(self, delay: float, fn: Callable[[], None], dedupe=None) -> None:
        if dedupe is not None:
            if dedupe in self._dedupe:
                return
            self._dedupe.add(dedupe)
        self._seq += 1
        heapq.heappush(self._heap, (self.t + max(0.0, delay), self._seq, fn, dedupe))

    def _advance(self, dt: float, move_clock: bool = False, max_sub: float = 0.25) -> None:
        end = self.t + dt
        tick_clock = move_clock and hasattr(self.clock, "advance")
        while True:
            nxt = min(end, self.t + max_sub)
            if self._heap and self._heap[0][0] < nxt:
                nxt = max(self.t, self._heap[0][0])
            if tick_clock and nxt > self.t:
                self.clock.advance((nxt - self.t) / self.speed)
            self.t = nxt
            self._run_due()
            self._fire_due_steps()
            self._apply_ramps()
            self._retry_pending_actions()
            self.ctl.reconcile()
            if self.t >= end and not (self._heap and self._heap[0][0] <= self.t):
                break
        if self._resync_due():
            self.ctl.resync()
            self.ctl.reconcile()

    _last_resync = 0.0

    def _resync_due(self) -> bool:
        period = self.scenario_setting("resync", 5.0)
        if self.t - self._last_resync >= period:
            self._last_resync = self.t
            return True
        return False

    def _run_due(self) -> None:
        n = 0
        while self._heap and self._heap[0][0] <= self.t and n < 100_000:
            _, _, fn, dd = heapq.heappop(self._heap)
            if dd is not None:
                self._dedupe.discard(dd)
            n += 1
            try:
                fn()
            except StateError as e:
                self.note_error(e.message)
            if n % 200 == 0:
                self.ctl.reconcile()

    def wake(self) -> None:
        """An object changed: let the controllers react soon, without waiting for the next tick."""
        if self._quick_pending or not self.started:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._quick_pending = True
        loop.call_soon(self._quick)

    def _quick(self) -> None:
        self._quick_pending = False
        try:
            self.ctl.reconcile()
        except Exception as e:
            self.note_error(f"reconcile: {e!r}")

    def note_error(self, msg: str) -> None:
        self.errors.append(msg)
        del self.errors[:-100]

    def scenario_setting(self, name: str, default: float) -> float:
        return float(self.scenario.settings.get(name, default))

    def pod_serial(self, ns: str, rs: str) -> int:
        k = (ns, rs)
        self._pod_serial[k] = self._pod_serial.get(k, 0) + 1
        return self._pod_serial[k]

    # ================================================================ seeding
    def _seed_objects(self) -> None:
        sc = self.scenario
        st = self.state
        for name, ip, zone in NODES:
            if st.get("nodes", None, name) is None:
                try:
                    st.create(_node(name, ip, zone, self.clock()))
                except AlreadyExists:
                    pass
        for nsname in ("default", "kube-system"):
            self._ensure_namespace(nsname)
        if st.get("namespaces", None, sc.namespace) is not None and st.count("pods") > 0:
            # a restored cluster (--state-dir): its objects are the story so far; adopt them, replay nothing
            self.restored = True
            self._next_step = len(sc.timeline)
            return
        workload = sc.workload
        from tui.demo.scenario import scenario_crds  # noqa: PLC0415
        for crd in scenario_crds(sc.crds):
            try:
                st.create(crd)
            except AlreadyExists:
                pass
        for doc in sc.manifests:
            doc = ctl_mod.orjson_clone(doc)
            meta = doc.setdefault("metadata", {})
            res = st.resource_for(doc)
            if st.kind(res).namespaced:
                meta.setdefault("namespace", sc.namespace)
                self._ensure_namespace(meta["namespace"])
            if (self.pods_override is not None and workload and doc.get("kind") == workload["kind"]
                    and meta.get("name") == workload["name"]):
                doc.setdefault("spec", {})["replicas"] = int(self.pods_override)
            try:
                obj = st.create(doc)
            except AlreadyExists:
                obj = st.get(res, meta.get("namespace"), meta["name"])
            if res in ("deployments", "rollouts"):
                self._prewarm(obj, res)
        self._seed_background()
        if sc.dns:
            svc = st.get("services", sc.namespace, sc.dns["service"])
            self._dns_initial = dict(((svc or {}).get("spec") or {}).get("selector") or {})

    def _ensure_namespace(self, name: str) -> None:
        if self.state.get("namespaces", None, name) is None:
            try:
                self.state.create({"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
                                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
            except AlreadyExists:
                pass

    def _prewarm(self, obj: dict, res: str) -> None:
        """The workload as it stood before the story: its first revision Running and Ready for days."""
        spec = obj.get("spec") or {}
        replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        if replicas <= 0 or spec.get("workloadRef"):
            return  # a workloadRef's template is the referenced Deployment's: the controller starts it
        hash_label = ARGO_HASH if res == "rollouts" else DEPLOY_HASH
        h = template_hash(spec.get("template") or {})
        ann = ({"deployment.kubernetes.io/desired-replicas": str(replicas),
                "deployment.kubernetes.io/max-replicas": str(replicas + int(math.ceil(replicas * 0.25)))}
               if res == "deployments" else None)
        rs = self.ctl.new_rs(obj, hash_label, h, 1, replicas, ann)
        ns, rsname = rs["metadata"]["namespace"], rs["metadata"]["name"]
        tmpl = rs["spec"]["template"]
        labels = dict((tmpl.get("metadata") or {}).get("labels") or {})
        rng = random.Random(f"{self.seed}/{ns}/{rsname}/prewarm")
        base = self.clock() - 2 * 86400 - (rng.random() * 86400)
        names: set[str] = set()
        kubelet = self.ctl.kubelet
        create = self.state.create
        spec = ctl_mod.pod_spec(tmpl.get("spec") or {})
        spec["_qos"] = ctl_mod.qos_class(spec)
        for i in range(replicas):
            while True:
                n = f"{rsname}-{ctl_mod.suffix(rng)}"
                if n not in names:
                    names.add(n)
                    break
            created = base + rng.random() * 600
            pod = kubelet.running_pod(ns, n, tmpl, rs, i, created, labels, spec)
            try:
                stored = create(pod)
            except AlreadyExists:
                continue
            kubelet.adopt_prewarmed(stored, created)

    def _seed_background(self) -> None:
        n = self.background_pods
        if n <= 0:
            return
        apps = BACKGROUND_APPS[:max(1, min(len(BACKGROUND_APPS), n // 50 or 1))]
        per, extra = divmod(n, len(apps))
        for i, app in enumerate(apps):
            ns = f"team-{app}"
            self._ensure_namespace(ns)
            labels = {"app": app}
            d = {"apiVersion": "apps/v1", "kind": "Deployment",
                 "metadata": {"name": app, "namespace": ns, "labels": labels},
                 "spec": {"replicas": per + (1 if i < extra else 0), "selector": {"matchLabels": labels},
                          "template": {"metadata": {"labels": labels},
                                       "spec": {"containers": [{"name": app, "image": f"registry.demo/{app}:2.3.{i}",
                                                                "ports": [{"containerPort": 8080, "name": "http"}]}]}}}}
            try:
                obj = self.state.create(d)
            except AlreadyExists:
                continue
            self._prewarm(obj, "deployments")

    # ================================================================ hooks from the controllers
    def _track(self, pod: dict) -> str | None:
        meta = pod.get("metadata") or {}
        if (meta.get("namespace") or "") != self.scenario.namespace:
            return None
        images = [c.get("image") or "" for c in (pod.get("spec") or {}).get("containers") or ()]
        return self.scenario.track_of(meta.get("labels") or {}, images)

    def pod_added(self, key, pod: dict) -> None:
        if self._churn_rows is not None and key[0] == self.scenario.namespace:
            self._churn_rows = None

    def pod_removed(self, key) -> None:
        self.traffic.remove_pod(key, self.clock())
        self.logs.forget(*key)
        if self._churn_rows is not None and key[0] == self.scenario.namespace:
            self._churn_rows = None

    def pod_labels_changed(self, key, pod: dict) -> None:
        self.traffic.set_track(key, self._track(pod), self.clock())

    def traffic_started(self, key, c, started: float, restarted: bool) -> None:
        pod = self.state.get("pods", *key)
        if pod is None:
            return
        self.traffic.add_pod(key, self._track(pod), started)

    def container_started(self, key, c, pod: dict, restarted: bool, main: bool) -> None:
        now = self.clock()
        b = c.behaviour
        lines = []
        if b.behaviour == "notready":
            lines = ["WARN  db  connection to postgres:5432 refused; retrying in 5s"]
        self.logs.started(key[0], key[1], c.name, now, c.image, b.version, lines)
        if main:
            if key not in self.traffic.pods:
                self.traffic.add_pod(key, self._track(pod), now)
            else:
                self.traffic.restart(key, now)

    def container_stopped(self, key, c) -> None:
        pass

    def set_memory_growth(self, key, c, oom_after: float) -> None:
        pt = self.traffic.pods.get(key)
        if pt is not None:
            # reach ~512Mi by the time the kernel kills it (wall seconds = scenario seconds / speed)
            pt.mem_growth = 440 * 1024 * 1024 / max(oom_after / max(self.speed, 1e-9), 0.1)

    def served_changed(self, ns: str, svc: str, keys: set) -> None:
        sc = self.scenario
        if ns != sc.namespace:
            return
        if svc == sc.traffic_service or svc in sc.also_served:
            if not sc.also_served:
                self.traffic.set_served(keys, self.clock())
            else:  # a preview's smoke traffic: the Services' endpoints share `rps`
                self._served_by[svc] = set(keys)
                self.traffic.set_served(set().union(*self._served_by.values()), self.clock())
        if self._routed:
            self.routing_changed(ns)

    _routed = False  # a traffic router has been seen in the scenario's namespace

    def routing_changed(self, ns: str) -> None:
        """A VirtualService, DestinationRule, Ingress or TrafficSplit (or, once one routes, an endpoint set) changed:
        split the traffic Service's requests as that router says (tui.demo.traffic.TrafficModel.set_groups)."""
        sc = self.scenario
        if ns != sc.namespace or not sc.traffic_service:
            return
        from tui.demo.controllers.trafficrouting import routed_groups  # noqa: PLC0415

        served = self.ctl.served
        routes = self.mesh_routes.get((ns, sc.traffic_service))
        if routes:  # a controller's own split (Flagger's, A/B matches included) over any router object
            groups = [(svc, w, set(served.get((ns, svc), ()))) for svc, w in routes.items()]
        else:
            groups = routed_groups(self.state, ns, sc.traffic_service, lambda s: served.get((ns, s), ()))
        self._routed = self._routed or groups is not None
        self.traffic.set_groups(groups, self.clock())

    # a controller's weighted split of one Service's traffic (Flagger's routes, kept in memory as Flagger's router
    # computes them): the traffic model serves them as routed groups, as it does a router object's weights
    def set_mesh_routes(self, ns: str, apex: str, routes: dict[str, int]) -> None:
        """Requests for Service `apex` go to the ready endpoints of `routes`' Services by their weights."""
        if self.mesh_routes.get((ns, apex)) == routes:
            return
        self.mesh_routes[(ns, apex)] = dict(routes)
        if ns == self.scenario.namespace and apex == self.scenario.traffic_service:
            self._routed = True
            self.routing_changed(ns)

    def _traffic_view(self, ns: str, pod: str) -> TrafficView:
        key = (ns, pod)
        pt = self.traffic.pods.get(key)
        if pt is None:
            return TrafficView()
        p = self.traffic.profile(pt.track)
        return TrafficView(rps=self.traffic.pod_rps(key), error_rate=p.error_rate, p50=p.p50, p99=p.p99)

    # ================================================================ the timeline
    def _fire_due_steps(self) -> None:
        tl = self.scenario.timeline
        while self._next_step < len(tl) and tl[self._next_step].at <= self.t:
            s = tl[self._next_step]
            self._next_step += 1
            self.counters["steps_fired"] += 1
            if s.say:
                self.said.append((self.t, s.say))
            try:
                self._act(s.action, s.args)
            except (StateError, ValueError) as e:
                self.note_error(f"{self.scenario.path}:{s.line}: step at {s.at}s ({s.action}): "
                                f"{getattr(e, 'message', e)}")
            self.ctl.reconcile()

    def _act(self, action: str, a) -> None:
        st = self.state
        ns = self.scenario.namespace
        if action == "say":
            return
        if action == "set_image":
            def fn(o):
                cs = o["spec"]["template"]["spec"]["containers"]
                c = next((c for c in cs if c.get("name") == a.get("container")), cs[0])
                c["image"] = a["image"]
            self._mutate(a["res"], ns, a["name"], fn)
        elif action == "scale":
            self._mutate(a["res"], ns, a["name"], lambda o: o.setdefault("spec", {}).__setitem__("replicas",
                                                                                              int(a["replicas"])))
        elif action == "patch":
            if "merge" in a:
                self._mutate(a["res"], ns, a["name"], lambda o: _replace_dict(o, merge_patch(o, a["merge"])))
            elif "strategic" in a:
                self._mutate(a["res"], ns, a["name"], lambda o: _replace_dict(o, strategic_merge_patch(o, a["strategic"])))
            else:
                self._mutate(a["res"], ns, a["name"],
                             lambda o: o.__setitem__("status", merge_patch(o.get("status") or {}, a["status"])))
        elif action == "delete":
            try:
                st.delete(a["res"], ns, a["name"])
            except NotFound:
                pass
        elif action == "apply":
            docs = []
            for d in a:
                d = ctl_mod.orjson_clone(d)
                d.setdefault("metadata", {}).setdefault("namespace", ns)
                docs.append(d)
            self.load_manifests(docs)
        elif action == "traffic":
            for track, spec in a.items():
                cur = self.traffic.profile(track)
                if spec["over"] <= 0:
                    self._ramps.pop(track, None)
                    self.traffic.set_profile(track, cur.replace(**spec["changes"]), self.clock())
                else:
                    self._ramps[track] = (cur, spec["changes"], self.t, spec["over"])
        elif action in ("promote", "abort", "retry"):
            self._pending_actions.append((action, a))
            self._retry_pending_actions()
        else:
            raise ValueError(f"unknown action {action}")

    def _mutate(self, res, ns, name, fn) -> None:
        if self.state.mutate(res, ns, name, fn) is None:
            raise NotFound(f'{res} "{name}" not found')

    def _apply_ramps(self) -> None:
        if not self._ramps:
            return
        now = self.clock()
        for track, (start, changes, t0, over) in list(self._ramps.items()):
            f = min(1.0, max(0.0, (self.t - t0) / over))
            kw = {}
            for k, v in changes.items():
                a = getattr(start, k)
                kw[k] = v if isinstance(v, bool) else a + (v - a) * f
            self.traffic.set_profile(track, start.replace(**kw), now)
            if f >= 1.0:
                del self._ramps[track]

    def _retry_pending_actions(self) -> None:
        if not self._pending_actions:
            return
        keep = []
        for action, a in self._pending_actions:
            if not self._rollout_action(action, a):
                keep.append((action, a))
        self._pending_actions = keep

    def _rollout_action(self, action: str, a: dict) -> bool:
        """What `kubectl argo rollouts promote|abort|retry` patch; promote waits until there is a pause to end."""
        ns = self.scenario.namespace
        ro = self.state.get("rollouts", ns, a["name"])
        if ro is None:
            return False
        st = ro.get("status") or {}
        if action == "abort":
            self.state.mutate("rollouts", ns, a["name"], lambda o: o.setdefault("status", {}).__setitem__("abort", True))
            return True
        if action == "retry":
            def fn(o):
                s = o.setdefault("status", {})
                s["abort"] = False
                s.pop("abortedAt", None)
                s["currentStepIndex"] = 0
            self.state.mutate("rollouts", ns, a["name"], fn)
            return True
        if a.get("full"):
            def full(o):
                o.setdefault("status", {})["promoteFull"] = True
                o["spec"]["paused"] = False
            self.state.mutate("rollouts", ns, a["name"], full)
            return True
        if not st.get("pauseConditions") and not (ro.get("spec") or {}).get("paused"):
            return False

        def promote(o):
            o.setdefault("status", {})["pauseConditions"] = None
            o["status"].pop("pauseConditions")
            o["spec"]["paused"] = False
        self.state.mutate("rollouts", ns, a["name"], promote)
        return True

    # ================================================================ churn
    def _do_churn(self, wall_dt: float) -> None:
        self._churn_budget += self.churn * wall_dt
        n = int(self._churn_budget)
        if n <= 0:
            return
        self._churn_budget -= n
        ns = self.scenario.namespace
        if self._churn_rows is None:
            rows = []
            for p in self.state.list("pods", ns)[0]:
                if not p["metadata"].get("deletionTimestamp"):
                    rows.append(p["metadata"]["name"])
                if len(rows) >= CHURN_ROWS:
                    break
            self._churn_rows = rows
        rows = self._churn_rows
        if not rows:
            return
        kubelet = self.ctl.kubelet
        for _ in range(n):
            name = rows[self._churn_idx % len(rows)]
            self._churn_idx += 1
            bump = self._churn_idx % 7 == 0
            stamp = repr(self.clock())
            ps = kubelet.pods.get((ns, name))

            def fn(o, bump=bump, stamp=stamp, ps=ps):
                o["metadata"].setdefault("annotations", {})[CHANGED_AT] = stamp
                st = o.setdefault("status", {})
                css = st.get("containerStatuses") or []
                if bump and css:
                    css[0]["restartCount"] = int(css[0].get("restartCount") or 0) + 1
                    if ps and ps.containers:
                        ps.containers[0].restarts = css[0]["restartCount"]
                    return
                ready = not pod_ready(o)
                ts = rfc3339(self.clock())
                for c in st.get("conditions") or ():
                    if c.get("type") in ("Ready", "ContainersReady"):
                        c["status"] = "True" if ready else "False"
                        c["lastTransitionTime"] = ts
                        if ready:
                            c.pop("reason", None)
                            c.pop("message", None)
                        else:
                            c["reason"] = "ContainersNotReady"
                            c["message"] = f"containers with unready status: [{css[0]['name'] if css else 'app'}]"
                if css:
                    css[0]["ready"] = ready
                if ps and ps.containers:
                    ps.containers[0].ready = ready
                    for t in ("Ready", "ContainersReady"):
                        ps.cond_times[t] = (ready, ts)
            if self.state.mutate("pods", ns, name, fn) is not None:
                self.counters["churn_changes"] += 1
            else:
                self._churn_rows = None
                break

    # ================================================================ reads for the server
    def pod_log_entries(self, namespace, pod, container: str | None = None, previous: bool = False,
                        tail: int | None = None, since_seconds: float | None = None) -> list[tuple[float, str]]:
        """Like pod_logs, with each line's wall time (for `timestamps=true`)."""
        p = self.state.get("pods", namespace, pod)
        if p is None:
            raise NotFound(f'pods "{pod}" not found', res="pods", name=pod)
        names = [c.get("name") for c in (p.get("spec") or {}).get("containers") or ()]
        if container is None:
            if len(names) != 1:
                raise ValueError(f"a container name must be specified for pod {pod}, choose one of: "
                                 f"[{' '.join(names)}]")
            container = names[0]
        elif container not in names:
            raise ValueError(f"container {container} is not valid for pod {pod}")
        ent = self.logs.entries(namespace, pod, container, previous=previous, tail=tail, since_seconds=since_seconds)
        if ent is None:
            if previous:
                raise ValueError(f'previous terminated container "{container}" in pod "{pod}" not found')
            if (p.get("status") or {}).get("phase") == "Pending":
                raise ValueError(f'container "{container}" in pod "{pod}" is waiting to start: ContainerCreating')
            ent = self._synth_log(namespace, pod, container, p, tail, since_seconds)
        elif previous and not ent and not self.logs.has_previous(namespace, pod, container):
            raise ValueError(f'previous terminated container "{container}" in pod "{pod}" not found')
        return ent

    def _synth_log(self, ns, pod, container, p, tail, since_seconds):
        """A pre-warmed pod's log starts where its container started, days ago."""
        cs = next((c for c in (p.get("status") or {}).get("containerStatuses") or () if c.get("name") == container), {})
        started = ctl_mod.parse_ts(((cs.get("state") or {}).get("running") or {}).get("startedAt"))
        if started is None:
            return []
        img = cs.get("image") or ""
        b = self.scenario.images.get(img)
        self.logs.started(ns, pod, container, started, img, b.version if b else "")
        self.logs.ready(ns, pod, container, started + 3)
        lg = self.logs.logs[(ns, pod, container)]
        lg.generated_until = max(lg.generated_until, self.clock() - 600)  # ten minutes of recent requests
        return self.logs.entries(ns, pod, container, tail=tail, since_seconds=since_seconds) or []

    def pod_logs(self, namespace, pod, container: str | None = None, previous: bool = False,
                 tail: int | None = None, since_seconds: float | None = None) -> list[str]:
        return [line for _, line in self.pod_log_entries(namespace, pod, container, previous, tail, since_seconds)]

    async def follow_logs(self, namespace, pod, container: str | None = None) -> AsyncIterator[str]:
        """New lines of the container's current instance as they are written; ends when it stops."""
        p = self.state.get("pods", namespace, pod)
        if p is None:
            return
        if container is None:
            cs = (p.get("spec") or {}).get("containers") or [{}]
            container = cs[0].get("name")
        if (namespace, pod, container) not in self.logs.logs:
            try:
                self.pod_log_entries(namespace, pod, container, tail=0)
            except (StateError, ValueError):
                return
        async for line in self.logs.follow(namespace, pod, container):
            yield line

    def append_log(self, namespace, pod, container, line: str) -> None:
        """Tests: write one raw line (any text, hostile or not) to a container's log."""
        self.logs.write(namespace, pod, container, self.clock(), line, raw=True)

    def _serving_metrics(self, namespace, pod) -> tuple[dict, tuple] | None:
        p = self.state.get("pods", namespace, pod)
        if p is None or (p.get("status") or {}).get("phase") != "Running" or p["metadata"].get("deletionTimestamp"):
            return None
        key = (namespace, pod)
        ps = self.ctl.kubelet.pods.get(key)
        if ps is not None and ps.containers and ps.containers[0].phase != "running":
            return None  # the process is not up: connection refused
        return p, key

    def pod_metrics_text(self, namespace, pod, port: int | str = 8080) -> str | None:
        """The pod's /metrics (Prometheus text), or None when nothing answers on that port."""
        got = self._serving_metrics(namespace, pod)
        if got is None:
            return None
        p, key = got
        ports = [cp for c in (p.get("spec") or {}).get("containers") or () for cp in c.get("ports") or ()]
        if ports and not any(str(port) in (str(cp.get("containerPort")), str(cp.get("name"))) for cp in ports):
            return None
        pt = self.traffic.pods.get(key)
        if pt is None:
            pt = self.traffic.add_pod(key, self._track(p), self._container_start(p))
        if not self.traffic.profile(pt.track).metrics:
            return None
        return self.traffic.exposition(key, self.clock())

    def _container_start(self, p: dict) -> float:
        for cs in (p.get("status") or {}).get("containerStatuses") or ():
            t = ctl_mod.parse_ts(((cs.get("state") or {}).get("running") or {}).get("startedAt"))
            if t:
                return t
        return self.clock()

    def pod_usage(self, namespace, pod) -> dict[str, dict[str, str]] | None:
        """metrics.k8s.io usage per container, as metrics-server reports it (nanocores, KiB)."""
        got = self._serving_metrics(namespace, pod)
        if got is None:
            return None
        p, key = got
        if key not in self.traffic.pods:
            self.traffic.add_pod(key, self._track(p), self._container_start(p))
        now = self.clock()
        self.traffic.advance(now)
        out = {}
        for i, c in enumerate((p.get("spec") or {}).get("containers") or ()):
            if i == 0:
                cpu, mem = self.traffic.cpu_cores(key, now), self.traffic.memory_bytes(key, now)
            else:
                cpu, mem = 0.001, 12 * 1024 * 1024
            out[c.get("name") or f"c{i}"] = {"cpu": f"{int(cpu * 1e9)}n", "memory": f"{int(mem // 1024)}Ki"}
        return out

    # ================================================================ DNS (the external name of bluegreen-switch)
    def dns_status(self) -> dict | None:
        d = self.scenario.dns
        if not d:
            return None
        return {"name": d["name"], "service": d["service"], "follows_at": d["follows_at"],
                "following": self.t >= d["follows_at"],
                "server": getattr(self, "dns_server", None)}  # host:port of tui.demo.dnsserver, once started

    def dns_lookup(self, name: str) -> list[str] | None:
        """A records for the scenario's external name: the pods its Service selected at the start until
        `follows_at`, then the Service's current endpoints. None: not a name this scenario answers for."""
        d = self.scenario.dns
        if not d or name.rstrip(".").lower() != d["name"].lower():
            return None
        ns = self.scenario.namespace
        if self.t >= d["follows_at"]:
            svc = self.state.get("services", ns, d["service"])
            sel = ((svc or {}).get("spec") or {}).get("selector") or {}
        else:
            sel = self._dns_initial or {}
        ips = [p["status"]["podIP"] for p in self.state.list("pods", ns)[0]
               if selector_matches(sel, p["metadata"].get("labels")) and pod_ready(p)
               and (p.get("status") or {}).get("podIP")]
        return sorted(ips, key=ctl_mod.ip_key)

    # ================================================================ user manifests
    def load_manifests(self, docs: list[dict]) -> list[dict]:
        """Create or replace each object (any kind the cluster serves); the controllers react to them."""
        out, errors, first = [], [], None
        for i, doc in enumerate(docs):
            if not doc:
                continue
            try:
                res = self.state.resource_for(doc)
                meta = doc.setdefault("metadata", {})
                if self.state.kind(res).namespaced:
                    meta["namespace"] = meta.get("namespace") or "default"
                    self._ensure_namespace(meta["namespace"])
                cur = self.state.get(res, meta.get("namespace"), meta.get("name") or "")
                if cur is None:
                    out.append(self.state.create(doc))
                else:
                    new = ctl_mod.orjson_clone(doc)
                    if "status" not in new and "status" in cur:
                        new["status"] = cur["status"]
                    new["metadata"]["resourceVersion"] = cur["metadata"].get("resourceVersion")
                    out.append(self.state.update(new))
            except StateError as e:
                first = first or e
                errors.append(f"object {i + 1} ({doc.get('kind')} {(doc.get('metadata') or {}).get('name')}): {e.message}")
        self.ctl.reconcile()
        if errors:
            # the rest were applied; the error names every object that was not
            raise type(first)("; ".join(errors))
        return out


def _replace_dict(o: dict, new: dict) -> None:
    o.clear()
    o.update(new)


def _node(name: str, ip: str, zone: str, now: float) -> dict:
    ts = rfc3339(now - 30 * 86400)
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "creationTimestamp": ts,
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                "kubernetes.io/arch": "amd64", "topology.kubernetes.io/zone": zone,
                                "node.kubernetes.io/instance-type": "demo.large"}},
        "spec": {"podCIDR": f"10.244.{[n[0] for n in NODES].index(name) * 64}.0/18"},
        "status": {
            "capacity": {"cpu": "16", "memory": "65843184Ki", "pods": "20000", "ephemeral-storage": "102687672Ki"},
            "allocatable": {"cpu": "15800m", "memory": "64692208Ki", "pods": "20000",
                            "ephemeral-storage": "94636958490"},
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                 "message": "kubelet has sufficient memory available", "lastHeartbeatTime": ts,
                 "lastTransitionTime": ts},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure",
                 "message": "kubelet has no disk pressure", "lastHeartbeatTime": ts, "lastTransitionTime": ts},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID",
                 "message": "kubelet has sufficient PID available", "lastHeartbeatTime": ts, "lastTransitionTime": ts},
                {"type": "Ready", "status": "True", "reason": "KubeletReady",
                 "message": "kubelet is posting ready status", "lastHeartbeatTime": ts, "lastTransitionTime": ts}],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.33.1", "kubeProxyVersion": "v1.33.1", "osImage": "Debian GNU/Linux 12",
                         "containerRuntimeVersion": "containerd://1.7.18", "kernelVersion": "6.1.0-21-amd64",
                         "operatingSystem": "linux", "architecture": "amd64", "machineID": "", "systemUUID": "",
                         "bootID": ""},
        },
    }


__all__ = ["Simulation", "ManualClock"]
