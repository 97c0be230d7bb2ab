"""Argo Rollouts controller: canary steps with weights and pauses, analysis, blue/green with active and preview Services, abort."""

from __future__ import annotations

from tui.demo.controllers import canaryscale
from tui.demo.controllers.base import ARGO_HASH, orjson_clone, parse_duration, rfc3339, selector_string, set_condition, template_hash
from tui.demo.controllers.trafficrouting import TrafficRouting
from tui.kube.timestamps import parse_time as parse_ts

SCALE_DOWN_DEADLINE = "argo-rollouts.argoproj.io/scale-down-deadline"


class Rollouts:
    """Mixin of Controllers: the Argo Rollout controller."""

    def reconcile_rollout(self, ro: dict) -> None:
        meta = ro["metadata"]
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta["namespace"], meta["name"]
        if (ro.get("spec") or {}).get("workloadRef"):
            ro = self._resolve_workload_ref(ro)
            if ro is None:
                return
        spec = ro.get("spec") or {}
        replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        strategy = spec.get("strategy") or {}
        st = orjson_clone(ro.get("status") or {})
        if ro.get("workloadGeneration"):
            st["workloadObservedGeneration"] = ro["workloadGeneration"]
        h = template_hash(spec.get("template") or {}, st.get("collisionCount") or 0)
        for _ in range(5):
            # a ReplicaSet of that name owned by someone else (a workloadRef's Deployment hashes the same template):
            # a hash collision, resolved as Argo does by counting it in status.collisionCount
            clash = self.state.get("replicasets", ns, f"{name}-{h}")
            ref = next((r for r in ((clash or {}).get("metadata") or {}).get("ownerReferences") or ()
                        if r.get("controller")), None)
            if clash is None or (ref or {}).get("uid") == meta.get("uid"):
                break
            st["collisionCount"] = int(st.get("collisionCount") or 0) + 1
            h = template_hash(spec.get("template") or {}, st["collisionCount"])
        rss = self.owned_by(ro, "replicasets")
        byhash = {(r["metadata"].get("labels") or {}).get(ARGO_HASH): r for r in rss}
        revs = [int((r["metadata"].get("annotations") or {}).get("rollout.argoproj.io/revision") or 0) for r in rss]
        maxrev = max(revs, default=0)
        now_w = self.sim.clock()
        now = rfc3339(now_w)
        ev = self.events
        comp = "rollouts-controller"
        cur = byhash.get(h)
        if cur is None:
            cur = self.new_rs(ro, ARGO_HASH, h, maxrev + 1, 0)
            byhash[h] = cur
            if rss:
                ev.emit(ro, "RolloutUpdated", f"Rollout updated to revision {maxrev + 1}", component=comp)
            ev.emit(ro, "NewReplicaSetCreated", f"Created ReplicaSet {cur['metadata']['name']} (revision {maxrev + 1})",
                    component=comp)
        elif st.get("currentPodHash") and st.get("currentPodHash") != h:
            rev = int((cur["metadata"].get("annotations") or {}).get("rollout.argoproj.io/revision") or 0)
            if rev < maxrev:
                self.state.mutate("replicasets", ns, cur["metadata"]["name"], lambda o: o["metadata"].setdefault(
                    "annotations", {}).__setitem__("rollout.argoproj.io/revision", str(maxrev + 1)))
            ev.emit(ro, "RolloutUpdated", f"Rollout updated to revision {max(rev, maxrev + 1 if rev < maxrev else rev)}",
                    component=comp)
        revision = (self.state.get("replicasets", ns, cur["metadata"]["name"]) or cur)["metadata"].get(
            "annotations", {}).get("rollout.argoproj.io/revision", "1")
        if st.get("currentPodHash") != h:
            # a new update: steps start over, an earlier abort no longer applies
            st["currentPodHash"] = h
            st["currentStepIndex"] = 0
            st.pop("abort", None)
            st.pop("abortedAt", None)
            st.pop("pauseConditions", None)
            st["controllerPause"] = False
            st.pop("promoteFull", None)
        restart_at = spec.get("restartAt")
        if restart_at and st.get("restartedAt") != restart_at:
            # as Argo (`kubectl argo rollouts restart`): pods created before spec.restartAt are replaced; their
            # ReplicaSets bring up new ones (Argo does it a few at a time; the demo all at once)
            for r in byhash.values():
                for p in self.owned_by(r, "pods"):
                    pm = p["metadata"]
                    if (pm.get("creationTimestamp") or "") < restart_at and not pm.get("deletionTimestamp"):
                        self.state.delete("pods", ns, pm["name"])
            st["restartedAt"] = restart_at
            ev.emit(ro, "RolloutRestarted", f"Rollout restarted its pods (restartAt {restart_at})", component=comp)
        stable_h = st.get("stableRS")
        if not stable_h or stable_h not in byhash:
            stable_h = st["stableRS"] = h
        stable = byhash[stable_h]
        canary = byhash[h]

        def reps(r):
            r = self.state.get("replicasets", ns, r["metadata"]["name"]) or r
            return int((r.get("spec") or {}).get("replicas") or 0)

        def avail(r):
            r = self.state.get("replicasets", ns, r["metadata"]["name"]) or r
            return int((r.get("status") or {}).get("availableReplicas") or 0)

        others = [r for hh, r in byhash.items() if hh not in (h, stable_h)]
        for r in others:
            if not self._waiting_scale_down(ro, r):
                self.scale_rs(ro, r, 0, component=comp)
        phase, message = "Progressing", ""
        abort = bool(st.get("abort"))
        paused_manual = bool(spec.get("paused"))
        conds = st.get("conditions") or []
        if "blueGreen" in strategy:
            phase, message = self._bluegreen(ro, st, strategy["blueGreen"], replicas, h, stable_h, canary, stable,
                                             reps, avail, abort, now, revision)
        else:
            steps = (strategy.get("canary") or {}).get("steps") or []
            cs = strategy.get("canary") or {}
            is_routed = canaryscale.routed(ro)
            idx = int(st.get("currentStepIndex") or 0)
            old_weights = ((ro.get("status") or {}).get("canary") or {}).get("weights")

            def counts(r):
                r = self.state.get("replicasets", ns, r["metadata"]["name"]) or r
                rst = r.get("status") or {}
                return canaryscale.RSCount(r["metadata"]["name"], int((r.get("spec") or {}).get("replicas") or 0),
                                           int(rst.get("availableReplicas") or 0), int(rst.get("replicas") or 0))

            def view(i):
                # the Rollout as Argo's helpers read it: this pass's status, at step i
                return {"spec": spec, "status": dict(st, currentStepIndex=i, stableRS=stable_h, currentPodHash=h)}

            def scale_to(i):
                """Scale stable then canary to Argo's counts at step i; whether Argo's AtDesiredReplicaCounts holds."""
                olds = [counts(r) for r in others]
                want_new, want_stable = canaryscale.canary_counts(view(i), counts(canary), counts(stable), olds,
                                                                  old_weights)
                self.scale_rs(ro, stable, want_stable, component=comp)
                self.scale_rs(ro, canary, want_new, component=comp)
                return canaryscale.at_desired_counts(view(i), counts(canary), counts(stable), olds, old_weights)

            weight = 100 if h == stable_h else 0
            desired_weight = 0  # what the traffic routers are told (Argo's reconcileTrafficRouting)
            if h == stable_h:
                self.scale_rs(ro, stable, replicas, component=comp)
                st["currentStepIndex"] = len(steps)
                st.pop("pauseConditions", None)
                st["controllerPause"] = False
                weight = 0
                self.end_canary_analysis(ro, st)
                self.end_experiments(ro)
            elif abort:
                if is_routed and canaryscale.abort_scale_down_delay(ro) is None:
                    pass  # abortScaleDownDelaySeconds: 0 leaves the canary up
                elif is_routed:
                    self._scale_down_later(ro, canary, canaryscale.abort_scale_down_delay(ro), comp)
                else:
                    self.scale_rs(ro, canary, 0, component=comp)
                self.scale_rs(ro, stable, replicas, component=comp)
                why = f"Rollout aborted update to revision {revision}" + (
                    f": {self.abort_message(ro)}" if self.abort_message(ro) else "")
                if not st.get("abortedAt"):
                    st["abortedAt"] = now
                    ev.emit(ro, "RolloutAborted", why, type="Warning", component=comp)
                phase = "Degraded"
                message = f"RolloutAborted: {why}"
                self.end_canary_analysis(ro, st)
                self.end_experiments(ro)
                st.pop("pauseConditions", None)
                st["controllerPause"] = False
                weight = 0
            else:
                if st.get("promoteFull"):
                    idx = len(steps)
                    st.pop("pauseConditions", None)
                weight = next((int(s["setWeight"]) for s in reversed(steps[:idx]) if "setWeight" in s), 0)
                self.background_analysis(ro, st, idx, steps, h, stable_h, revision, now)
                while idx < len(steps) and not st.get("abort"):
                    step = steps[idx]
                    if "setWeight" in step or "setCanaryScale" in step:
                        if "setWeight" in step:
                            weight = int(step["setWeight"])
                        if scale_to(idx):
                            what = (f"setWeight: {weight}" if "setWeight" in step else "setCanaryScale")
                            ev.emit(ro, "RolloutStepCompleted",
                                    f"Rollout step {idx + 1}/{len(steps)} completed ({what})", component=comp)
                            idx += 1
                            continue
                        break
                    if "pause" in step:
                        dur = parse_duration((step.get("pause") or {}).get("duration"))
                        pcs = st.get("pauseConditions") or []
                        key = (meta["uid"], idx)
                        if st.get("controllerPause") and not pcs:
                            st["controllerPause"] = False
                            self.rollout_pause_start.pop(key, None)
                            ev.emit(ro, "RolloutResumed", "Rollout is resumed", component=comp)
                            ev.emit(ro, "RolloutStepCompleted", f"Rollout step {idx + 1}/{len(steps)} completed "
                                    f"(pause{': ' + str(step['pause']['duration']) if dur is not None else ''})",
                                    component=comp)
                            idx += 1
                            continue
                        if not st.get("controllerPause"):
                            st["controllerPause"] = True
                            st["pauseConditions"] = [{"reason": "CanaryPauseStep", "startTime": now}]
                            self.rollout_pause_start[key] = self.sim.t
                            ev.emit(ro, "RolloutPaused", "Rollout is paused (CanaryPauseStep)", component=comp)
                        started = self.rollout_pause_start.setdefault(key, self.sim.t)
                        if dur is not None:
                            left = dur - (self.sim.t - started)
                            if left <= 0:
                                st["pauseConditions"] = []
                                continue  # completes on the next pass of this loop
                            self.sim.schedule(left + 0.01, lambda: self.dirty["rollouts"].add((ns, name)),
                                              dedupe=("pause", meta["uid"], idx))
                        break
                    if "analysis" in step and self.step_analysis(ro, st, idx, step, h, stable_h, revision,
                                                                 now) != "next":
                        break
                    if "experiment" in step and self.step_experiment(ro, st, idx, step, h, stable_h, revision,
                                                                     byhash, now) != "next":
                        break
                    ev.emit(ro, "RolloutStepCompleted", f"Rollout step {idx + 1}/{len(steps)} completed", component=comp)
                    idx += 1
                if idx < len(steps):
                    if not st.get("abort"):
                        # between steps the counts of the last setWeight/setCanaryScale hold
                        scale_to(idx)
                elif not st.get("abort"):
                    weight = 100
                    scale_to(idx)
                    if counts(canary).available >= replicas:
                        st["stableRS"] = h
                        if is_routed:
                            delay = float(cs.get("scaleDownDelaySeconds", 30))
                            self._scale_down_later(ro, stable, delay, comp)
                        else:
                            self.scale_rs(ro, stable, 0, component=comp)
                        ev.emit(ro, "RolloutCompleted", f"Rollout completed update to revision {revision} ({h}): "
                                f"Completed all {len(steps)} canary steps", component=comp)
                        stable_h, stable = h, canary
                        st.pop("pauseConditions", None)
                        st["controllerPause"] = False
                        st.pop("promoteFull", None)
                st["currentStepIndex"] = idx
                desired_weight = self._desired_weight(ro, view(idx), idx, steps, counts(canary), counts(stable),
                                                      [counts(r) for r in others], old_weights) if is_routed else weight
            self._canary_services(ro, cs, h, stable_h, canary, abort)
            if is_routed:
                self._route_traffic(ro, st, cs, h, stable_h, counts(canary), counts(stable), desired_weight,
                                    old_weights)
            else:
                ws = {"canary": {"podTemplateHash": h, "weight": weight},
                      "stable": {"podTemplateHash": stable_h, "weight": 100 - weight}}
                if cs.get("canaryService"):
                    ws["canary"]["serviceName"] = cs["canaryService"]
                if cs.get("stableService"):
                    ws["stable"]["serviceName"] = cs["stableService"]
                st["canary"] = {"weights": ws}
            if steps:
                st["currentStepHash"] = template_hash({"spec": {"steps": steps}})
            if phase != "Degraded":
                if paused_manual:
                    phase, message = "Paused", "manually paused"
                elif st.get("pauseConditions"):
                    phase, message = "Paused", st["pauseConditions"][0].get("reason") or "CanaryPauseStep"
                elif st.get("stableRS") == h and avail(canary) >= replicas and not any(
                        reps(r) for r in others + ([stable] if stable is not canary else [])):
                    phase, message = "Healthy", ""
                else:
                    phase = "Progressing"
                    message = ("more replicas need to be updated" if avail(canary) < reps(canary)
                               else "old replicas are pending termination" if st.get("stableRS") == h
                               else "updated replicas are still becoming available")
        self.analysis_status_into(ro, st)
        self._rollout_status(ro, st, conds, phase, message, replicas, h, byhash, now)
        if spec.get("workloadRef"):
            self._scale_referenced_deployment(ro, st, revision, replicas)

    def _bluegreen(self, ro, st, bg, replicas, h, stable_h, cur, stable, reps, avail, abort, now, revision):
        ns, name = ro["metadata"]["namespace"], ro["metadata"]["name"]
        comp = "rollouts-controller"
        active, preview = bg.get("activeService"), bg.get("previewService")
        auto = bg.get("autoPromotionEnabled", True)
        auto_s = float(bg.get("autoPromotionSeconds") or 0)
        delay = float(bg.get("scaleDownDelaySeconds", 30))
        bgst = st.setdefault("blueGreen", {})
        if h == stable_h:
            self.scale_rs(ro, cur, replicas, component=comp)
            if active:
                self._set_service_hash(ns, active, h, name)
            if preview:
                self._set_service_hash(ns, preview, h, name)
            bgst["activeSelector"] = h
            bgst["previewSelector"] = h
            st.pop("pauseConditions", None)
            st["controllerPause"] = False
            ok = avail(cur) >= replicas
            return ("Healthy", "") if ok else ("Progressing", "updated replicas are still becoming available")
        if abort:
            self.scale_rs(ro, cur, 0, component=comp)
            self.scale_rs(ro, stable, replicas, component=comp)
            if active:
                self._set_service_hash(ns, active, stable_h, name)
                bgst["activeSelector"] = stable_h
            why = f"Rollout aborted update to revision {revision}" + (
                f": {self.abort_message(ro)}" if self.abort_message(ro) else "")
            if not st.get("abortedAt"):
                st["abortedAt"] = now
                self.events.emit(ro, "RolloutAborted", why, type="Warning", component=comp)
            st.pop("pauseConditions", None)
            self.terminate_run(self._current_run(ro, "pre"))
            self.terminate_run(self._current_run(ro, "post"))
            return "Degraded", f"RolloutAborted: {why}"
        if bg.get("postPromotionAnalysis") and bgst.get("activeSelector") == h:
            # promoted: the new ReplicaSet serves, but becomes stable only once post-promotion analysis passes
            self.scale_rs(ro, cur, replicas, component=comp)
            self.scale_rs(ro, stable, replicas, component=comp)
            for svc in (active, preview):
                if svc:
                    self._set_service_hash(ns, svc, h, name)
            bgst["previewSelector"] = h
            if not self.postpromotion_analysis(ro, st, h, stable_h, revision, now):
                if st.get("pauseConditions"):
                    return "Paused", st["pauseConditions"][0].get("reason") or "InconclusiveAnalysisRun"
                return "Progressing", "waiting for analysis to complete"
            return self._bluegreen_complete(ro, st, bgst, replicas, h, stable, delay, revision)
        want = int(bg.get("previewReplicaCount") or replicas)
        self.scale_rs(ro, cur, want, component=comp)
        self.scale_rs(ro, stable, replicas, component=comp)
        if preview:
            self._set_service_hash(ns, preview, h, name)
        if active:
            self._set_service_hash(ns, active, stable_h, name)
        bgst["previewSelector"] = h
        bgst["activeSelector"] = stable_h
        if avail(cur) < want:
            return "Progressing", "more replicas need to be updated" if reps(cur) < want else \
                "updated replicas are still becoming available"
        if not self.prepromotion_analysis(ro, st, h, stable_h, revision, now):
            if st.get("abort"):
                return "Progressing", "active service cutover pending"
            if st.get("pauseConditions"):
                return "Paused", st["pauseConditions"][0].get("reason") or "InconclusiveAnalysisRun"
            return "Progressing", "active service cutover pending"
        key = (ro["metadata"]["uid"], -1)
        promote = False
        if not auto or st.get("pauseConditions") or st.get("controllerPause"):
            if st.get("controllerPause") and not st.get("pauseConditions"):
                promote = True
            elif not st.get("controllerPause"):
                st["controllerPause"] = True
                st["pauseConditions"] = [{"reason": "BlueGreenPause", "startTime": now}]
                self.events.emit(ro, "RolloutPaused", "Rollout is paused (BlueGreenPause)", component=comp)
        else:
            started = self.rollout_pause_start.setdefault(key, self.sim.t)
            if self.sim.t - started >= auto_s:
                promote = True
            else:
                self.sim.schedule(auto_s - (self.sim.t - started) + 0.01,
                                  lambda: self.dirty["rollouts"].add((ns, name)), dedupe=("bgauto", key))
        if st.get("promoteFull"):
            promote = True
        if not promote:
            return "Paused", "BlueGreenPause"
        self.rollout_pause_start.pop(key, None)
        if active:
            old_sel = stable_h
            self._set_service_hash(ns, active, h, name)
            self.events.emit(ro, "SwitchService", f"Switched selector for service '{active}' from '{old_sel}' to '{h}'",
                             component=comp)
        if bg.get("postPromotionAnalysis"):
            bgst["activeSelector"] = h
            st["controllerPause"] = False
            st.pop("pauseConditions", None)
            st.pop("promoteFull", None)
            self.dirty["rollouts"].add((ns, name))
            return "Progressing", "waiting for analysis to complete"
        return self._bluegreen_complete(ro, st, bgst, replicas, h, stable, delay, revision)

    def _bluegreen_complete(self, ro, st, bgst, replicas, h, stable, delay, revision):
        """The new ReplicaSet becomes stable; the old one scales down after scaleDownDelaySeconds."""
        ns, name = ro["metadata"]["namespace"], ro["metadata"]["name"]
        comp = "rollouts-controller"
        st["stableRS"] = h
        st["controllerPause"] = False
        st.pop("pauseConditions", None)
        st.pop("promoteFull", None)
        bgst["activeSelector"] = h
        deadline = rfc3339(self.sim.clock() + delay / max(self.sim.speed, 1e-9))
        self.scale_rs(ro, stable, replicas, component=comp,
                      annotations={"argo-rollouts.argoproj.io/scale-down-deadline": deadline})
        old_rs = stable

        def scale_down():
            o = self.state.get("replicasets", ns, old_rs["metadata"]["name"])
            r = self.state.get("rollouts", ns, name)
            if o is not None and r is not None and (r.get("status") or {}).get("stableRS") != \
                    (o["metadata"].get("labels") or {}).get(ARGO_HASH):
                self.scale_rs(r, o, 0, component=comp)
        self.sim.schedule(delay, scale_down)
        self.events.emit(ro, "RolloutCompleted", f"Rollout completed update to revision {revision} ({h}): "
                         "Completed blue-green update", component=comp)
        return "Healthy", ""

    # ---------------------------------------------------------------- workloadRef
    def _resolve_workload_ref(self, ro: dict) -> dict | None:
        """rollout/templateref.go: the pod template (and, when the Rollout has none, the selector) come from the
        referenced Deployment; a missing one leaves the Rollout Degraded with InvalidSpec, as Argo does."""
        ns, name = ro["metadata"]["namespace"], ro["metadata"]["name"]
        ref = ro["spec"]["workloadRef"] or {}
        kind, rname = ref.get("kind"), ref.get("name") or ""
        dep = self.state.get("deployments", ns, rname) if kind == "Deployment" else None
        if dep is None:
            msg = (f'The Rollout "{name}" is invalid: spec.workloadRef: Invalid value: "{rname}": '
                   f"{kind or 'workload'} {rname!r} not found" if kind == "Deployment" else
                   f'The Rollout "{name}" is invalid: spec.workloadRef.kind: Unsupported value: "{kind}": '
                   f'supported values: "Deployment"')
            now = rfc3339(self.sim.clock())
            st = orjson_clone(ro.get("status") or {})
            conds = st.get("conditions") or []
            set_condition(conds, "InvalidSpec", "True", "InvalidSpec", msg, now, update_time=True)
            st.update(conditions=conds, phase="Degraded", message=f"InvalidSpec: {msg}")
            if st != ro.get("status"):
                self.state.mutate("rollouts", ns, name, lambda o: o.__setitem__("status", st))
            return None
        spec = dict(ro["spec"])
        spec["template"] = orjson_clone((dep.get("spec") or {}).get("template") or {})
        if not spec.get("selector"):
            spec["selector"] = orjson_clone((dep.get("spec") or {}).get("selector") or {})
        out = dict(ro)
        out["spec"] = spec
        out["workloadGeneration"] = str(dep["metadata"].get("generation", 1))  # read by reconcile_rollout, not stored
        self.workload_refs[(ns, rname)] = name
        return out

    def _scale_referenced_deployment(self, ro: dict, st: dict, revision: str, replicas: int) -> None:
        """workloadRef.scaleDown: never (the default) leaves the Deployment be; onsuccess scales it to 0 once the
        first revision is Healthy; progressively scales it down as the Rollout's pods become ready (sync.go,
        replicaset.go reconcileNewReplicaSet)."""
        ref = ro["spec"]["workloadRef"]
        mode = (ref.get("scaleDown") or "never").lower()
        if mode == "never" or str(revision) != "1":
            return
        ns = ro["metadata"]["namespace"]
        dep = self.state.get("deployments", ns, ref.get("name") or "")
        if dep is None:
            return
        if st.get("phase") == "Healthy":
            target = 0
        elif mode == "progressively":
            target = max(0, replicas - int(st.get("readyReplicas") or 0))
        else:
            return
        if int((dep.get("spec") or {}).get("replicas") or 0) != target:
            self.state.mutate("deployments", ns, dep["metadata"]["name"],
                              lambda o: o["spec"].__setitem__("replicas", target))

    # ---------------------------------------------------------------- canary Services and traffic routing
    def _waiting_scale_down(self, ro: dict, rs: dict) -> bool:
        """Whether a ReplicaSet waits for its scale-down deadline (Argo's scaleDownDelaySeconds after a
        traffic-routed promotion, abortScaleDownDelaySeconds after an abort); wakes the Rollout at the deadline."""
        rs = self.state.get("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"]) or rs
        ann = (rs["metadata"].get("annotations") or {}).get(SCALE_DOWN_DEADLINE)
        t = parse_ts(ann) if ann else None
        if t is None:
            return False
        left = t - self.sim.clock()
        if left <= 0:
            return False
        ns, name = ro["metadata"]["namespace"], ro["metadata"]["name"]
        self.sim.schedule(left * max(self.sim.speed, 1e-9) + 0.01, lambda: self.dirty["rollouts"].add((ns, name)),
                          dedupe=("scale-down", rs["metadata"].get("uid"), ann))
        return True

    def _scale_down_later(self, ro: dict, rs: dict, delay: float, comp: str) -> None:
        """Annotate the ReplicaSet with its scale-down deadline (once); scale it to 0 when that has passed."""
        cur = self.state.get("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"]) or rs
        if not (cur["metadata"].get("annotations") or {}).get(SCALE_DOWN_DEADLINE):
            deadline = rfc3339(self.sim.clock() + delay / max(self.sim.speed, 1e-9))
            self.scale_rs(ro, cur, int((cur.get("spec") or {}).get("replicas") or 0), component=comp,
                          annotations={SCALE_DOWN_DEADLINE: deadline})
            cur = self.state.get("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"]) or cur
        if not self._waiting_scale_down(ro, cur):
            self.scale_rs(ro, cur, 0, component=comp)

    def _canary_services(self, ro: dict, cs: dict, h: str, stable_h: str, canary: dict, abort: bool) -> None:
        """reconcileStableAndCanaryService: the stable Service selects the stable hash; the canary Service the new
        hash once the new ReplicaSet has an available pod (all of them when adopting an unmanaged Service), the
        stable hash after an abort."""
        ns, name = ro["metadata"]["namespace"], ro["metadata"]["name"]
        if cs.get("stableService"):
            self._set_service_hash(ns, cs["stableService"], stable_h, name)
        svc = cs.get("canaryService")
        if not svc:
            return
        if abort:
            self._set_service_hash(ns, svc, stable_h, name)
            return
        s = self.state.get("services", ns, svc)
        if s is None or ((s.get("spec") or {}).get("selector") or {}).get(ARGO_HASH) == h:
            return
        rs = self.state.get("replicasets", ns, canary["metadata"]["name"]) or canary
        want = int((rs.get("spec") or {}).get("replicas") or 0)
        avail = int((rs.get("status") or {}).get("availableReplicas") or 0)
        managed = "argo-rollouts.argoproj.io/managed-by-rollouts" in (s["metadata"].get("annotations") or {})
        if avail > 0 and (managed or avail >= want):
            self._set_service_hash(ns, svc, h, name)

    def _desired_weight(self, ro, v, idx, steps, new, stable, olds, old_weights) -> int:
        """reconcileTrafficRouting's desired canary weight for a progressing (not aborted) canary."""
        st = v["status"]
        mw = canaryscale.max_traffic_weight(ro)
        if st.get("stableRS") == st.get("currentPodHash") or new is None or new.available == 0:
            return 0
        if st.get("promoteFull"):
            if (v["spec"]["strategy"]["canary"]).get("dynamicStableScale"):
                return mw * new.available // max(1, canaryscale.spec_replicas(ro))
            return int(((old_weights or {}).get("canary") or {}).get("weight") or 0)
        if not steps:
            return 0
        if not canaryscale.at_desired_counts(v, new, stable, olds, None):
            return next((int(s["setWeight"]) for s in reversed(steps[:idx]) if s.get("setWeight") is not None), 0)
        if idx != len(steps):
            return canaryscale.current_set_weight(v)
        return mw

    def _route_traffic(self, ro, st, cs, h, stable_h, new, stable, desired, old_weights) -> None:
        """Write the weight to the Rollout's traffic routers and status.canary.weights, as Argo does once the
        stable can take the rest (checkReplicasAvailable) and, for an Istio subset split without Services, once
        the ReplicaSets behind the DestinationRule are available (shouldDelayDestinationRuleUpdate)."""
        replicas = canaryscale.spec_replicas(ro)
        mw = canaryscale.max_traffic_weight(ro)
        if stable is None or stable.available < (mw - desired) * replicas // mw:
            return
        if (canaryscale._canary(ro).get("trafficRouting") or {}).get("istio") is not None and not (
                cs.get("canaryService") or cs.get("stableService")):
            for rs in (new, stable):
                if rs is not None and rs.replicas > 0 and rs.available < rs.replicas and not (
                        st.get("abort") and rs is new):
                    return
        tr = TrafficRouting(self, ro)
        tr.update_hash(h, stable_h)
        tr.set_weight(desired)
        weights = {"canary": {"weight": desired, "podTemplateHash": h},
                   "stable": {"weight": mw - desired, "podTemplateHash": stable_h}}
        if cs.get("canaryService"):
            weights["canary"]["serviceName"] = cs["canaryService"]
        if cs.get("stableService"):
            weights["stable"]["serviceName"] = cs["stableService"]
        prev = old_weights
        if prev is None or prev.get("canary") != weights["canary"] or prev.get("stable") != weights["stable"]:
            if prev is None:
                detail = f"to {desired}"
            elif int((prev.get("canary") or {}).get("weight") or 0) != desired:
                detail = f"from {int((prev.get('canary') or {}).get('weight') or 0)} to {desired}"
            else:
                detail = ""
            self.events.emit(ro, "TrafficWeightUpdated", f"Traffic weight updated {detail}".rstrip(),
                             component="rollouts-controller")
        st["canary"] = {"weights": weights}

    def _set_service_hash(self, ns: str, svc: str, h: str, rollout: str) -> None:
        s = self.state.get("services", ns, svc)
        if s is None:
            return
        sel = (s.get("spec") or {}).get("selector") or {}
        ann = (s["metadata"].get("annotations") or {})
        if sel.get(ARGO_HASH) == h and ann.get("argo-rollouts.argoproj.io/managed-by-rollouts") == rollout:
            return

        def fn(o):
            o.setdefault("spec", {}).setdefault("selector", {})[ARGO_HASH] = h
            o["metadata"].setdefault("annotations", {})["argo-rollouts.argoproj.io/managed-by-rollouts"] = rollout
        self.state.mutate("services", ns, svc, fn)

    def _rollout_status(self, ro, st, conds, phase, message, replicas, h, byhash, now) -> None:
        ns, name = ro["metadata"]["namespace"], ro["metadata"]["name"]
        allrs = [self.state.get("replicasets", ns, r["metadata"]["name"]) or r for r in byhash.values()]

        def s(r, k):
            return int((r.get("status") or {}).get(k) or 0)
        cur = next((r for r in allrs if (r["metadata"].get("labels") or {}).get(ARGO_HASH) == h), None)
        total = sum(s(r, "replicas") for r in allrs)
        available = sum(s(r, "availableReplicas") for r in allrs)
        st.update(replicas=total, updatedReplicas=s(cur, "replicas") if cur else 0,
                  readyReplicas=sum(s(r, "readyReplicas") for r in allrs), availableReplicas=available,
                  observedGeneration=str(ro["metadata"].get("generation", 1)),
                  selector=selector_string((ro.get("spec") or {}).get("selector")), phase=phase, message=message,
                  HPAReplicas=total)
        if st.get("abort") is None:
            st.pop("abort", None)
        if available >= replicas:
            set_condition(conds, "Available", "True", "AvailableReason", "Rollout has minimum availability", now,
                          update_time=True)
        else:
            set_condition(conds, "Available", "False", "AvailableReason", "Rollout does not have minimum availability",
                          now, update_time=True)
        rsname = cur["metadata"]["name"] if cur else name
        if phase == "Degraded":
            set_condition(conds, "Progressing", "False", "RolloutAborted", message, now, update_time=True)
        elif phase == "Paused":
            set_condition(conds, "Progressing", "Unknown", "RolloutPaused", "Rollout is paused", now, update_time=True)
        elif phase == "Healthy":
            set_condition(conds, "Progressing", "True", "NewReplicaSetAvailable",
                          f'ReplicaSet "{rsname}" has successfully progressed.', now, update_time=True)
        else:
            set_condition(conds, "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rsname}" is progressing.',
                          now, update_time=True)
        set_condition(conds, "Paused", "True" if phase == "Paused" else "False",
                      "RolloutPaused" if phase == "Paused" else "RolloutResumed",
                      "Rollout is paused" if phase == "Paused" else "Rollout is resumed", now, update_time=True)
        set_condition(conds, "Healthy", "True" if phase == "Healthy" else "False",
                      "RolloutHealthy" if phase == "Healthy" else "RolloutHealthy",
                      "Rollout is healthy" if phase == "Healthy" else "Rollout is not healthy", now, update_time=True)
        set_condition(conds, "Completed", "True" if phase == "Healthy" else "False",
                      "RolloutCompleted" if phase == "Healthy" else "RolloutCompleted",
                      "Rollout is completed" if phase == "Healthy" else "Rollout is not completed", now,
                      update_time=True)
        st["conditions"] = conds
        if st != ro.get("status"):
            self.state.mutate("rollouts", ns, name, lambda o: o.__setitem__("status", st))

    # ---------------------------------------------------------------- Service -> Endpoints, EndpointSlices
    # Incremental, as the endpointslice controller is: each Service keeps its members and which slice each
    # sits in; a pod change rewrites only that pod's slice, so churn on 10,000 pods stays cheap.
