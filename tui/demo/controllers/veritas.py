"""The Veritas controller: seed 001's VeritasCanary (a canary's weight in steps) and VeritasEnvironment (blue/green).

What it does, as seed 001 describes the platform (its symptoms and diagnostics are what this must be able to show):

VeritasCanary (`spec.targetRef` the canary Deployment, `spec.stableRef` the stable one):
- `Pending` until the canary Deployment has all its pods ready (weight asked in `spec.trafficWeight`, none applied:
  `status.canaryWeight` 0); then `Progressing`, `status.canaryWeight` following `spec.trafficWeight`. The controller
  steps `spec.trafficWeight` itself (a person may set it too); the weight each revision starts at is kept in the
  annotation `veritas.hearthlink.ai/start-weight`.
- every `analysis.interval` one analysis measures the canary's ready pods from the traffic model (the same numbers
  each pod's /metrics serves): error rate against `analysis.maxErrorRate` (percent), p99 against
  `analysis.maxLatencyP99` (ms); no ready pod, no requests or no metrics is a failed check ("Metrics not
  reporting": analysis always fails). `status.lastAnalysis` keeps the last measurement.
- `analysis.successLimit` passed analyses at a weight raise the weight by `promotion.stepWeight`, up to
  `promotion.maxWeight`; there, with `promotion.auto` or the annotation `veritas.hearthlink.ai/approved: "true"`
  ("Approve via kubectl annotate"), `Promoting` copies the canary's pod spec to the stable Deployment, then
  `Succeeded` (weight 0 asked and applied, canary scaled to 0). Without either it stays `Progressing` at maxWeight
  with the condition `Promoted=False, reason WaitingForApproval` ("Promotion stuck": weight not increasing).
- each failed analysis raises `status.failedChecks` and halts advancement; reaching `analysis.threshold`
  (default 2) gives `RollingBack` (weight 0, canary scaled to 0), then `Failed` on the next iteration (one
  interval later) once its pods are gone.
- `spec.paused` gives `Paused`; a new canary pod template (`status.observedRevision`) starts over.
- the weight is written to `trafficRouting.virtualService` (its http routes' destinations) when one is named.

VeritasEnvironment (`spec.service` the Service whose selector's `environmentLabel` switches, `spec.active` blue|green):
- `Stable` with `switchProgress` 100 while the Service selects `status.activeEnvironment`.
- when `spec.active` names the other environment: `Switching`. switchProgress: 0 → 40 as the target's pods become
  ready; 50 when the Service selects both environments (both receive traffic); each passed health check (target
  pods ready, error rate within `switch.healthCheck.maxErrorRate`, default 1 %) moves it toward 90; after
  `successThreshold` (default 3) consecutive passes the Service selects only the target: 100, `Stable`. A failing
  check keeps it at its place ("Switch not completing": stuck in Switching, both environments receiving traffic);
  past `switch.healthCheck.timeout` (default 5m) the Service goes back to the old environment: `Failed`.

Each event is also a line in the log of the namespace's `app=veritas-controller` pod when a scenario runs one (with
each analysis and health check), so the seed's `kubectl logs -l app=veritas-controller | grep -i switch` answers.
A namespace with a Deployment labelled `app=veritas-controller` is run by it: while none of its pods is ready,
nothing there moves (the seed's "Controller unhealthy"); its pod's return picks the objects up again.

Times are scenario time (`sim.t`): intervals and timeouts compress with the demo's speed, as pauses do for Argo.
"""

from __future__ import annotations

from tui.demo.state import StateError
from tui.kube.selectors import SelectorError, selector_from_dict
from tui.demo.controllers.base import orjson_clone, parse_duration, pod_ready, rfc3339, \
    selector_matches, set_condition, template_hash

GROUP = "veritas.hearthlink.ai"
CANARIES = f"veritascanaries.{GROUP}"
ENVIRONMENTS = f"veritasenvironments.{GROUP}"
APPROVED = f"{GROUP}/approved"
START = f"{GROUP}/start-weight"
COMPONENT = "veritas-controller"
CONTROLLER_SELECTOR = "app=veritas-controller"  # its pod, when a scenario runs one: the controller logs there
CONTROLLER_LABELS = {"app": "veritas-controller"}
_WATCHED = ("deployments", "pods", "services")


def _num(v, default: float) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else default


def _pct(x: float) -> str:
    return f"{x:.2f}%".replace(".00%", "%")


class Veritas:
    """Mixin of Controllers: the Veritas controller (VeritasCanary, VeritasEnvironment). Controllers provides
    `dirty["veritas"]`, `veritas_by_ns` (namespace -> its Veritas objects) and `veritas_memo` (uid -> timers)."""

    dirty: dict
    veritas_by_ns: dict
    veritas_memo: dict

    # ---------------------------------------------------------------- change feed
    def veritas_on_change(self, etype: str, res: str, obj: dict) -> None:
        """Mark the Veritas objects a change concerns dirty: their own changes; a pod change, the objects of its
        namespace whose pods it may be (by the labels each last watched); any Deployment or Service change there."""
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or ""
        index = self.veritas_by_ns
        if res in (CANARIES, ENVIRONMENTS):
            key = (res, ns, meta.get("name") or "")
            if etype == "DELETED":
                index.get(ns, {}).pop(key, None)
                self.veritas_memo.pop(meta.get("uid"), None)
            else:
                index.setdefault(ns, {}).setdefault(key, None)
                self.dirty["veritas"].add(key)
        elif res == "pods" and index.get(ns):
            labels = meta.get("labels") or {}
            if selector_matches(CONTROLLER_LABELS, labels):  # the controller's own pod: it may be back
                self.dirty["veritas"] |= index[ns].keys()
                return
            for key, sel in index[ns].items():
                if sel is None or selector_matches(sel, labels):
                    self.dirty["veritas"].add(key)
        elif res in _WATCHED and index.get(ns):
            self.dirty["veritas"] |= index[ns].keys()

    def _watch_pods(self, res: str, obj: dict, selector: dict | None) -> None:
        """Which pods' changes concern this object from now on (plain matchLabels; None: every pod of its namespace)."""
        m = obj["metadata"]
        sel = selector.get("matchLabels") if selector and set(selector) == {"matchLabels"} else None
        self.veritas_by_ns.setdefault(m["namespace"], {})[(res, m["namespace"], m["name"])] = dict(sel) if sel else None

    def veritas_prime(self) -> list[str]:
        """The resource keys to prime (a restored cluster's Veritas objects), when their CRDs are installed."""
        return [r for r in (CANARIES, ENVIRONMENTS) if r in self.state.kinds]

    def reconcile_veritas(self) -> bool:
        if not self.dirty["veritas"]:
            return False
        keys, self.dirty["veritas"] = self.dirty["veritas"], set()
        down: dict[str, bool] = {}
        for res, ns, name in sorted(keys):
            if res not in self.state.kinds:
                continue
            if ns not in down:
                down[ns] = self._controller_down(ns)
            if down[ns]:
                continue  # nothing reconciles: its pod's return marks the namespace's objects again
            obj = self.state.get(res, ns, name)
            if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
                continue
            if res == CANARIES:
                self._reconcile_vcanary(obj)
            else:
                self._reconcile_venv(obj)
        return True

    def _controller_down(self, ns: str) -> bool:
        """A namespace that runs the veritas-controller Deployment is run by it: with no ready pod of it, nothing
        happens there (seed 001 "Promotion stuck": controller unhealthy, restart veritas-controller)."""
        if not self.state.list("deployments", ns, label_selector=CONTROLLER_SELECTOR)[0]:
            return False
        return not any(pod_ready(p) and not p["metadata"].get("deletionTimestamp")
                       for p in self.state.list("pods", ns, label_selector=CONTROLLER_SELECTOR)[0])

    # ---------------------------------------------------------------- helpers
    def _memo(self, obj: dict) -> dict:
        return self.veritas_memo.setdefault(obj["metadata"]["uid"], {})

    def _later(self, obj: dict, res: str, delay: float, tag: str) -> None:
        m = obj["metadata"]
        key = (res, m["namespace"], m["name"])
        self.sim.schedule(delay + 0.01, lambda: self.dirty["veritas"].add(key), dedupe=("veritas", tag, m["uid"]))

    def _pods_of(self, ns: str, selector: dict, terminating: bool = False) -> list[dict]:
        if not selector:
            return []  # no selector selects nothing, as controllers do
        if set(selector) == {"matchLabels"}:
            ml = selector["matchLabels"] or {}
            matches = lambda labels: selector_matches(ml, labels)  # noqa: E731 - the fast path, plain labels
        else:
            try:
                parsed = selector_from_dict(selector)
            except SelectorError:
                return []
            matches = parsed.matches
        return [p for p in self.state.list("pods", ns)[0] if (terminating or not p["metadata"].get("deletionTimestamp"))
                and (p.get("status") or {}).get("phase") not in ("Failed", "Succeeded")
                and matches(p["metadata"].get("labels") or {})]

    def _measure(self, pods: list[dict]) -> tuple[float, float, float, str | None]:
        """(error rate %, p99 ms, requests/s, why not measured) over the ready pods, from the traffic model."""
        traffic = self.sim.traffic
        ready = [p for p in pods if pod_ready(p)]
        if not ready:
            return 0.0, 0.0, 0.0, "no ready pod"
        rps = err = 0.0
        p99 = 0.0
        answering = 0
        for p in ready:
            key = (p["metadata"]["namespace"], p["metadata"]["name"])
            pt = traffic.pods.get(key)
            if pt is None:
                continue
            prof = traffic.profile(pt.track)
            if not prof.metrics:
                continue
            answering += 1
            r = traffic.pod_rps(key)
            rps += r
            err += r * prof.error_rate
            if r > 0:
                p99 = max(p99, prof.p99)
        if answering == 0:
            return 0.0, 0.0, 0.0, "no metrics: the pods' /metrics does not answer"
        if rps <= 0:
            return 0.0, 0.0, 0.0, "no requests reached the pods (0 req/s)"
        return 100.0 * err / rps, 1000.0 * p99, rps, None

    def _emit(self, obj: dict, reason: str, message: str, *, type: str = "Normal") -> None:
        """An Event on the object, and the same line in the controller's log."""
        self.events.emit(obj, reason, message, type=type, component=COMPONENT)
        self._log(obj, ("WARN " if type == "Warning" else "INFO ") + f" {reason}: {message}")

    def _log(self, obj: dict, line: str) -> None:
        """A line in the log of the namespace's veritas-controller pod, when one runs there (seed 001:
        `kubectl logs -l app=veritas-controller --tail=100`, `... | grep -i switch`)."""
        m = obj["metadata"]
        ns = m["namespace"]
        pods = sorted((p for p in self.state.list("pods", ns, label_selector=CONTROLLER_SELECTOR)[0]
                       if (p.get("status") or {}).get("phase") == "Running" and not p["metadata"].get(
                           "deletionTimestamp")), key=lambda p: p["metadata"]["name"])
        if not pods:
            return
        pod = pods[0]["metadata"]["name"]
        container = ((pods[0].get("spec") or {}).get("containers") or [{}])[0].get("name") or "controller"
        what = "canary" if obj.get("kind") == "VeritasCanary" else "switch"
        if (ns, pod, container) not in self.sim.logs.logs:
            try:
                self.sim.pod_log_entries(ns, pod, container, tail=0)  # its log so far, as a read would start it
            except (StateError, ValueError):
                return
        self.sim.logs.write(ns, pod, container, self.sim.clock(), f"{line[:5]} {what:<6} {ns}/{m['name']}:{line[5:]}")

    def _write_status(self, res: str, obj: dict, st: dict) -> None:
        if st != obj.get("status"):
            m = obj["metadata"]
            self.state.mutate(res, m["namespace"], m["name"], lambda o: o.__setitem__("status", st))

    # ---------------------------------------------------------------- VeritasCanary
    def _reconcile_vcanary(self, vc: dict) -> None:
        meta = vc["metadata"]
        ns, name = meta["namespace"], meta["name"]
        spec = vc.get("spec") or {}
        st = orjson_clone(vc.get("status") or {})
        conds = st.setdefault("conditions", [])
        now = rfc3339(self.sim.clock())
        memo = self._memo(vc)
        promo, an = spec.get("promotion") or {}, spec.get("analysis") or {}
        target = (spec.get("targetRef") or {}).get("name") or ""
        stable_name = (spec.get("stableRef") or {}).get("name") or ""
        interval = parse_duration(an.get("interval")) or 60.0
        threshold = int(_num(an.get("threshold"), 2))
        success_limit = max(1, int(_num(an.get("successLimit"), 1)))
        step = max(1, int(_num(promo.get("stepWeight"), 10)))
        max_w = int(_num(promo.get("maxWeight"), 50))
        ann = meta.get("annotations") or {}
        if START not in ann:  # the weight each revision starts at (spec.trafficWeight moves as the canary steps)
            first = str(int(_num(spec.get("trafficWeight"), 0)))
            self.state.mutate(CANARIES, ns, name, lambda o: o["metadata"].setdefault("annotations", {}).__setitem__(
                START, first))
            ann = dict(ann, **{START: first})
        start_w = int(ann[START]) if str(ann[START]).isdigit() else 0
        st["observedGeneration"] = meta.get("generation", 1)

        dep = self.state.get("deployments", ns, target) if target else None
        if dep is None:
            st.update(phase="Pending", canaryWeight=0, message=f"canary Deployment {target!r} not found")
            set_condition(conds, "Ready", "False", "TargetNotFound", st["message"], now)
            return self._write_status(CANARIES, vc, st)
        self._watch_pods(CANARIES, vc, (dep.get("spec") or {}).get("selector"))
        rev = template_hash((dep.get("spec") or {}).get("template") or {})
        phase = st.get("phase") or "Pending"
        if st.get("observedRevision") != rev:
            if st.get("observedRevision"):
                self._emit(vc, "NewRevision", f"New revision detected for {target}: starting over")
            st.update(observedRevision=rev, phase="Pending", canaryWeight=0, failedChecks=0, successfulChecks=0)
            self._spec_weight(vc, start_w)
            spec = dict(spec, trafficWeight=start_w)
            st.pop("lastAnalysis", None)
            conds[:] = []
            memo.clear()
            phase = "Pending"
        if phase in ("Succeeded", "Failed"):
            return self._write_status(CANARIES, vc, st)
        pods = self._pods_of(ns, (dep.get("spec") or {}).get("selector") or {})
        want = int((dep.get("spec") or {}).get("replicas", 1) if (dep.get("spec") or {}).get("replicas") is not None
                   else 1)

        if phase == "RollingBack":
            # confirmed on the next iteration (one analysis interval later), once the canary's pods are gone
            due = memo.setdefault("rollback_done", self.sim.t + interval)
            if self.sim.t + 1e-9 < due:
                self._later(vc, CANARIES, due - self.sim.t, "rollback")
            elif not self._pods_of(ns, (dep.get("spec") or {}).get("selector") or {}, terminating=True):
                phase = "Failed"
                st["message"] = f"rolled back: traffic is on {stable_name or 'stable'}, {target} scaled to 0"
                self._emit(vc, "Failed", f"Canary {name} failed: {st['message']}", type="Warning")
                set_condition(conds, "Promoted", "False", "RolledBack", st["message"], now)
            st.update(phase=phase, canaryWeight=0)
            self._spec_weight(vc, 0)
            self._route(vc, spec, 0)
            return self._write_status(CANARIES, vc, st)

        if phase == "Promoting":
            stable = self.state.get("deployments", ns, stable_name) if stable_name else None
            done = stable is None or self._deployment_done(stable)
            if done:
                self._scale(ns, target, 0)
                st.update(phase="Succeeded", canaryWeight=0,
                          message=f"promoted: {stable_name or target} runs the canary's pod spec")
                set_condition(conds, "Promoted", "True", "Succeeded", st["message"], now)
                self._emit(vc, "Succeeded", f"Promotion completed! {target} promoted to {stable_name or 'stable'}")
                self._spec_weight(vc, 0)
                self._route(vc, spec, 0)
            return self._write_status(CANARIES, vc, st)

        ready = sum(1 for p in pods if pod_ready(p))
        if phase == "Pending":
            if want == 0 or ready < want:
                st.update(phase="Pending", canaryWeight=0,
                          message=f"waiting for canary {target}: {ready}/{want} pods ready")
                set_condition(conds, "Ready", "False", "WaitingForPods", st["message"], now)
                return self._write_status(CANARIES, vc, st)
            phase = "Progressing"
            w0 = int(_num(spec.get("trafficWeight"), 0))
            st.update(canaryWeight=w0, failedChecks=0, successfulChecks=0)
            set_condition(conds, "Ready", "True", "PodsReady", f"canary {target}: {ready}/{want} pods ready", now)
            set_condition(conds, "Promoted", "False", "Progressing", f"canary at weight {w0}", now)
            self._emit(vc, "Started", f"Starting canary analysis for {target}, weight {w0}")
            memo["next"] = self.sim.t + interval

        if spec.get("paused"):
            st.update(phase="Paused", message=f"paused at weight {st.get('canaryWeight', 0)} (spec.paused)")
            if memo.get("paused") is not True:
                self._emit(vc, "Paused", f"Canary {name} paused at weight {st.get('canaryWeight', 0)}")
            memo["paused"] = True
            memo.pop("next", None)
            return self._write_status(CANARIES, vc, st)
        if memo.pop("paused", None):
            self._emit(vc, "Resumed", f"Canary {name} resumed")
            memo["next"] = self.sim.t + interval
        phase = "Progressing"
        st["phase"] = phase
        memo.setdefault("next", self.sim.t + interval)
        weight = int(_num(spec.get("trafficWeight"), 0))  # asked (by a person, or by our last step): applied
        st["canaryWeight"] = weight
        set_condition(conds, "Ready", "True" if ready >= want else "False", "PodsReady" if ready >= want else
                      "PodsNotReady", f"canary {target}: {ready}/{want} pods ready", now)

        if self.sim.t + 1e-9 >= memo["next"]:
            memo["next"] = self.sim.t + interval
            err, p99, rps, why = self._measure(pods)
            max_err = _num(an.get("maxErrorRate"), 5.0)
            max_p99 = _num(an.get("maxLatencyP99"), 500.0)
            fails = [why] if why else []
            if not why and err > max_err:
                fails.append(f"error rate {_pct(err)} > {_pct(max_err)}")
            if not why and p99 > max_p99:
                fails.append(f"p99 latency {p99:.0f}ms > {max_p99:.0f}ms")
            result = "Failed" if fails else "Passed"
            msg = "; ".join(fails) if fails else (f"error rate {_pct(err)} <= {_pct(max_err)}, "
                                                   f"p99 {p99:.0f}ms <= {max_p99:.0f}ms at {rps:.1f} req/s")
            st["lastAnalysis"] = {"time": now, "result": result, "errorRate": round(err, 3),
                                  "latencyP99": int(round(p99)), "requestRate": round(rps, 2), "message": msg}
            self._log(vc, f"{'WARN ' if fails else 'INFO '} analysis {result.lower()} at weight {weight}: {msg}")
            if fails:
                st["failedChecks"] = int(st.get("failedChecks") or 0) + 1
                st["successfulChecks"] = 0
                set_condition(conds, "AnalysisPassing", "False", "AnalysisFailed", msg, now)
                if st["failedChecks"] >= threshold:
                    st.update(phase="RollingBack", canaryWeight=0,
                              message=f"failed checks threshold reached {st['failedChecks']}: {msg}")
                    set_condition(conds, "Promoted", "False", "RollingBack", st["message"], now)
                    self._emit(vc, "RollingBack", f"Rolling back {name}: failed checks threshold reached "
                            f"{st['failedChecks']} ({msg})", type="Warning")
                    self._scale(ns, target, 0)
                    self._spec_weight(vc, 0)
                    self._route(vc, spec, 0)
                    memo["rollback_done"] = self.sim.t + interval
                    self._later(vc, CANARIES, interval, "rollback")
                    return self._write_status(CANARIES, vc, st)
                self._emit(vc, "AnalysisFailed", f"Halt advancement {name}: {msg} (failed checks "
                        f"{st['failedChecks']}/{threshold})", type="Warning")
            else:
                st["successfulChecks"] = int(st.get("successfulChecks") or 0) + 1
                set_condition(conds, "AnalysisPassing", "True", "AnalysisPassed", msg, now)
                if st["successfulChecks"] >= success_limit:
                    if weight < max_w:
                        weight = min(max_w, weight + step)
                        st.update(canaryWeight=weight, successfulChecks=0)
                        self._spec_weight(vc, weight)
                        self._emit(vc, "Advanced", f"Advance {name} canary weight {weight}")
                    elif promo.get("auto") or (meta.get("annotations") or {}).get(APPROVED) == "true":
                        return self._promote(vc, st, conds, ns, target, stable_name, now)
        if weight >= max_w and int(st.get("successfulChecks") or 0) >= success_limit:
            if promo.get("auto") or (meta.get("annotations") or {}).get(APPROVED) == "true":
                return self._promote(vc, st, conds, ns, target, stable_name, now)
            wait = (f"Waiting for approval to promote {name}: spec.promotion.auto is false; approve with "
                    f"kubectl annotate veritascanary {name} {APPROVED}=true")
            st["message"] = wait
            set_condition(conds, "Promoted", "False", "WaitingForApproval", wait, now)
            if not memo.get("waiting"):
                memo["waiting"] = True
                self._emit(vc, "WaitingForApproval", wait)
        else:
            have = int(st.get("successfulChecks") or 0)
            st["message"] = (f"weight {weight}/{max_w}: {have}/{success_limit} successful analyses at this weight"
                             if weight < max_w else f"weight {weight}: {have}/{success_limit} successful analyses "
                             "before promotion")
            set_condition(conds, "Promoted", "False", "Progressing", st["message"], now)
        self._route(vc, spec, weight)
        self._later(vc, CANARIES, max(0.0, memo["next"] - self.sim.t), "analysis")
        self._write_status(CANARIES, vc, st)

    def _promote(self, vc, st, conds, ns, target, stable_name, now) -> None:
        dep = self.state.get("deployments", ns, target) or {}
        tspec = orjson_clone(((dep.get("spec") or {}).get("template") or {}).get("spec") or {})
        if stable_name and self.state.get("deployments", ns, stable_name) is not None:
            self.state.mutate("deployments", ns, stable_name,
                              lambda o: o["spec"].setdefault("template", {}).__setitem__("spec", tspec))
        self._spec_weight(vc, 100)
        st.update(phase="Promoting", canaryWeight=100,
                  message=f"copying {target}'s pod spec to {stable_name or 'stable'}")
        set_condition(conds, "Promoted", "Unknown", "Promoting", st["message"], now)
        self._emit(vc, "Promoting", f"Copying {target} template spec to {stable_name or 'stable'}")
        self._route(vc, vc.get("spec") or {}, 100)
        self.dirty["veritas"].add((CANARIES, ns, vc["metadata"]["name"]))
        self._write_status(CANARIES, vc, st)

    def _spec_weight(self, vc: dict, w: int) -> None:
        """The controller steps spec.trafficWeight itself (the weight asked); status.canaryWeight is the one applied."""
        m = vc["metadata"]
        cur = self.state.get(CANARIES, m["namespace"], m["name"])
        if cur is not None and (cur.get("spec") or {}).get("trafficWeight") != w:
            self.state.mutate(CANARIES, m["namespace"], m["name"], lambda o: o["spec"].__setitem__("trafficWeight", w))

    def _deployment_done(self, d: dict) -> bool:
        spec, s = d.get("spec") or {}, d.get("status") or {}
        want = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        return (int(s.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 1)
                and int(s.get("updatedReplicas") or 0) >= want and int(s.get("availableReplicas") or 0) >= want
                and int(s.get("replicas") or 0) <= want)

    def _scale(self, ns: str, name: str, n: int) -> None:
        d = self.state.get("deployments", ns, name)
        if d is not None and (d.get("spec") or {}).get("replicas") != n:
            self.state.mutate("deployments", ns, name, lambda o: o["spec"].__setitem__("replicas", n))

    def _route(self, vc: dict, spec: dict, weight: int) -> None:
        """Write the weight into the named VirtualService: the canary host gets it, the other hosts share the rest."""
        vs_ref = ((spec.get("trafficRouting") or {}).get("virtualService") or {})
        ns = vc["metadata"]["namespace"]
        if not vs_ref.get("name") or "virtualservices" not in self.state.kinds:
            return
        vs = self.state.get("virtualservices", ns, vs_ref["name"])
        if vs is None:
            return
        canary_host = vs_ref.get("canaryHost") or (spec.get("targetRef") or {}).get("name") or ""

        def fn(o):
            for route in (o.get("spec") or {}).get("http") or ():
                dests = route.get("route") or []
                others = [d for d in dests if (d.get("destination") or {}).get("host") != canary_host]
                if len(others) == len(dests):
                    continue
                for d in dests:
                    if (d.get("destination") or {}).get("host") == canary_host:
                        d["weight"] = weight
                for i, d in enumerate(others):
                    share = (100 - weight) // len(others)
                    d["weight"] = share + (1 if i < (100 - weight) - share * len(others) else 0)
        new = orjson_clone(vs)
        fn(new)
        if new.get("spec") != vs.get("spec"):
            self.state.mutate("virtualservices", ns, vs_ref["name"], fn)

    # ---------------------------------------------------------------- VeritasEnvironment
    def _reconcile_venv(self, env: dict) -> None:
        meta = env["metadata"]
        ns, name = meta["namespace"], meta["name"]
        spec = env.get("spec") or {}
        st = orjson_clone(env.get("status") or {})
        conds = st.setdefault("conditions", [])
        now = rfc3339(self.sim.clock())
        memo = self._memo(env)
        label = spec.get("environmentLabel") or "environment"
        svc_name = spec.get("service") or name
        hc = ((spec.get("switch") or {}).get("healthCheck") or {})
        timeout = parse_duration(hc.get("timeout")) or 300.0
        interval = parse_duration(hc.get("interval")) or 10.0
        need = max(1, int(_num(hc.get("successThreshold"), 3)))
        max_err = _num(hc.get("maxErrorRate"), 1.0)
        want = spec.get("active") or "blue"
        st["observedGeneration"] = meta.get("generation", 1)
        svc = self.state.get("services", ns, svc_name)
        if svc is None:
            st.update(phase="Failed", message=f"Service {svc_name!r} not found")
            set_condition(conds, "ServiceReady", "False", "ServiceNotFound", st["message"], now)
            return self._write_status(ENVIRONMENTS, env, st)
        set_condition(conds, "ServiceReady", "True", "ServiceFound", f"Service {svc_name} selects by {label}", now)
        sel = dict((svc.get("spec") or {}).get("selector") or {})
        base = {k: v for k, v in sel.items() if k != label}
        self._watch_pods(ENVIRONMENTS, env, {"matchLabels": base} if base else None)
        active = st.get("activeEnvironment")
        if active not in ("blue", "green"):
            active = sel.get(label) if sel.get(label) in ("blue", "green") else want
            st["activeEnvironment"] = active

        def select(envs: list[str]) -> None:
            new = dict(base, **({label: envs[0]} if len(envs) == 1 else {}))
            if new != sel:
                self.state.mutate("services", ns, svc_name, lambda o: o["spec"].__setitem__("selector", new))

        phase = st.get("phase")
        if want == active or (phase == "Failed" and st.get("targetEnvironment") == want):
            # nothing to switch (or a failed switch to this target, kept until spec.active changes)
            select([active])
            if phase != "Failed" or st.get("targetEnvironment") != want:
                if phase == "Switching":
                    self._emit(env, "SwitchCancelled", f"Switch of {svc_name} cancelled: {active} stays active")
                st.update(phase="Stable", switchProgress=100, targetEnvironment=active,
                          message=f"{svc_name} serves {active}")
                st.pop("healthChecks", None)
                set_condition(conds, "Switched", "True", "Stable", st["message"], now)
                memo.clear()
            return self._write_status(ENVIRONMENTS, env, st)

        # switching from `active` to `want`
        if phase != "Switching" or st.get("targetEnvironment") != want:
            memo.clear()
            memo["start"] = self.sim.t
            memo["next"] = self.sim.t + interval
            st.update(phase="Switching", targetEnvironment=want, switchProgress=0,
                      healthChecks={"passed": 0, "failed": 0})
            self._emit(env, "SwitchStarted", f"Switching {svc_name} from {active} to {want}")
        memo.setdefault("start", self.sim.t)
        memo.setdefault("next", self.sim.t + interval)
        checks = st.setdefault("healthChecks", {"passed": 0, "failed": 0})
        target_pods = self._pods_of(ns, {"matchLabels": dict(base, **{label: want})})
        ready = sum(1 for p in target_pods if pod_ready(p))
        total = len(target_pods)
        progress = int(st.get("switchProgress") or 0)
        if not memo.get("widened"):
            progress = int(40 * ready / total) if total else 0
            if not total or ready < total:
                set_condition(conds, "TargetHealthy", "False", "PodsNotReady",
                              f"{ready}/{total} {want} pods ready" if total else f"no {want} pods", now)
            else:
                memo["widened"] = True
                select([active, want])
                progress = 50
                self._emit(env, "TrafficSplit", f"{svc_name} selects both {active} and {want} while {want} is checked")
        if memo.get("widened") and self.sim.t + 1e-9 >= memo["next"]:
            memo["next"] = self.sim.t + interval
            err, _p99, rps, why = self._measure(target_pods)
            fails = [why] if why else []
            if ready < total:
                fails.append(f"{ready}/{total} {want} pods ready")
            if not why and err > max_err:
                fails.append(f"error rate {_pct(err)} > {_pct(max_err)}")
            if fails:
                checks["failed"] = int(checks.get("failed") or 0) + 1
                memo["streak"] = 0
                msg = f"health check of {want} failing: " + "; ".join(fails)
                set_condition(conds, "TargetHealthy", "False", "HealthCheckFailed", msg, now)
                self._emit(env, "HealthCheckFailed", msg, type="Warning")
            else:
                checks["passed"] = int(checks.get("passed") or 0) + 1
                memo["streak"] = int(memo.get("streak") or 0) + 1
                msg = (f"health check of {want} passed ({memo['streak']}/{need}): error rate {_pct(err)} at "
                       f"{rps:.1f} req/s")
                set_condition(conds, "TargetHealthy", "True", "HealthCheckPassed", msg, now)
                self._log(env, f"INFO  {msg}")
            progress = 50 + int(40 * min(need, int(memo.get("streak") or 0)) / need)
        if memo.get("widened") and int(memo.get("streak") or 0) >= need:
            select([want])
            st.update(phase="Stable", switchProgress=100, activeEnvironment=want, targetEnvironment=want,
                      message=f"{svc_name} serves {want}")
            set_condition(conds, "Switched", "True", "SwitchCompleted", f"switched {svc_name} from {active} to {want}",
                          now)
            self._emit(env, "SwitchCompleted", f"Switched {svc_name} from {active} to {want}")
            memo.clear()
            return self._write_status(ENVIRONMENTS, env, st)
        elapsed = self.sim.t - memo["start"]
        if elapsed >= timeout:
            select([active])
            st.update(phase="Failed", switchProgress=0,
                      message=f"switch to {want} did not pass its health check within "
                              f"{hc.get('timeout') or '5m'}: {svc_name} back on {active}")
            set_condition(conds, "Switched", "False", "HealthCheckTimeout", st["message"], now)
            self._emit(env, "SwitchFailed", st["message"], type="Warning")
            memo.clear()
            return self._write_status(ENVIRONMENTS, env, st)
        st["switchProgress"] = progress
        st["message"] = (f"switching {svc_name} from {active} to {want}: {progress}% "
                         + ("(both environments receive traffic)" if memo.get("widened") else
                            f"({ready}/{total} {want} pods ready)"))
        set_condition(conds, "Switched", "False", "Switching", st["message"], now)
        self._later(env, ENVIRONMENTS, min(max(0.0, memo["next"] - self.sim.t), max(0.0, timeout - elapsed)),
                    "switch")
        self._write_status(ENVIRONMENTS, env, st)
