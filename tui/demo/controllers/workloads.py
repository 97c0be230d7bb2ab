"""The StatefulSet, DaemonSet and Job controllers of the demo cluster: they create pods (which the kubelet
in controllers.py runs, as it runs a ReplicaSet's) and keep their owners' status.

- StatefulSet: pods `<name>-0` … `<name>-N-1`, one at a time in order (OrderedReady: the next once the
  previous is Running and Ready; Parallel: all at once), the highest ordinal removed first on scale-down;
  a changed template replaces the pods from the highest ordinal down, one at a time (down to `partition`).
- DaemonSet: one pod per node, bound to it; a changed template replaces them one at a time.
- Job: `parallelism` pods at a time until `completions` have succeeded (the kubelet ends a pod whose
  restartPolicy is Never or OnFailure with exit code 0 once it has run); then the Complete condition.
"""
from __future__ import annotations

import hashlib
import random
from typing import TYPE_CHECKING

from tui.demo.controllers.base import NODES, owner_ref, pod_ready, pod_spec, qos_class, rfc3339
from tui.demo.state import AlreadyExists, NotFound, StateError

if TYPE_CHECKING:
    from tui.demo.controllers.core import Controllers

OWNED = {"StatefulSet": "statefulsets", "DaemonSet": "daemonsets", "Job": "jobs"}


def _revision(obj: dict) -> str:
    import orjson  # noqa: PLC0415
    tmpl = (obj.get("spec") or {}).get("template") or {}
    h = hashlib.sha256(orjson.dumps(tmpl, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{obj['metadata']['name']}-{int(h[:8], 16) % 10**10:x}"


class Workloads:
    def __init__(self, ctl: "Controllers"):
        self.ctl = ctl
        self.state = ctl.state
        self.sim = ctl.sim
        self.dirty: dict[str, set[tuple[str, str]]] = {r: set() for r in OWNED.values()}

    # ---------------------------------------------------------------- change feed
    def on_change(self, etype: str, res: str, obj: dict, old: dict | None) -> None:
        if res in self.dirty:
            if etype != "DELETED":
                m = obj.get("metadata") or {}
                self.dirty[res].add((m.get("namespace") or "", m.get("name") or ""))
        elif res == "pods":
            for o in (obj, old):
                for ref in ((o or {}).get("metadata") or {}).get("ownerReferences") or ():
                    r = OWNED.get(ref.get("kind")) if ref.get("controller") else None
                    if r:
                        self.dirty[r].add(((o.get("metadata") or {}).get("namespace") or "", ref.get("name")))
        elif res == "nodes":
            for o in self.state.list("daemonsets")[0]:
                self.dirty["daemonsets"].add((o["metadata"].get("namespace") or "", o["metadata"]["name"]))

    def prime(self) -> None:
        for res in self.dirty:
            for o in self.state.list(res)[0]:
                self.dirty[res].add((o["metadata"].get("namespace") or "", o["metadata"]["name"]))

    def reconcile(self) -> bool:
        busy = False
        for res, fn in (("statefulsets", self.reconcile_statefulset), ("daemonsets", self.reconcile_daemonset),
                        ("jobs", self.reconcile_job)):
            if not self.dirty[res]:
                continue
            busy = True
            keys, self.dirty[res] = self.dirty[res], set()
            for ns, name in sorted(keys):
                obj = self.state.get(res, ns, name)
                if obj is None or obj["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    fn(obj)
                except StateError as e:
                    self.sim.note_error(f"{res} {ns}/{name}: {e.message}")
        return busy

    # ---------------------------------------------------------------- helpers
    def _pods(self, owner: dict) -> list[dict]:
        return [p for p in self.ctl.owned_by(owner, "pods") if not p["metadata"].get("deletionTimestamp")]

    def _create_pod(self, owner: dict, name: str, labels: dict, component: str, *, node: str | None = None,
                    hostname: str | None = None, subdomain: str | None = None) -> None:
        tmpl = (owner.get("spec") or {}).get("template") or {}
        spec = pod_spec(tmpl.get("spec") or {})
        if node:
            spec["nodeName"] = node
        if hostname:
            spec["hostname"] = hostname
        if subdomain:
            spec["subdomain"] = subdomain
        meta = {"name": name, "namespace": owner["metadata"]["namespace"],
                "labels": dict((tmpl.get("metadata") or {}).get("labels") or {}, **labels),
                "ownerReferences": [owner_ref(owner)]}
        ann = (tmpl.get("metadata") or {}).get("annotations")
        if ann:
            meta["annotations"] = dict(ann)
        try:
            self.state.create({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
                               "status": {"phase": "Pending", "qosClass": qos_class(spec)}})
        except AlreadyExists:
            return
        kind = owner.get("kind")
        msg = (f"create Pod {name} in StatefulSet {owner['metadata']['name']} successful" if kind == "StatefulSet"
               else f"Created pod: {name}")
        self.ctl.events.emit(owner, "SuccessfulCreate", msg, component=component)

    def _delete_pod(self, owner: dict, pod: dict, component: str) -> None:
        name = pod["metadata"]["name"]
        try:
            self.state.delete("pods", pod["metadata"]["namespace"], name)
        except NotFound:
            return
        kind = owner.get("kind")
        msg = (f"delete Pod {name} in StatefulSet {owner['metadata']['name']} successful" if kind == "StatefulSet"
               else f"Deleted pod: {name}")
        self.ctl.events.emit(owner, "SuccessfulDelete", msg, component=component)

    def _settled(self, owner: dict, want: int) -> bool:
        """Every pod there, Ready, none terminating: the moment a rolling update may take the next one."""
        owned = self.ctl.owned_by(owner, "pods")
        return (len(owned) == want and not any(p["metadata"].get("deletionTimestamp") for p in owned)
                and all(pod_ready(p) for p in owned))

    def _set_status(self, res: str, obj: dict, status: dict) -> None:
        if obj.get("status") != status:
            m = obj["metadata"]
            self.state.mutate(res, m.get("namespace"), m["name"], lambda o: o.__setitem__("status", status))

    # ---------------------------------------------------------------- StatefulSet
    def reconcile_statefulset(self, sts: dict) -> None:
        meta, spec = sts["metadata"], sts.get("spec") or {}
        name = meta["name"]
        want = int(spec.get("replicas") if spec.get("replicas") is not None else 1)
        rev = _revision(sts)
        pods = {p["metadata"]["name"]: p for p in self._pods(sts)}
        parallel = spec.get("podManagementPolicy") == "Parallel"
        created = False
        for i in range(want):
            pname = f"{name}-{i}"
            if pname in pods:
                if not parallel and not pod_ready(pods[pname]):
                    break  # OrderedReady: the next ordinal waits for this one
                continue
            self._create_pod(sts, pname, {"statefulset.kubernetes.io/pod-name": pname,
                                          "apps.kubernetes.io/pod-index": str(i), "controller-revision-hash": rev},
                             "statefulset-controller", hostname=pname, subdomain=spec.get("serviceName") or None)
            created = True
            if not parallel:
                break
        extra = sorted((p for n, p in pods.items() if _ordinal(n, name) >= want),
                       key=lambda p: -_ordinal(p["metadata"]["name"], name))
        for p in extra[:1] if not parallel else extra:
            self._delete_pod(sts, p, "statefulset-controller")
        strategy = spec.get("updateStrategy") or {}
        if not created and not extra and strategy.get("type", "RollingUpdate") == "RollingUpdate" \
                and self._settled(sts, want):
            # a changed template: replace the highest ordinal still on an old revision, one at a time
            partition = int(((strategy.get("rollingUpdate") or {}).get("partition")) or 0)
            old = sorted((p for n, p in pods.items() if _rev_of(p) != rev and _ordinal(n, name) >= partition),
                         key=lambda p: -_ordinal(p["metadata"]["name"], name))
            if old:
                self._delete_pod(sts, old[0], "statefulset-controller")
        live = self._pods(sts)
        ready = sum(1 for p in live if pod_ready(p))
        updated = sum(1 for p in live if _rev_of(p) == rev)
        olds = [_rev_of(p) for p in live if _rev_of(p) != rev]
        current = rev if not olds else max(set(olds), key=olds.count)
        status = {"observedGeneration": meta.get("generation", 1), "replicas": len(live), "readyReplicas": ready,
                  "currentReplicas": len(live) - updated if olds else len(live), "updatedReplicas": updated,
                  "availableReplicas": ready, "currentRevision": current, "updateRevision": rev,
                  "collisionCount": 0}
        self._set_status("statefulsets", sts, {k: v for k, v in status.items()
                                               if v or k in ("replicas", "observedGeneration", "availableReplicas")})

    # ---------------------------------------------------------------- DaemonSet
    def reconcile_daemonset(self, ds: dict) -> None:
        meta = ds["metadata"]
        nodes = [n["metadata"]["name"] for n in self.state.list("nodes")[0]] or [n[0] for n in NODES]
        rev = _revision(ds)
        pods = self._pods(ds)
        # a terminating pod still holds its node (maxSurge 0): its replacement comes once it is gone
        on = {(p.get("spec") or {}).get("nodeName"): p for p in self.ctl.owned_by(ds, "pods")}
        rng = random.Random(f"{self.sim.seed}/{meta['namespace']}/{meta['name']}/{len(pods)}")
        for node in nodes:
            if node not in on:
                self._create_pod(ds, self.ctl._pod_name(meta["namespace"], meta["name"], rng),
                                 {"controller-revision-hash": rev,
                                  "pod-template-generation": str(meta.get("generation", 1))},
                                 "daemonset-controller", node=node)
        for node, p in on.items():
            if node not in nodes:
                self._delete_pod(ds, p, "daemonset-controller")
        if len(on) == len(nodes) and self._settled(ds, len(nodes)):
            old = sorted((p for p in pods if _rev_of(p) != rev), key=lambda p: p["metadata"]["name"])
            if old:
                self._delete_pod(ds, old[0], "daemonset-controller")
        pods = self._pods(ds)
        ready = sum(1 for p in pods if pod_ready(p))
        status = {"currentNumberScheduled": len(pods), "desiredNumberScheduled": len(nodes), "numberMisscheduled": 0,
                  "numberReady": ready, "numberAvailable": ready,
                  "updatedNumberScheduled": sum(1 for p in pods if _rev_of(p) == rev),
                  "observedGeneration": meta.get("generation", 1)}
        if len(nodes) - ready:
            status["numberUnavailable"] = len(nodes) - ready
        self._set_status("daemonsets", ds, {k: v for k, v in status.items() if v or k != "numberAvailable"})

    # ---------------------------------------------------------------- Job
    def reconcile_job(self, job: dict) -> None:
        meta, spec = job["metadata"], job.get("spec") or {}
        st = dict(job.get("status") or {})
        conds = [c for c in st.get("conditions") or () if isinstance(c, dict)]
        if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conds):
            return
        pods = self._pods(job)
        phase = lambda p: (p.get("status") or {}).get("phase")  # noqa: E731
        succeeded = sum(1 for p in pods if phase(p) == "Succeeded")
        failed = sum(1 for p in pods if phase(p) == "Failed")
        active = [p for p in pods if phase(p) not in ("Succeeded", "Failed")]
        completions = spec.get("completions")
        need = (int(completions) if completions is not None else 1) - succeeded
        parallelism = int(spec.get("parallelism") if spec.get("parallelism") is not None else 1)
        now = rfc3339(self.sim.clock())
        if spec.get("suspend"):
            need = 0
        rng = random.Random(f"{self.sim.seed}/{meta['namespace']}/{meta['name']}/{len(pods)}")
        for _ in range(max(0, min(parallelism, need) - len(active))):
            self._create_pod(job, self.ctl._pod_name(meta["namespace"], meta["name"], rng),
                             {"batch.kubernetes.io/job-name": meta["name"], "job-name": meta["name"],
                              "batch.kubernetes.io/controller-uid": meta["uid"], "controller-uid": meta["uid"]},
                             "job-controller")
        active_n = len([p for p in self._pods(job) if phase(p) not in ("Succeeded", "Failed")])
        status: dict = {"startTime": st.get("startTime") or now, "active": active_n, "succeeded": succeeded,
                        "failed": failed, "ready": sum(1 for p in active if pod_ready(p)),
                        "uncountedTerminatedPods": {}, "terminating": 0}
        if need <= 0 and not spec.get("suspend"):
            status["completionTime"] = now
            status["conditions"] = [
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods", "lastProbeTime": now,
                 "lastTransitionTime": now},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods", "lastProbeTime": now,
                 "lastTransitionTime": now}]
            self.ctl.events.emit(job, "Completed", "Job completed", component="job-controller")
        status = {k: v for k, v in status.items() if v or k in ("startTime", "uncountedTerminatedPods", "ready",
                                                                  "terminating")}
        self._set_status("jobs", job, status)


def _rev_of(pod: dict) -> str:
    return ((pod.get("metadata") or {}).get("labels") or {}).get("controller-revision-hash") or ""


def _ordinal(pod_name: str, sts_name: str) -> int:
    tail = pod_name[len(sts_name) + 1:]
    return int(tail) if tail.isdigit() else -1
