"""The reconcile base: a change feed marks objects dirty; reconcile() works the dirty sets until quiet."""

from __future__ import annotations

from tui.demo.state import StateError
from typing import TYPE_CHECKING
from tui.demo.controllers.analysis import Analysis
from tui.demo.controllers.base import Recorder, controller_of, pod_ready
from tui.demo.controllers.deployment import Deployments
from tui.demo.controllers.endpoints import Services, _SvcCache
from tui.demo.controllers.flagger import CANARIES, Flagger
from tui.demo.controllers.experiment import EXPERIMENTS, Experiments
from tui.demo.controllers.kubelet import Kubelet
from tui.demo.controllers.replicaset import ReplicaSets
from tui.demo.controllers.rollout import Rollouts
from tui.demo.controllers.veritas import Veritas

if TYPE_CHECKING:  # pragma: no cover
    from tui.demo.sim import Simulation  # noqa: F401

class Controllers(ReplicaSets, Deployments, Rollouts, Services, Veritas, Flagger, Analysis, Experiments):
    """All simulated controllers over one ClusterState; `reconcile()` works until nothing is dirty."""

    WORKLOADS = ("deployments", "replicasets", "rollouts")

    def __init__(self, sim: "Simulation"):
        self.sim = sim
        self.state = sim.state
        self.events = Recorder(sim)
        self.kubelet = Kubelet(self)
        self.dirty: dict[str, set] = {r: set() for r in ("deployments", "replicasets", "rollouts", "services", "pods",
                                                         CANARIES, "analysisruns", "experiments")}
        self.new_pods: list[dict] = []
        self.owned: dict[str, set[tuple[str, str, str]]] = {}  # controller uid -> {(res, ns, name)}
        self.svc_by_ns: dict[str, set[str]] = {}
        self.eff_selector: dict[tuple[str, str], dict | None] = {}
        self.pending_selector: dict[tuple[str, str], tuple[dict | None, float]] = {}
        self.deploy_progress: dict[str, tuple[tuple, float]] = {}
        self.rollout_pause_start: dict[tuple[str, int], float] = {}
        self.workload_refs: dict[tuple[str, str], str] = {}  # (ns, Deployment) -> the Rollout whose workloadRef names it
        self.served: dict[tuple[str, str], set] = {}
        self.svc_cache: dict[tuple[str, str], _SvcCache] = {}
        self.svc_dirty_pods: dict[tuple[str, str], set[str]] = {}
        self._own_deletes: set[tuple[str, str]] = set()
        self.rs_counts: dict[str, list[int]] = {}  # ReplicaSet uid -> [active pods, ready pods]
        self.wake_pending = False
        self.dirty["veritas"] = set()  # (resource key, ns, name) of VeritasCanary / VeritasEnvironment objects
        self.veritas_by_ns: dict[str, dict] = {}
        self.veritas_memo: dict[str, dict] = {}
        # Flagger (flagger.py): Canary uid -> (job token, interval); metric samples; routes; last values; id draws
        self.flagger_jobs: dict[str, tuple[object, float]] = {}
        self.flagger_samples: dict[str, list] = {}
        self.flagger_routes: dict[str, tuple[int, int, bool]] = {}
        self.flagger_last: dict[tuple[str, str], float] = {}
        self.flagger_ids = 0
        from tui.demo.controllers.workloads import Workloads  # noqa: PLC0415 - workloads imports this module
        self.workloads = Workloads(self)  # StatefulSet, DaemonSet, Job

    # ---------------------------------------------------------------- change feed
    def on_change(self, etype: str, res: str, obj: dict, old: dict | None) -> None:
        if res == "events":
            return
        self.workloads.on_change(etype, res, obj, old)
        self.veritas_on_change(etype, res, obj)
        meta = obj.get("metadata") or {}
        ns, name = meta.get("namespace") or "", meta.get("name") or ""
        ref = controller_of(obj)
        old_ref = controller_of(old) if old else None
        if ref or old_ref:
            if etype == "DELETED":
                if ref:
                    self.owned.get(ref["uid"], set()).discard((res, ns, name))
            else:
                if old_ref and (not ref or old_ref.get("uid") != ref.get("uid")):
                    self.owned.get(old_ref["uid"], set()).discard((res, ns, name))
                if ref:
                    self.owned.setdefault(ref["uid"], set()).add((res, ns, name))
            for r in (ref, old_ref):
                if r:
                    kind_res = {"ReplicaSet": "replicasets", "Deployment": "deployments", "Rollout": "rollouts",
                                "Experiment": "experiments"}.get(r.get("kind"))
                    if kind_res:
                        self.dirty[kind_res].add((ns, r.get("name")))
        if res == "pods":
            self._count_pod(etype, obj, old)
            if etype == "DELETED":
                self.kubelet.forget((ns, name))
                self.sim.pod_removed((ns, name))
            elif etype == "ADDED" or (ns, name) not in self.kubelet.pods:
                self.new_pods.append(obj)
            else:
                self.dirty["pods"].add((ns, name))
                if old is not None and (old.get("metadata") or {}).get("labels") != meta.get("labels"):
                    self.sim.pod_labels_changed((ns, name), obj)
            for s in self.svc_by_ns.get(ns, ()):
                self.dirty["services"].add((ns, s))
                self.svc_dirty_pods.setdefault((ns, s), set()).add(name)
        elif res in ("deployments", "replicasets", "rollouts"):
            if res == "deployments" and (ns, name) in self.workload_refs:
                self.dirty["rollouts"].add((ns, self.workload_refs[(ns, name)]))
            if etype == "DELETED":
                self.owned.pop(meta.get("uid"), None)
            else:
                self.dirty[res].add((ns, name))
        elif res == "services":
            if etype == "DELETED":
                self.svc_by_ns.get(ns, set()).discard(name)
                self.eff_selector.pop((ns, name), None)
                self.pending_selector.pop((ns, name), None)
                self.served.pop((ns, name), None)
                self.svc_cache.pop((ns, name), None)
                self.svc_dirty_pods.pop((ns, name), None)
                self.sim.served_changed(ns, name, set())
            else:
                self.svc_by_ns.setdefault(ns, set()).add(name)
                self.dirty["services"].add((ns, name))
        elif res in ("endpointslices", "endpoints") and etype == "DELETED":
            svc = ((meta.get("labels") or {}).get("kubernetes.io/service-name") if res == "endpointslices" else name)
            if svc:
                self.dirty["services"].add((ns, svc))
                if res == "endpointslices" and (ns, name) not in self._own_deletes:
                    self.svc_cache.pop((ns, svc), None)  # someone deleted our slice: rebuild it
        elif res == CANARIES:
            if etype == "DELETED":
                self.forget_canary(meta.get("uid"))
            else:
                self.dirty[CANARIES].add((ns, name))
        elif res in ("virtualservices", "ingresses", "destinationrules.networking.istio.io",
                     "trafficsplits.split.smi-spec.io"):
            self.sim.routing_changed(ns)  # the traffic model follows the router's weights
        elif res == "analysisruns":
            if etype != "DELETED":
                self.dirty["analysisruns"].add((ns, name))
        elif res == EXPERIMENTS:
            if etype != "DELETED":
                self.dirty["experiments"].add((ns, name))
        elif res in ("configmaps", "secrets"):
            pass  # the kubelet re-reads them on its next retry, as a real one does
        self.sim.wake()

    def _count_pod(self, etype: str, obj: dict, old: dict | None) -> None:
        """Keep each ReplicaSet's (active, ready) pod counts, so its status costs O(1) per pod change."""
        for o, sign in ((old, -1), (obj if etype != "DELETED" else None, 1), (obj if etype == "DELETED" else None, -1)):
            if o is None:
                continue
            ref = controller_of(o)
            if not ref or ref.get("kind") != "ReplicaSet":
                continue
            m = o["metadata"]
            if m.get("deletionTimestamp") or (o.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
                continue
            c = self.rs_counts.setdefault(ref["uid"], [0, 0])
            c[0] += sign
            if pod_ready(o):
                c[1] += sign

    def prime(self) -> None:
        """Objects that existed before we subscribed (a restored cluster) enter the indexes as if just added."""
        for res in ("replicasets", "deployments", "rollouts", "services", "pods", "analysisruns", EXPERIMENTS):
            if res == EXPERIMENTS and res not in self.state.kinds:
                continue
            for o in self.state.list(res)[0]:
                self.on_change("ADDED", res, o, None)
        if CANARIES in self.state.kinds:
            for o in self.state.list(CANARIES)[0]:
                self.on_change("ADDED", CANARIES, o, None)
        self.workloads.prime()
        for res in self.veritas_prime():
            for o in self.state.list(res)[0]:
                self.veritas_on_change("ADDED", res, o)

    def owned_by(self, obj: dict, res: str) -> list[dict]:
        uid = obj["metadata"].get("uid")
        out = []
        for r, ns, name in list(self.owned.get(uid, ())):
            if r == res:
                o = self.state.get(res, ns, name)
                if o is not None:
                    out.append(o)
        return out

    # ---------------------------------------------------------------- the loop
    def reconcile(self, rounds: int = 20) -> None:
        for _ in range(rounds):
            busy = False
            if self.new_pods:
                pods, self.new_pods = self.new_pods, []
                for p in pods:
                    busy = True
                    cur = self.state.get("pods", p["metadata"].get("namespace"), p["metadata"]["name"])
                    if cur is not None:
                        self.kubelet.adopt(cur)
            if self.dirty["pods"]:
                keys, self.dirty["pods"] = self.dirty["pods"], set()
                for ns, name in keys:
                    p = self.state.get("pods", ns, name)
                    if p is not None:
                        self.kubelet.pod_changed(p, None)
            for res, fn in (("rollouts", self.reconcile_rollout), ("deployments", self.reconcile_deployment),
                            ("replicasets", self.reconcile_replicaset), ("services", self.reconcile_service),
                            (CANARIES, self.reconcile_canary), ("analysisruns", self.reconcile_analysisrun),
                            ("experiments", self.reconcile_experiment)):
                if self.dirty[res]:
                    busy = True
                    keys, self.dirty[res] = self.dirty[res], set()
                    for ns, name in sorted(keys):
                        obj = self.state.get(EXPERIMENTS if res == "experiments" else res, ns, name)
                        if obj is not None:
                            try:
                                fn(obj)
                            except StateError as e:
                                self.sim.note_error(f"{res} {ns}/{name}: {e.message}")
            if self.workloads.reconcile():
                busy = True
            if self.reconcile_veritas():
                busy = True
            if not busy:
                return

    def resync(self) -> None:
        for res in ("deployments", "rollouts", "replicasets", "services"):
            for o in self.state.list(res)[0]:
                m = o["metadata"]
                self.dirty[res].add((m.get("namespace") or "", m["name"]))

    # ---------------------------------------------------------------- ReplicaSet
