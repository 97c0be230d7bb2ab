"""ReplicaSet controller: pods to the replica count, oldest-first scale-down, adoption."""

from __future__ import annotations

import random
from tui.demo.state import AlreadyExists
from tui.demo.state import NotFound
from tui.kube.timestamps import parse_time as parse_ts
from tui.demo.controllers.base import ARGO_HASH, orjson_clone, owner_ref, pod_ready, pod_spec, qos_class, suffix


class ReplicaSets:
    """Mixin of Controllers: the ReplicaSet controller and the ReplicaSet helpers Deployments and Rollouts use."""

    def reconcile_replicaset(self, rs: dict) -> None:
        meta = rs["metadata"]
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta["namespace"], meta["name"]
        spec = rs.get("spec") or {}
        want = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        counts = self.rs_counts.setdefault(meta["uid"], [0, 0])
        diff = counts[0] - want
        tmpl = spec.get("template") or {}
        if diff < 0:
            rng = random.Random(f"{self.sim.seed}/{ns}/{name}/{self.sim.pod_serial(ns, name)}")
            pspec = pod_spec(tmpl.get("spec") or {})
            for _ in range(-diff):
                pname = self._pod_name(ns, name, rng)
                pod = {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": pname, "namespace": ns,
                                    "labels": dict((tmpl.get("metadata") or {}).get("labels") or {}),
                                    "ownerReferences": [owner_ref(rs)]},
                       "spec": pspec, "status": {"phase": "Pending", "qosClass": qos_class(pspec)}}
                ann = (tmpl.get("metadata") or {}).get("annotations")
                if ann:
                    pod["metadata"]["annotations"] = dict(ann)
                try:
                    self.state.create(pod)
                except AlreadyExists:
                    continue
                self.events.emit(rs, "SuccessfulCreate", f"Created pod: {pname}", component="replicaset-controller")
        elif diff > 0:
            pods = self.owned_by(rs, "pods")
            active = [p for p in pods if not p["metadata"].get("deletionTimestamp")
                      and (p.get("status") or {}).get("phase") not in ("Failed", "Succeeded")]

            def rank(p):
                # the controller deletes the least useful pods first: unscheduled, pending, not ready, newest
                st = p.get("status") or {}
                return (bool((p.get("spec") or {}).get("nodeName")), st.get("phase") == "Running", pod_ready(p),
                        -(parse_ts(p["metadata"].get("creationTimestamp")) or 0), p["metadata"]["name"])
            for p in sorted(active, key=rank)[:diff]:
                try:
                    self.state.delete("pods", ns, p["metadata"]["name"])
                except NotFound:
                    continue
                self.events.emit(rs, "SuccessfulDelete", f"Deleted pod: {p['metadata']['name']}",
                                 component="replicaset-controller")
        active, ready = counts
        status = {"replicas": active, "fullyLabeledReplicas": active, "readyReplicas": ready,
                  "availableReplicas": ready, "observedGeneration": meta.get("generation", 1)}
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
        if rs.get("status") != status:
            self.state.mutate("replicasets", ns, name, lambda o: o.__setitem__("status", status))

    def _pod_name(self, ns: str, base: str, rng: random.Random) -> str:  # noqa: E301
        while True:
            n = f"{base}-{suffix(rng)}"
            if self.state.get("pods", ns, n) is None:
                return n

    def new_rs(self, owner: dict, hash_label: str, h: str, revision: int, replicas: int,
                extra_ann: dict | None = None) -> dict:
        meta = owner["metadata"]
        tmpl = orjson_clone((owner.get("spec") or {}).get("template") or {})
        tm = tmpl.setdefault("metadata", {})
        tm.setdefault("labels", {})[hash_label] = h
        sel = orjson_clone((owner.get("spec") or {}).get("selector") or {})
        sel.setdefault("matchLabels", {})[hash_label] = h
        ann = {("rollout.argoproj.io/revision" if hash_label == ARGO_HASH else "deployment.kubernetes.io/revision"): str(revision)}
        if extra_ann:
            ann.update(extra_ann)
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": f"{meta['name']}-{h}", "namespace": meta["namespace"],
                           "labels": dict(tm["labels"]), "annotations": ann, "ownerReferences": [owner_ref(owner)]},
              "spec": {"replicas": replicas, "selector": sel, "template": tmpl}}
        if (owner.get("spec") or {}).get("minReadySeconds"):
            rs["spec"]["minReadySeconds"] = owner["spec"]["minReadySeconds"]
        try:
            return self.state.create(rs)
        except AlreadyExists:
            return self.state.get("replicasets", meta["namespace"], rs["metadata"]["name"])

    def scale_rs(self, owner: dict, rs: dict, n: int, component: str = "deployment-controller",
                 annotations: dict | None = None) -> None:
        cur = int((rs.get("spec") or {}).get("replicas") or 0)
        ann_now = (rs["metadata"].get("annotations") or {})
        ann_need = {k: v for k, v in (annotations or {}).items() if ann_now.get(k) != v}
        if cur == n and not ann_need:
            return

        def fn(o):
            o["spec"]["replicas"] = n
            if ann_need:
                o["metadata"].setdefault("annotations", {}).update(ann_need)
        self.state.mutate("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"], fn)
        if cur != n:
            word = "up" if n > cur else "down"
            self.events.emit(owner, "ScalingReplicaSet",
                             f"Scaled {word} replica set {rs['metadata']['name']} to {n} from {cur}", component=component)

    # ---------------------------------------------------------------- Deployment
