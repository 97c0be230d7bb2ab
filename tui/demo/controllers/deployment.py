"""Deployment controller: rolling updates with maxSurge / maxUnavailable, revisions, progress deadline."""

from __future__ import annotations

from tui.demo.controllers.base import DEPLOY_HASH, int_or_percent, orjson_clone, rfc3339, set_condition, template_hash


class Deployments:
    """Mixin of Controllers: the Deployment controller."""

    def reconcile_deployment(self, d: dict) -> None:
        meta = d["metadata"]
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta["namespace"], meta["name"]
        spec = d.get("spec") or {}
        replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        collision = int((d.get("status") or {}).get("collisionCount") or 0)
        h = template_hash(spec.get("template") or {}, collision)
        for _ in range(5):  # a ReplicaSet of that name someone else owns (a Rollout's workloadRef): a hash collision
            clash = self.state.get("replicasets", ns, f"{name}-{h}")
            ref = next((r for r in ((clash or {}).get("metadata") or {}).get("ownerReferences") or ()
                        if r.get("controller")), None)
            if clash is None or (ref or {}).get("uid") == meta.get("uid"):
                break
            collision += 1
            h = template_hash(spec.get("template") or {}, collision)
        rss = self.owned_by(d, "replicasets")
        new = next((r for r in rss if (r["metadata"].get("labels") or {}).get(DEPLOY_HASH) == h), None)
        revs = [int((r["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision") or 0) for r in rss]
        maxrev = max(revs, default=0)
        strategy = spec.get("strategy") or {}
        rolling = strategy.get("type", "RollingUpdate") != "Recreate"
        ru = strategy.get("rollingUpdate") or {}
        surge = int_or_percent(ru.get("maxSurge"), replicas, "25%", True) if rolling else 0
        unavail = int_or_percent(ru.get("maxUnavailable"), replicas, "25%", False) if rolling else replicas
        if rolling and surge == 0 and unavail == 0:
            unavail = 1
        created_new = False
        ann = {"deployment.kubernetes.io/desired-replicas": str(replicas),
               "deployment.kubernetes.io/max-replicas": str(replicas + surge)}
        if new is None:
            new = self.new_rs(d, DEPLOY_HASH, h, maxrev + 1, 0, ann)
            created_new = True
            rss = self.owned_by(d, "replicasets")
        else:
            rev = int((new["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision") or 0)
            if rev < maxrev:  # rolled back to an older template: it becomes the newest revision
                self.state.mutate("replicasets", ns, new["metadata"]["name"], lambda o: o["metadata"].setdefault(
                    "annotations", {}).__setitem__("deployment.kubernetes.io/revision", str(maxrev + 1)))
        new = self.state.get("replicasets", ns, new["metadata"]["name"]) or new
        old = [r for r in rss if r["metadata"]["name"] != new["metadata"]["name"]]
        # as the real controller: the Deployment carries its newest revision (`kubectl rollout undo` patches it)
        rev_now = (new["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision")
        if rev_now and (meta.get("annotations") or {}).get("deployment.kubernetes.io/revision") != rev_now:
            self.state.mutate("deployments", ns, name, lambda o: o["metadata"].setdefault(
                "annotations", {}).__setitem__("deployment.kubernetes.io/revision", rev_now))

        def reps(r):
            return int((r.get("spec") or {}).get("replicas") or 0)

        def avail(r):
            return int((r.get("status") or {}).get("availableReplicas") or 0)

        if not spec.get("paused"):
            if not rolling:
                if any(reps(r) for r in old):
                    for r in old:
                        self.scale_rs(d, r, 0)
                elif not any((r.get("status") or {}).get("replicas") for r in old):
                    self.scale_rs(d, new, replicas, annotations=ann)
            else:
                total = sum(reps(r) for r in rss)
                if reps(new) < replicas:
                    room = replicas + surge - total
                    if room > 0:
                        self.scale_rs(d, new, min(replicas, reps(new) + room), annotations=ann)
                elif reps(new) > replicas:
                    self.scale_rs(d, new, replicas, annotations=ann)
                new = self.state.get("replicasets", ns, new["metadata"]["name"]) or new
                if any(reps(r) for r in old):
                    min_avail = replicas - unavail
                    all_pods = sum(reps(r) for r in rss if r is not new) + reps(new)
                    new_unavailable = reps(new) - avail(new)
                    budget = all_pods - min_avail - new_unavailable
                    # old pods that are not available can go first: they serve nobody
                    for r in sorted(old, key=lambda r: r["metadata"].get("creationTimestamp") or ""):
                        unhealthy = reps(r) - avail(r)
                        if unhealthy > 0 and budget > 0:
                            take = min(unhealthy, budget)
                            self.scale_rs(d, r, reps(r) - take)
                            budget -= take
                    old = [self.state.get("replicasets", ns, r["metadata"]["name"]) or r for r in old]
                    all_avail = sum(avail(r) for r in old) + avail(new)
                    budget = max(0, all_avail - min_avail)
                    for r in sorted(old, key=lambda r: r["metadata"].get("creationTimestamp") or ""):
                        if budget <= 0:
                            break
                        take = min(reps(r), budget)
                        if take:
                            self.scale_rs(d, r, reps(r) - take)
                            budget -= take
        self._deployment_status(d, new, old, replicas, unavail, created_new, collision)

    def _deployment_status(self, d, new, old, replicas, unavail, created_new, collision: int = 0) -> None:
        ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
        new = self.state.get("replicasets", ns, new["metadata"]["name"]) or new
        old = [self.state.get("replicasets", ns, r["metadata"]["name"]) or r for r in old]
        allrs = [new] + old

        def s(r, k):
            return int((r.get("status") or {}).get(k) or 0)
        total = sum(s(r, "replicas") for r in allrs)
        updated = s(new, "replicas")
        ready = sum(s(r, "readyReplicas") for r in allrs)
        available = sum(s(r, "availableReplicas") for r in allrs)
        now = rfc3339(self.sim.clock())
        deadline = float((d.get("spec") or {}).get("progressDeadlineSeconds") or 600)
        sig = (new["metadata"]["name"], int((new.get("spec") or {}).get("replicas") or 0), updated,
               s(new, "availableReplicas"), sum(s(r, "replicas") for r in old))
        uid = d["metadata"]["uid"]
        prev = self.deploy_progress.get(uid)
        progressed = prev is None or prev[0] != sig
        if progressed:
            self.deploy_progress[uid] = (sig, self.sim.t)
        since = self.deploy_progress[uid][1]
        complete = (updated == replicas and available >= replicas and total == updated
                    and int((new.get("spec") or {}).get("replicas") or 0) == replicas)
        st = orjson_clone(d.get("status") or {})
        if collision:
            st["collisionCount"] = collision
        conds = st.get("conditions") or []
        rsname = new["metadata"]["name"]
        min_avail = replicas - unavail
        if available >= min_avail:
            set_condition(conds, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.",
                          now, update_time=True)
        else:
            set_condition(conds, "Available", "False", "MinimumReplicasUnavailable",
                          "Deployment does not have minimum availability.", now, update_time=True)
        if complete:
            set_condition(conds, "Progressing", "True", "NewReplicaSetAvailable",
                          f'ReplicaSet "{rsname}" has successfully progressed.', now, update_time=True)
        elif not progressed and self.sim.t - since > deadline:
            set_condition(conds, "Progressing", "False", "ProgressDeadlineExceeded",
                          f'ReplicaSet "{rsname}" has timed out progressing.', now, update_time=True)
        elif created_new:
            set_condition(conds, "Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{rsname}"',
                          now, update_time=True, progress=True)
        elif progressed:
            set_condition(conds, "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rsname}" is progressing.',
                          now, update_time=True, progress=True)
        else:
            cur = next((c for c in conds if c.get("type") == "Progressing"), None)
            if cur is None or cur.get("reason") == "NewReplicaSetAvailable":
                set_condition(conds, "Progressing", "True", "ReplicaSetUpdated",
                              f'ReplicaSet "{rsname}" is progressing.', now, update_time=True, progress=True)
            if not complete and self.sim.t - since <= deadline:
                self.sim.schedule(deadline - (self.sim.t - since) + 0.01,
                                  lambda: self.dirty["deployments"].add((ns, name)), dedupe=("deadline", uid))
        conds.sort(key=lambda c: {"Available": 0, "Progressing": 1}.get(c.get("type"), 2))
        st.update(observedGeneration=d["metadata"].get("generation", 1), replicas=total, updatedReplicas=updated,
                  readyReplicas=ready, availableReplicas=available, conditions=conds)
        unav = max(0, replicas - available) if total or replicas else 0
        if unav:
            st["unavailableReplicas"] = unav
        else:
            st.pop("unavailableReplicas", None)
        for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            if not st.get(k):
                st.pop(k, None)
        if st != d.get("status"):
            self.state.mutate("deployments", ns, name, lambda o: o.__setitem__("status", st))

    # ---------------------------------------------------------------- Argo Rollout
