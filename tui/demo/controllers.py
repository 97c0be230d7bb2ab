"""The demo cluster's simulated controllers: Deployment, ReplicaSet, Argo Rollout, endpoints and the kubelet.

They react to the object store (`ClusterState.on_change` marks objects dirty; `Controllers.reconcile`
works the dirty sets until quiet) and to scheduled moments of scenario time (pod start-up, probes,
back-off). They write what the real controllers write, so kubectl, `kubectl rollout status`, and
Lookout see a cluster, not a mock-up. Pods' lifecycle times run on scenario time (compressed by the
speed); every timestamp they write is wall-clock.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import random
import re
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from tui.demo.scenario import ImageBehaviour
from tui.demo.state import AlreadyExists, NotFound, StateError
from tui.kube.quantities import parse_quantity
from tui.kube.timestamps import parse_time as _parse_ts  # sim.py reads it here too
from tui.kube.selectors import SelectorError, selector_from_dict

if TYPE_CHECKING:  # pragma: no cover
    from tui.demo.sim import Simulation

ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
ARGO_HASH = "rollouts-pod-template-hash"
DEPLOY_HASH = "pod-template-hash"
CHANGED_AT = "lookout.dev/changed-at"
BEHAVIOUR_ANNOTATION = "demo.lookout.dev/behaviour"  # user manifests: ok | crash | imagepull | oom | notready
CRASH_MESSAGE_ANNOTATION = "demo.lookout.dev/crash-message"
NODES = (("demo-worker-1", "172.18.0.2", "demo-a"), ("demo-worker-2", "172.18.0.3", "demo-b"),
         ("demo-worker-3", "172.18.0.4", "demo-c"))
BACKOFF_START, BACKOFF_CAP = 10.0, 300.0
SLICE_MAX = 100
ENDPOINTS_MAX = 1000


def rfc3339(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def template_hash(template: dict, collision: int = 0) -> str:
    """A stable pod-template hash in the alphabet kube uses (same template, same hash)."""
    t = dict(template or {})
    meta = dict(t.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in (ARGO_HASH, DEPLOY_HASH)}
    meta["labels"] = labels
    t["metadata"] = meta
    import orjson  # noqa: PLC0415
    digest = hashlib.sha256(orjson.dumps(t, option=orjson.OPT_SORT_KEYS) + str(collision).encode()).digest()
    n = int.from_bytes(digest[:8], "big")
    out = []
    for _ in range(10):
        n, r = divmod(n, len(ALPHABET))
        out.append(ALPHABET[r])
    return "".join(out)


def suffix(rng: random.Random, n: int = 5) -> str:
    """A random name suffix in kube's alphabet (one draw, not one per letter: 10,000 pods start fast)."""
    x = rng.getrandbits(32)
    out = []
    for _ in range(n):
        x, r = divmod(x, 27)
        out.append(ALPHABET[r])
    return "".join(out)


def int_or_percent(v, total: int, default: str, round_up: bool) -> int:
    if v is None:
        v = default
    if isinstance(v, str) and v.endswith("%"):
        x = float(v[:-1]) * total / 100.0
        return int(math.ceil(x)) if round_up else int(math.floor(x))
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def parse_duration(v) -> float | None:
    if v is None or v == "":
        return None
    if isinstance(v, (int, float)):
        return float(v)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", str(v))
    if not m:
        return None
    x = float(m.group(1))
    return x * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def selector_matches(sel: dict | None, labels: dict | None) -> bool:
    if not sel:
        return False
    labels = labels or {}
    for k, v in sel.items():
        if labels.get(k) != v:
            return False
    return True


def label_selector_matches(sel: dict | None, labels: dict | None) -> bool:
    """metav1.LabelSelector (matchLabels + matchExpressions); no selector selects nothing."""
    if not sel:
        return False
    try:
        return selector_from_dict(sel).matches(labels)
    except SelectorError:  # an operator the API would have refused: select nothing, as controllers do
        return False


def selector_string(sel: dict | None) -> str:
    ml = (sel or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(ml.items()))


def owner_ref(obj: dict) -> dict:
    m = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": m["name"], "uid": m["uid"],
            "controller": True, "blockOwnerDeletion": True}


def controller_of(obj: dict) -> dict | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def set_condition(conds: list, ctype: str, status: str, reason: str, message: str, now: str,
                  *, update_time: bool = False, progress: bool = False) -> None:
    """Set one condition; lastTransitionTime changes only when the status does (as the apiserver's helpers do)."""
    for c in conds:
        if c.get("type") == ctype:
            if c.get("status") != status:
                c["lastTransitionTime"] = now
            if update_time and (c.get("reason") != reason or progress):
                c["lastUpdateTime"] = now
            c.update(status=status, reason=reason, message=message)
            return
    c = {"type": ctype, "status": status, "reason": reason, "message": message, "lastTransitionTime": now}
    if update_time:
        c["lastUpdateTime"] = now
    conds.append(c)


# ============================================================================================== events

class Recorder:
    """Core/v1 Events as components emit them; a repeat of the same event bumps its count."""

    def __init__(self, sim: "Simulation", limit: int = 5000):
        self.sim = sim
        self.limit = limit
        self._by_key: dict[tuple, tuple[str, str]] = {}
        self._order: list[tuple[str, str, tuple]] = []
        self._n = 0
        self.enabled = True

    def emit(self, obj: dict, reason: str, message: str, *, type: str = "Normal", component: str = "kubelet",
             host: str | None = None, field_path: str | None = None) -> None:
        if not self.enabled:
            return
        state = self.sim.state
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        now = self.sim.clock()
        ts = rfc3339(now)
        key = (meta.get("uid"), reason, message, component, field_path)
        have = self._by_key.get(key)
        if have is not None:
            def bump(e):
                e["count"] = int(e.get("count") or 1) + 1
                e["lastTimestamp"] = ts
            if state.mutate("events", have[0], have[1], bump) is not None:
                return
        self._n += 1
        name = "%s.%016x" % (meta.get("name") or "unknown", (int(now * 1e9) + self._n) & 0xFFFFFFFFFFFFFFFF)
        inv = {"kind": obj.get("kind"), "namespace": ns, "name": meta.get("name"), "uid": meta.get("uid"),
               "apiVersion": obj.get("apiVersion"), "resourceVersion": meta.get("resourceVersion")}
        if field_path:
            inv["fieldPath"] = field_path
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": name, "namespace": ns},
              "involvedObject": inv, "reason": reason, "message": message, "type": type,
              "source": {"component": component} | ({"host": host} if host else {}),
              "firstTimestamp": ts, "lastTimestamp": ts, "count": 1, "eventTime": None,
              "reportingComponent": component, "reportingInstance": host or ""}
        try:
            state.create(ev)
        except StateError:
            return
        self._by_key[key] = (ns, name)
        self._order.append((ns, name, key))
        if len(self._order) > self.limit:
            old_ns, old_name, old_key = self._order.pop(0)
            self._by_key.pop(old_key, None)
            try:
                state.delete("events", old_ns, old_name)
            except StateError:
                pass


# ============================================================================================== kubelet

@dataclass
class ContainerSim:
    name: str
    image: str
    behaviour: ImageBehaviour
    phase: str = "waiting"  # waiting | running | terminated
    reason: str = "ContainerCreating"
    message: str = ""
    restarts: int = 0
    started_at: float | None = None
    ready: bool = False
    container_id: str = ""
    image_id: str = ""
    last_term: dict | None = None
    term: dict | None = None  # current terminated state
    backoff: float = 0.0
    pulled: bool = False
    epoch: int = 0  # bumps on every transition; scheduled callbacks of an older epoch are stale


@dataclass
class PodSim:
    ns: str
    name: str
    uid: str
    node: str = ""
    host_ip: str = ""
    ip: str = ""
    phase: str = "Pending"
    stage: str = "new"  # new | scheduled | creating | running | terminating
    start_time: float | None = None
    cond_times: dict = field(default_factory=dict)
    containers: list[ContainerSim] = field(default_factory=list)
    track: str | None = None
    qos: str = "BestEffort"
    unhealthy_since: float | None = None


def qos_class(spec: dict) -> str:
    reqs, lims, any_set, guaranteed = [], [], False, True
    for c in spec.get("containers") or ():
        r = (c.get("resources") or {})
        req, lim = r.get("requests") or {}, r.get("limits") or {}
        if req or lim:
            any_set = True
        for res in ("cpu", "memory"):
            if res not in lim or (res in req and parse_quantity(req[res]) != parse_quantity(lim[res])):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


class Kubelet:
    """Pod lifecycle on the simulated nodes: schedule, pull, create, start, probe, crash, back off, stop."""

    def __init__(self, ctl: "Controllers"):
        self.ctl = ctl
        self.sim = ctl.sim
        self.pods: dict[tuple[str, str], PodSim] = {}
        self._ips: set[str] = set()

    # ---------------------------------------------------------------- helpers
    def behaviour_for(self, pod: dict, image: str) -> ImageBehaviour:
        ann = (pod.get("metadata") or {}).get("annotations") or {}
        b = ann.get(BEHAVIOUR_ANNOTATION)
        base = self.sim.scenario.images.get(image) if self.sim.scenario else None
        if b:
            msg = ann.get(CRASH_MESSAGE_ANNOTATION)
            return ImageBehaviour(behaviour=b if b in ("ok", "crash", "imagepull", "oom", "notready") else "ok",
                                  crash_log=(msg,) if msg else (base.crash_log if base else ()))
        return base or ImageBehaviour()

    def node_for(self, name: str) -> tuple[str, str, str]:
        return NODES[zlib.crc32(f"{self.sim.seed}/{name}".encode()) % len(NODES)]

    def alloc_ip(self, name: str, node: str) -> str:
        ni = [n[0] for n in NODES].index(node) if node in [n[0] for n in NODES] else 0
        cap = 64 * 254
        start = zlib.crc32(f"{self.sim.seed}/ip/{name}".encode()) % cap
        for i in range(cap):
            k = (start + i) % cap
            ip = f"10.244.{ni * 64 + k // 254}.{k % 254 + 1}"
            if ip not in self._ips:
                self._ips.add(ip)
                return ip
        return "10.244.255.254"

    def _cid(self, ps: PodSim, c: ContainerSim) -> str:
        return "containerd://" + hashlib.sha256(f"{ps.uid}/{c.name}/{c.restarts}/{c.epoch}".encode()).hexdigest()

    @staticmethod
    def image_id(image: str) -> str:
        repo = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
        return f"{repo}@sha256:" + hashlib.sha256(image.encode()).hexdigest()

    def _at(self, delay: float, ps: PodSim, c: ContainerSim | None, fn: Callable[[], None]) -> None:
        """Run fn after `delay` scenario seconds unless the pod or container moved on meanwhile."""
        epoch = c.epoch if c is not None else None
        key = (ps.ns, ps.name)

        def run():
            if self.pods.get(key) is not ps:
                return
            if c is not None and c.epoch != epoch:
                return
            fn()
        self.sim.schedule(delay, run)

    # ---------------------------------------------------------------- status
    def render(self, ps: PodSim, pod: dict) -> dict:
        now = rfc3339(self.sim.clock())
        spec = pod.get("spec") or {}
        st: dict[str, Any] = {"phase": ps.phase}
        conds = []

        def cond(t, ok, reason=None, message=None):
            key = (t, ok)
            if ps.cond_times.get(t, (None,))[0] != ok:
                ps.cond_times[t] = (ok, now)
            c = {"type": t, "status": "True" if ok else "False", "lastProbeTime": None,
                 "lastTransitionTime": ps.cond_times[t][1]}
            if reason:
                c["reason"] = reason
            if message:
                c["message"] = message
            conds.append(c)
            return key

        if ps.stage != "new":
            cond("PodReadyToStartContainers", ps.stage in ("creating", "running", "terminating") and bool(ps.ip))
            cond("Initialized", True)
            not_ready = [c.name for c in ps.containers if not c.ready]
            if not_ready or ps.stage == "terminating":
                msg = f"containers with unready status: [{' '.join(not_ready)}]" if not_ready else None
                cond("Ready", False, "ContainersNotReady" if not_ready else "PodCompleted", msg)
                cond("ContainersReady", False, "ContainersNotReady" if not_ready else "PodCompleted", msg)
            else:
                cond("Ready", True)
                cond("ContainersReady", True)
            cond("PodScheduled", True)
            st["conditions"] = conds
            st["hostIP"] = ps.host_ip
            st["hostIPs"] = [{"ip": ps.host_ip}]
        if ps.ip:
            st["podIP"] = ps.ip
            st["podIPs"] = [{"ip": ps.ip}]
        if ps.start_time is not None:
            st["startTime"] = rfc3339(ps.start_time)
        if ps.stage != "new":
            st["containerStatuses"] = [self._container_status(c) for c in ps.containers]
        st["qosClass"] = ps.qos
        return st

    def _container_status(self, c: ContainerSim) -> dict:
        if c.phase == "running":
            state = {"running": {"startedAt": rfc3339(c.started_at or self.sim.clock())}}
        elif c.phase == "terminated" and c.term:
            state = {"terminated": c.term}
        else:
            w = {"reason": c.reason}
            if c.message:
                w["message"] = c.message
            state = {"waiting": w}
        cs = {"name": c.name, "state": state, "lastState": {"terminated": c.last_term} if c.last_term else {},
              "ready": c.ready, "restartCount": c.restarts, "image": c.image,
              "imageID": c.image_id, "started": c.phase == "running"}
        if c.container_id:
            cs["containerID"] = c.container_id
        return cs

    def write(self, ps: PodSim) -> None:
        key = (ps.ns, ps.name)

        def fn(pod):
            pod["status"] = self.render(ps, pod)
            if ps.node and not (pod.get("spec") or {}).get("nodeName"):
                pod.setdefault("spec", {})["nodeName"] = ps.node
        self.sim.state.mutate("pods", key[0], key[1], fn)

    # ---------------------------------------------------------------- entry points
    def adopt(self, pod: dict) -> None:
        """A pod the kubelet has not seen: one created by a controller, a user, or restored from disk."""
        meta = pod["metadata"]
        key = (meta.get("namespace") or "default", meta["name"])
        if key in self.pods:
            return
        spec = pod.get("spec") or {}
        ps = PodSim(ns=key[0], name=key[1], uid=meta.get("uid", ""), qos=qos_class(spec))
        for cspec in spec.get("containers") or ():
            img = cspec.get("image") or ""
            ps.containers.append(ContainerSim(cspec.get("name") or "app", img, self.behaviour_for(pod, img),
                                              image_id=""))
        self.pods[key] = ps
        self.ctl.sim.pod_added(key, pod)
        st = pod.get("status") or {}
        if st.get("phase") == "Running" and spec.get("nodeName") and st.get("podIP"):
            self._adopt_running(ps, pod)
            return
        if meta.get("deletionTimestamp"):
            self.sim.state.delete("pods", key[0], key[1], grace_period=0)
            return
        self._at(0.1, ps, None, lambda: self._schedule(ps))

    def _adopt_running(self, ps: PodSim, pod: dict) -> None:
        st = pod.get("status") or {}
        ps.node = pod["spec"]["nodeName"]
        ps.host_ip = st.get("hostIP", "")
        ps.ip = st.get("podIP", "")
        self._ips.add(ps.ip)
        ps.stage, ps.phase = "running", "Running"
        start = st.get("startTime")
        ps.start_time = _parse_ts(start) or self.sim.clock()
        for c in ps.containers:
            cs = next((x for x in st.get("containerStatuses") or () if x.get("name") == c.name), {})
            c.phase = "running"
            c.ready = bool(cs.get("ready", True))
            c.restarts = int(cs.get("restartCount") or 0)
            c.started_at = _parse_ts(((cs.get("state") or {}).get("running") or {}).get("startedAt")) or ps.start_time
            c.container_id = cs.get("containerID") or self._cid(ps, c)
            c.image_id = cs.get("imageID") or self.image_id(c.image)
            c.pulled = True
            c.last_term = (cs.get("lastState") or {}).get("terminated")
        for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"):
            for cd in st.get("conditions") or ():
                if cd.get("type") == t:
                    ps.cond_times[t] = (cd.get("status") == "True", cd.get("lastTransitionTime"))
        self.sim.traffic_started((ps.ns, ps.name), ps.containers[0] if ps.containers else None, ps.start_time,
                                 restarted=False)
        for c in ps.containers:
            if c.behaviour.behaviour != "ok":
                self._running(ps, c, adopted=True)
        if not all(c.ready for c in ps.containers):
            for c in ps.containers:
                if not c.ready and c.phase == "running":
                    self._at(c.behaviour.ready_after, ps, c, lambda c=c: self._ready(ps, c))

    def forget(self, key) -> None:
        ps = self.pods.pop(key, None)
        if ps is not None:
            self._ips.discard(ps.ip)

    def pod_changed(self, pod: dict, old: dict | None) -> None:
        meta = pod["metadata"]
        key = (meta.get("namespace") or "default", meta["name"])
        ps = self.pods.get(key)
        if ps is None:
            self.adopt(pod)
            return
        if meta.get("deletionTimestamp") and ps.stage != "terminating":
            self._terminate(ps, pod)

    # ---------------------------------------------------------------- the lifecycle
    def _pod(self, ps: PodSim) -> dict | None:
        return self.sim.state.get("pods", ps.ns, ps.name)

    def _schedule(self, ps: PodSim) -> None:
        pod = self._pod(ps)
        if pod is None:
            return
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            info = next((n for n in NODES if n[0] == node), (node, "172.18.0.9", "demo-a"))
        else:
            info = self.node_for(ps.name)
        ps.node, ps.host_ip = info[0], info[1]
        ps.stage = "scheduled"
        self.write(ps)
        if not node:
            self.ctl.events.emit(pod, "Scheduled", f"Successfully assigned {ps.ns}/{ps.name} to {ps.node}",
                                 component="default-scheduler")
        self._at(self.sim.scenario_setting("start_delay", 0.4), ps, None, lambda: self._create(ps))

    def _create(self, ps: PodSim) -> None:
        ps.stage = "creating"
        ps.ip = self.alloc_ip(ps.name, ps.node)
        ps.start_time = self.sim.clock()
        for c in ps.containers:
            c.phase, c.reason = "waiting", "ContainerCreating"
        self.write(ps)
        for c in ps.containers:
            self._prepare(ps, c)

    def _config_error(self, ps: PodSim, c: ContainerSim, pod: dict) -> str | None:
        """The kubelet's message when an env reference cannot be resolved (CreateContainerConfigError)."""
        cspec = next((x for x in (pod.get("spec") or {}).get("containers") or () if x.get("name") == c.name), {})
        state = self.sim.state
        for e in cspec.get("env") or ():
            vf = e.get("valueFrom") or {}
            for ref_key, res, kind in (("configMapKeyRef", "configmaps", "ConfigMap"),
                                       ("secretKeyRef", "secrets", "Secret")):
                ref = vf.get(ref_key)
                if not ref or ref.get("optional"):
                    continue
                obj = state.get(res, ps.ns, ref.get("name") or "")
                if obj is None:
                    return f'{kind.lower()} "{ref.get("name")}" not found'
                data = dict(obj.get("data") or {})
                data.update(obj.get("binaryData") or {})
                if res == "secrets":
                    data.update(obj.get("stringData") or {})
                if ref.get("key") not in data:
                    return f"couldn't find key {ref.get('key')} in {kind} {ps.ns}/{ref.get('name')}"
        for ef in cspec.get("envFrom") or ():
            for ref_key, res, kind in (("configMapRef", "configmaps", "ConfigMap"), ("secretRef", "secrets", "Secret")):
                ref = ef.get(ref_key)
                if ref and not ref.get("optional") and state.get(res, ps.ns, ref.get("name") or "") is None:
                    return f'{kind.lower()} "{ref.get("name")}" not found'
        return None

    def resolved_env(self, ps: PodSim, c: ContainerSim, pod: dict) -> set[str]:
        cspec = next((x for x in (pod.get("spec") or {}).get("containers") or () if x.get("name") == c.name), {})
        names = set()
        state = self.sim.state
        for ef in cspec.get("envFrom") or ():
            prefix = ef.get("prefix") or ""
            for ref_key, res in (("configMapRef", "configmaps"), ("secretRef", "secrets")):
                ref = ef.get(ref_key)
                if ref:
                    obj = state.get(res, ps.ns, ref.get("name") or "") or {}
                    names.update(prefix + k for k in (obj.get("data") or {}))
                    names.update(prefix + k for k in (obj.get("stringData") or {}))
        for e in cspec.get("env") or ():
            names.add(e.get("name"))
        return names

    def _prepare(self, ps: PodSim, c: ContainerSim) -> None:
        pod = self._pod(ps)
        if pod is None:
            return
        err = self._config_error(ps, c, pod)
        fp = f"spec.containers{{{c.name}}}"
        if err:
            c.epoch += 1
            c.phase, c.reason, c.message = "waiting", "CreateContainerConfigError", err
            self.write(ps)
            self.ctl.events.emit(pod, "Failed", f"Error: {err}", type="Warning", host=ps.node, field_path=fp)
            c.backoff = min(max(c.backoff * 2, BACKOFF_START), BACKOFF_CAP)
            self._at(c.backoff, ps, c, lambda: self._prepare(ps, c))
            return
        if c.pulled:
            self.ctl.events.emit(pod, "Pulled", f'Container image "{c.image}" already present on machine',
                                 host=ps.node, field_path=fp)
            self._start(ps, c)
            return
        self.ctl.events.emit(pod, "Pulling", f'Pulling image "{c.image}"', host=ps.node, field_path=fp)
        self._at(self.sim.scenario_setting("pull_seconds", 1.5), ps, c, lambda: self._pulled(ps, c))

    def _pulled(self, ps: PodSim, c: ContainerSim) -> None:
        pod = self._pod(ps)
        if pod is None:
            return
        fp = f"spec.containers{{{c.name}}}"
        if c.behaviour.behaviour == "imagepull":
            c.epoch += 1
            repo = c.image
            err = c.behaviour.pull_error or (
                f'rpc error: code = NotFound desc = failed to pull and unpack image "{repo}": failed to resolve '
                f'reference "{repo}": {repo}: not found')
            c.phase, c.reason, c.message = "waiting", "ErrImagePull", err
            self.write(ps)
            self.ctl.events.emit(pod, "Failed", f'Failed to pull image "{c.image}": {err}', type="Warning",
                                 host=ps.node, field_path=fp)
            self.ctl.events.emit(pod, "Failed", "Error: ErrImagePull", type="Warning", host=ps.node, field_path=fp)
            c.backoff = min(max(c.backoff * 2, BACKOFF_START), BACKOFF_CAP)

            def backoff():
                c.epoch += 1
                c.reason = "ImagePullBackOff"
                c.message = f'Back-off pulling image "{c.image}"'
                self.write(ps)
                p = self._pod(ps)
                if p is not None:
                    self.ctl.events.emit(p, "BackOff", f'Back-off pulling image "{c.image}"', host=ps.node,
                                         field_path=fp)
                    self.ctl.events.emit(p, "Failed", "Error: ImagePullBackOff", type="Warning", host=ps.node,
                                         field_path=fp)
                self._at(c.backoff, ps, c, lambda: self._prepare(ps, c))
            self._at(1.0, ps, c, backoff)
            return
        c.pulled = True
        c.image_id = self.image_id(c.image)
        took = 1.0 + (zlib.crc32(c.image.encode()) % 3000) / 1000
        size = 40_000_000 + zlib.crc32(c.image.encode()) % 30_000_000
        self.ctl.events.emit(pod, "Pulled", f'Successfully pulled image "{c.image}" in {took:.3f}s '
                             f"({took:.3f}s including waiting). Image size: {size} bytes.", host=ps.node, field_path=fp)
        self._start(ps, c)

    def _start(self, ps: PodSim, c: ContainerSim) -> None:
        pod = self._pod(ps)
        if pod is None:
            return
        fp = f"spec.containers{{{c.name}}}"
        restarted = c.container_id != ""
        if restarted:
            c.restarts += 1
            if c.term:
                c.last_term = c.term
        c.epoch += 1
        c.container_id = self._cid(ps, c)
        c.image_id = c.image_id or self.image_id(c.image)
        c.phase, c.reason, c.message, c.term = "running", "", "", None
        c.started_at = self.sim.clock()
        c.ready = False
        ps.stage, ps.phase = "running", "Running"
        self.ctl.events.emit(pod, "Created", f"Created container {c.name}", host=ps.node, field_path=fp)
        self.ctl.events.emit(pod, "Started", f"Started container {c.name}", host=ps.node, field_path=fp)
        self.write(ps)
        main = ps.containers and ps.containers[0] is c
        self.sim.container_started((ps.ns, ps.name), c, pod, restarted=restarted, main=main)
        self._running(ps, c)

    def _running(self, ps: PodSim, c: ContainerSim, adopted: bool = False) -> None:
        b = c.behaviour
        pod = self._pod(ps)
        crash = b.behaviour == "crash"
        missing = []
        if pod is not None and b.requires_env:
            have = self.resolved_env(ps, c, pod)
            missing = [n for n in b.requires_env if n not in have]
            crash = crash or bool(missing)
        if crash:
            lines = list(b.crash_log) or ([
                "ERROR main  unhandled exception during start-up",
                "Traceback (most recent call last):",
                '  File "/app/checkout/settings.py", line 41, in load',
                f"    database_url = os.environ['{missing[0]}']" if missing else "    raise SystemExit(1)",
                f"KeyError: '{missing[0]}'" if missing else "SystemExit: 1",
            ])
            self._at(b.crash_after, ps, c, lambda: self._exit(ps, c, 1, "Error", lines))
            return
        if b.behaviour == "oom":
            if not adopted:
                self._at(b.ready_after, ps, c, lambda: self._ready(ps, c))
            self.sim.set_memory_growth((ps.ns, ps.name), c, b.oom_after)
            self._at(b.oom_after, ps, c, lambda: self._exit(
                ps, c, 137, "OOMKilled", ["WARN  runtime  heap usage at 97% of the container memory limit"]))
            return
        if b.behaviour == "notready":
            self._at(b.ready_after, ps, c, lambda: self._probe_fail(ps, c))
            return
        if not adopted:
            self._at(b.ready_after, ps, c, lambda: self._ready(ps, c))

    def _ready(self, ps: PodSim, c: ContainerSim) -> None:
        if c.phase != "running" or c.ready:
            return
        c.ready = True
        self.write(ps)
        self.sim.logs.ready(ps.ns, ps.name, c.name, self.sim.clock())

    def _probe_fail(self, ps: PodSim, c: ContainerSim) -> None:
        pod = self._pod(ps)
        if pod is None or c.phase != "running":
            return
        self.ctl.events.emit(pod, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503",
                             type="Warning", host=ps.node, field_path=f"spec.containers{{{c.name}}}")
        self._at(10.0, ps, c, lambda: self._probe_fail(ps, c))

    def _exit(self, ps: PodSim, c: ContainerSim, code: int, reason: str, lines: list[str]) -> None:
        pod = self._pod(ps)
        if pod is None:
            return
        now = self.sim.clock()
        self.sim.logs.terminated(ps.ns, ps.name, c.name, now,
                                 [f"{_iso(now)} {line}" if not line.startswith(("Traceback", "  ", "KeyError", "SystemExit")) else line
                                  for line in lines])
        c.epoch += 1
        c.term = {"exitCode": code, "reason": reason, "startedAt": rfc3339(c.started_at or now),
                  "finishedAt": rfc3339(now), "containerID": c.container_id}
        c.phase, c.ready = "terminated", False
        self.write(ps)
        self.sim.container_stopped((ps.ns, ps.name), c)
        if c.restarts == 0:
            self._at(1.0, ps, c, lambda: self._prepare(ps, c))
            return
        c.backoff = min(BACKOFF_START * (2 ** (c.restarts - 1)), BACKOFF_CAP)

        def backoff():
            c.epoch += 1
            c.last_term = c.term
            c.phase, c.reason = "waiting", "CrashLoopBackOff"
            c.message = (f"back-off {_dur(c.backoff)} restarting failed container={c.name} "
                         f"pod={ps.name}_{ps.ns}({ps.uid})")
            self.write(ps)
            p = self._pod(ps)
            if p is not None:
                self.ctl.events.emit(p, "BackOff", f"Back-off restarting failed container {c.name} in pod "
                                     f"{ps.name}_{ps.ns}({ps.uid})", type="Warning", host=ps.node,
                                     field_path=f"spec.containers{{{c.name}}}")
            self._at(c.backoff, ps, c, lambda: self._prepare(ps, c))
        self._at(1.0, ps, c, backoff)

    def _terminate(self, ps: PodSim, pod: dict) -> None:
        ps.stage = "terminating"
        for c in ps.containers:
            c.epoch += 1
            if c.phase == "running":
                self.ctl.events.emit(pod, "Killing", f"Stopping container {c.name}", host=ps.node,
                                     field_path=f"spec.containers{{{c.name}}}")
            c.ready = False
        self.write(ps)
        gp = (pod.get("metadata") or {}).get("deletionGracePeriodSeconds")
        delay = min(float(gp if gp is not None else 30), 2.0)

        def finish():
            for c in ps.containers:
                if c.phase == "running":
                    c.phase = "terminated"
                    c.term = {"exitCode": 0, "reason": "Completed", "startedAt": rfc3339(c.started_at or 0),
                              "finishedAt": rfc3339(self.sim.clock()), "containerID": c.container_id}
            try:
                self.sim.state.delete("pods", ps.ns, ps.name, grace_period=0)
            except StateError:
                pass
        self._at(delay, ps, None, finish)

    # ---------------------------------------------------------------- direct transitions (churn, pre-warm)
    def running_pod(self, ns: str, name: str, template: dict, owner: dict | None, idx: int,
                    created: float, labels: dict, spec: dict | None = None) -> dict:
        """A pod that has been Running and Ready since `created`, as a dict ready for state.create
        (which copies it: `spec` may be one prepared dict shared by every call)."""
        node, host_ip, _zone = self.node_for(name)
        ip = self.alloc_ip(name, node)
        spec = dict(spec if spec is not None else _pod_spec(template.get("spec") or {}))
        qos = spec.pop("_qos", None) or qos_class(spec)
        spec["nodeName"] = node
        ts = rfc3339(created)
        cstatuses = []
        for cs in spec.get("containers") or ():
            img = cs.get("image") or ""
            cstatuses.append({"name": cs.get("name") or "app", "state": {"running": {"startedAt": ts}},
                              "lastState": {}, "ready": True, "restartCount": 0, "image": img,
                              "imageID": self.image_id(img), "started": True,
                              "containerID": "containerd://" + hashlib.sha256(f"{ns}/{name}/{idx}".encode()).hexdigest()})
        conds = [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": ts}
                 for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")]
        meta = {"name": name, "namespace": ns, "labels": dict(labels),
                "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
                "creationTimestamp": ts}
        if not meta["annotations"]:
            del meta["annotations"]
        if owner is not None:
            meta["ownerReferences"] = [owner_ref(owner)]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
                "status": {"phase": "Running", "conditions": conds, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
                           "podIP": ip, "podIPs": [{"ip": ip}], "startTime": ts, "containerStatuses": cstatuses,
                           "qosClass": qos}}

    def adopt_prewarmed(self, pod: dict, created: float) -> None:
        """Register a pod `running_pod` built, without parsing back what we just wrote."""
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        spec, st = pod["spec"], pod["status"]
        ps = PodSim(ns=key[0], name=key[1], uid=meta.get("uid", ""), qos=st.get("qosClass", "BestEffort"),
                    node=spec["nodeName"], host_ip=st["hostIP"], ip=st["podIP"], phase="Running", stage="running",
                    start_time=created)
        ts = st["startTime"]
        ps.cond_times = {t: (True, ts) for t in ("PodReadyToStartContainers", "Initialized", "Ready",
                                                  "ContainersReady", "PodScheduled")}
        for cspec, cs in zip(spec.get("containers") or (), st.get("containerStatuses") or ()):
            img = cspec.get("image") or ""
            ps.containers.append(ContainerSim(cs["name"], img, self.behaviour_for(pod, img), phase="running",
                                              reason="", ready=True, started_at=created,
                                              container_id=cs["containerID"], image_id=cs["imageID"], pulled=True))
        self.pods[key] = ps
        self.sim.traffic_started(key, None, created, restarted=False)
        for c in ps.containers:
            if c.behaviour.behaviour != "ok" or c.behaviour.requires_env:
                self._running(ps, c, adopted=True)


def _iso(ts: float) -> str:
    from tui.demo.logs import iso  # noqa: PLC0415
    return iso(ts)


def _dur(s: float) -> str:
    s = int(s)
    return f"{s // 60}m{s % 60}s" if s >= 60 else f"{s}s"


def _pod_spec(tspec: dict) -> dict:
    """A pod spec from a template spec, with the defaults the apiserver fills in."""
    import orjson  # noqa: PLC0415
    spec = orjson.loads(orjson.dumps(tspec))
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    spec.setdefault("tolerations", [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}])
    for c in spec.get("containers") or ():
        c.setdefault("imagePullPolicy", "Always" if str(c.get("image", "")).endswith(":latest") else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
    return spec


# ============================================================================================== controllers

class Controllers:
    """All simulated controllers over one ClusterState; `reconcile()` works until nothing is dirty."""

    WORKLOADS = ("deployments", "replicasets", "rollouts")

    def __init__(self, sim: "Simulation"):
        self.sim = sim
        self.state = sim.state
        self.events = Recorder(sim)
        self.kubelet = Kubelet(self)
        self.dirty: dict[str, set] = {r: set() for r in ("deployments", "replicasets", "rollouts", "services", "pods")}
        self.new_pods: list[dict] = []
        self.owned: dict[str, set[tuple[str, str, str]]] = {}  # controller uid -> {(res, ns, name)}
        self.svc_by_ns: dict[str, set[str]] = {}
        self.eff_selector: dict[tuple[str, str], dict | None] = {}
        self.pending_selector: dict[tuple[str, str], tuple[dict | None, float]] = {}
        self.deploy_progress: dict[str, tuple[tuple, float]] = {}
        self.rollout_pause_start: dict[tuple[str, int], float] = {}
        self.served: dict[tuple[str, str], set] = {}
        self.svc_cache: dict[tuple[str, str], _SvcCache] = {}
        self.svc_dirty_pods: dict[tuple[str, str], set[str]] = {}
        self._own_deletes: set[tuple[str, str]] = set()
        self.rs_counts: dict[str, list[int]] = {}  # ReplicaSet uid -> [active pods, ready pods]
        self.wake_pending = False

    # ---------------------------------------------------------------- change feed
    def on_change(self, etype: str, res: str, obj: dict, old: dict | None) -> None:
        if res == "events":
            return
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
                    kind_res = {"ReplicaSet": "replicasets", "Deployment": "deployments", "Rollout": "rollouts"}.get(
                        r.get("kind"))
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
            if _pod_ready(o):
                c[1] += sign

    def prime(self) -> None:
        """Objects that existed before we subscribed (a restored cluster) enter the indexes as if just added."""
        for res in ("replicasets", "deployments", "rollouts", "services", "pods"):
            for o in self.state.list(res)[0]:
                self.on_change("ADDED", res, o, None)

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
                            ("replicasets", self.reconcile_replicaset), ("services", self.reconcile_service)):
                if self.dirty[res]:
                    busy = True
                    keys, self.dirty[res] = self.dirty[res], set()
                    for ns, name in sorted(keys):
                        obj = self.state.get(res, ns, name)
                        if obj is not None:
                            try:
                                fn(obj)
                            except StateError as e:
                                self.sim.note_error(f"{res} {ns}/{name}: {e.message}")
            if not busy:
                return

    def resync(self) -> None:
        for res in ("deployments", "rollouts", "replicasets", "services"):
            for o in self.state.list(res)[0]:
                m = o["metadata"]
                self.dirty[res].add((m.get("namespace") or "", m["name"]))

    # ---------------------------------------------------------------- ReplicaSet
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
            pspec = _pod_spec(tmpl.get("spec") or {})
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
                return (bool((p.get("spec") or {}).get("nodeName")), st.get("phase") == "Running", _pod_ready(p),
                        -(_parse_ts(p["metadata"].get("creationTimestamp")) or 0), p["metadata"]["name"])
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

    def _new_rs(self, owner: dict, hash_label: str, h: str, revision: int, replicas: int,
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
    def reconcile_deployment(self, d: dict) -> None:
        meta = d["metadata"]
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta["namespace"], meta["name"]
        spec = d.get("spec") or {}
        replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        h = template_hash(spec.get("template") or {}, (d.get("status") or {}).get("collisionCount") or 0)
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
            new = self._new_rs(d, DEPLOY_HASH, h, maxrev + 1, 0, ann)
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
        self._deployment_status(d, new, old, replicas, unavail, created_new)

    def _deployment_status(self, d, new, old, replicas, unavail, created_new) -> None:
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
    def reconcile_rollout(self, ro: dict) -> None:
        meta = ro["metadata"]
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta["namespace"], meta["name"]
        spec = ro.get("spec") or {}
        replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        strategy = spec.get("strategy") or {}
        st = orjson_clone(ro.get("status") or {})
        h = template_hash(spec.get("template") or {}, st.get("collisionCount") or 0)
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
            cur = self._new_rs(ro, ARGO_HASH, h, maxrev + 1, 0)
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
            idx = int(st.get("currentStepIndex") or 0)
            weight = 100 if h == stable_h else 0
            if h == stable_h:
                self.scale_rs(ro, stable, replicas, component=comp)
                st["currentStepIndex"] = len(steps)
                st.pop("pauseConditions", None)
                st["controllerPause"] = False
                weight = 0
            elif abort:
                self.scale_rs(ro, canary, 0, component=comp)
                self.scale_rs(ro, stable, replicas, component=comp)
                if not st.get("abortedAt"):
                    st["abortedAt"] = now
                    ev.emit(ro, "RolloutAborted", f"Rollout aborted update to revision {revision}", type="Warning",
                            component=comp)
                phase = "Degraded"
                message = f"RolloutAborted: Rollout aborted update to revision {revision}"
                st.pop("pauseConditions", None)
                st["controllerPause"] = False
                weight = 0
            else:
                if st.get("promoteFull"):
                    idx = len(steps)
                    st.pop("pauseConditions", None)
                weight = next((int(s["setWeight"]) for s in reversed(steps[:idx]) if "setWeight" in s), 0)
                while idx < len(steps):
                    step = steps[idx]
                    if "setWeight" in step:
                        weight = int(step["setWeight"])
                        want = int(math.ceil(weight * replicas / 100.0))
                        self.scale_rs(ro, canary, want, component=comp)
                        if avail(canary) >= want:
                            self.scale_rs(ro, stable, max(0, replicas - want), component=comp)
                        if avail(canary) >= want and reps(stable) <= max(0, replicas - want):
                            ev.emit(ro, "RolloutStepCompleted",
                                    f"Rollout step {idx + 1}/{len(steps)} completed (setWeight: {weight})", component=comp)
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
                    # analysis, experiment, setCanaryScale...: not simulated, they pass
                    ev.emit(ro, "RolloutStepCompleted", f"Rollout step {idx + 1}/{len(steps)} completed", component=comp)
                    idx += 1
                if idx >= len(steps):
                    weight = 100
                    self.scale_rs(ro, canary, replicas, component=comp)
                    if avail(canary) >= replicas:
                        st["stableRS"] = h
                        self.scale_rs(ro, stable, 0, component=comp)
                        ev.emit(ro, "RolloutCompleted", f"Rollout completed update to revision {revision} ({h}): "
                                f"Completed all {len(steps)} canary steps", component=comp)
                        stable_h, stable = h, canary
                        st.pop("pauseConditions", None)
                        st["controllerPause"] = False
                        st.pop("promoteFull", None)
                st["currentStepIndex"] = idx
            ws = {"canary": {"podTemplateHash": h, "weight": weight},
                  "stable": {"podTemplateHash": stable_h, "weight": 100 - weight}}
            if cs.get("canaryService"):
                ws["canary"]["serviceName"] = cs["canaryService"]
            if cs.get("stableService"):
                ws["stable"]["serviceName"] = cs["stableService"]
            st["canary"] = {"weights": ws}
            for svc_key, hh in (("canaryService", h), ("stableService", stable_h)):
                if cs.get(svc_key):
                    self._set_service_hash(ns, cs[svc_key], hh, name)
            if steps:
                st["currentStepHash"] = template_hash({"spec": {"steps": steps}})
            if phase != "Degraded":
                if paused_manual:
                    phase, message = "Paused", "manually paused"
                elif st.get("pauseConditions"):
                    phase, message = "Paused", "CanaryPauseStep"
                elif st.get("stableRS") == h and avail(canary) >= replicas and not any(
                        reps(r) for r in others + ([stable] if stable is not canary else [])):
                    phase, message = "Healthy", ""
                else:
                    phase = "Progressing"
                    message = ("more replicas need to be updated" if avail(canary) < reps(canary)
                               else "updated replicas are still becoming available")
        self._rollout_status(ro, st, conds, phase, message, replicas, h, byhash, now)

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
            if not st.get("abortedAt"):
                st["abortedAt"] = now
                self.events.emit(ro, "RolloutAborted", f"Rollout aborted update to revision {revision}",
                                 type="Warning", component=comp)
            st.pop("pauseConditions", None)
            return "Degraded", f"RolloutAborted: Rollout aborted update to revision {revision}"
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
    def reconcile_service(self, svc: dict) -> None:
        meta = svc["metadata"]
        ns, name = meta["namespace"], meta["name"]
        key = (ns, name)
        sel = (svc.get("spec") or {}).get("selector") or None
        if key not in self.eff_selector:
            self.eff_selector[key] = sel
        elif self.eff_selector[key] != sel:
            pend = self.pending_selector.get(key)
            if pend is None or pend[0] != sel:
                lag = self.sim.scenario_setting("endpoint_lag", 1.0)
                self.pending_selector[key] = (sel, self.sim.t + lag)
                self.sim.schedule(lag + 0.001, lambda: self.dirty["services"].add(key))
            if self.pending_selector[key][1] <= self.sim.t:
                self.eff_selector[key] = sel
                self.pending_selector.pop(key, None)
        eff = self.eff_selector[key]
        if eff is None:
            self.svc_cache.pop(key, None)
            self.svc_dirty_pods.pop(key, None)
            return  # a Service without a selector: its endpoints are the user's
        ports = (svc.get("spec") or {}).get("ports") or []
        labels = dict(meta.get("labels") or {})
        cache = self.svc_cache.get(key)
        dirty = self.svc_dirty_pods.pop(key, set())
        if cache is None or cache.selector != eff or cache.ports != ports or cache.labels != labels \
                or cache.uid != meta.get("uid"):
            cache = self._full_service_cache(svc, eff, ports, labels)
            dirty = {p["metadata"]["name"] for p in self.state.list("pods", ns)[0]} | set(cache.members)
        get = self.state.get
        for pname in dirty:
            p = get("pods", ns, pname)
            entry = None
            if p is not None and selector_matches(eff, p["metadata"].get("labels")):
                ip = (p.get("status") or {}).get("podIP")
                if ip:
                    rdy = _pod_ready(p)
                    term = bool(p["metadata"].get("deletionTimestamp"))
                    entry = (ip, rdy and not term, rdy, term, (p.get("spec") or {}).get("nodeName"),
                             p["metadata"].get("uid"), tuple(self._port_for(p, sp) for sp in ports))
            old = cache.members.get(pname)
            if entry == old:
                continue
            if entry is None:
                del cache.members[pname]
                i = cache.slot.pop(pname)
                cache.slices[i].discard(pname)
                cache.fill = min(cache.fill, i)
                cache.dirty_slices.add(i)
                cache.order = None
                cache.ready.discard((ns, pname))
            else:
                if old is None:
                    i = next((j for j in range(cache.fill, len(cache.slices))
                              if len(cache.slices[j]) < SLICE_MAX), None)
                    if i is None:
                        i = len(cache.slices)
                        cache.slices.append(set())
                        cache.slice_names.append(None)
                    cache.slices[i].add(pname)
                    cache.slot[pname] = i
                    cache.fill = i
                    cache.order = None
                elif old[0] != entry[0]:
                    cache.order = None
                cache.members[pname] = entry
                cache.dirty_slices.add(cache.slot[pname])
                if entry[1]:
                    cache.ready.add((ns, pname))
                else:
                    cache.ready.discard((ns, pname))
            # the Endpoints object holds at most 1,000 addresses: a change elsewhere does not touch it
            if cache.order is None or pname in cache.ep_names or len(cache.members) <= ENDPOINTS_MAX:
                cache.endpoints_dirty = True
        if self.served.get(key) != cache.ready:
            self.served[key] = set(cache.ready)
            self.sim.served_changed(ns, name, cache.ready)
        if cache.endpoints_dirty:
            cache.endpoints_dirty = False
            self._write_endpoints(svc, cache, ports)
        if cache.dirty_slices:
            self._write_slices(svc, cache, ports, labels)

    def _full_service_cache(self, svc, eff, ports, labels) -> "_SvcCache":
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        cache = _SvcCache(selector=eff, ports=ports, labels=labels, uid=svc["metadata"].get("uid"))
        existing = sorted((s for s in self.state.list("endpointslices", ns)[0]
                           if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == name
                           and (s["metadata"].get("labels") or {}).get("endpointslice.kubernetes.io/managed-by")
                           == "endpointslice-controller.k8s.io"),
                          key=lambda s: s["metadata"]["name"])
        old = self.svc_cache.get((ns, name))
        if old is not None:
            # keep pods in the slices they were in: a selector change rewrites slices, it does not rename them
            cache.slice_names = list(old.slice_names)
            cache.slices = [set() for _ in old.slice_names]
        else:
            cache.slice_names = [s["metadata"]["name"] for s in existing]
            cache.slices = [set() for _ in existing]
        if not cache.slices:
            cache.slices, cache.slice_names = [set()], [None]
        cache.dirty_slices = set(range(len(cache.slices)))
        cache.endpoints_dirty = True
        keep = set(cache.slice_names)
        for s in existing:
            if s["metadata"]["name"] not in keep:
                try:
                    self.state.delete("endpointslices", ns, s["metadata"]["name"])
                except NotFound:
                    pass
        self.svc_cache[(ns, name)] = cache
        return cache

    @staticmethod
    def _port_for(p: dict, sp: dict) -> int | None:
        tp = sp.get("targetPort", sp.get("port"))
        if isinstance(tp, int):
            return tp
        if isinstance(tp, str) and tp.isdigit():
            return int(tp)
        for c in (p.get("spec") or {}).get("containers") or ():
            for cp in c.get("ports") or ():
                if cp.get("name") == tp:
                    return cp.get("containerPort")
        return None

    def _write_endpoints(self, svc, cache: "_SvcCache", ports) -> None:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        if cache.order is None:
            cache.order = sorted(cache.members, key=lambda n: _ip_key(cache.members[n][0]))
        ready, not_ready = [], []
        port_of = None
        cache.ep_names = set()
        for pname in cache.order:
            ip, ok, _serving, term, node, uid, pports = cache.members[pname]
            if term:
                continue
            if len(ready) + len(not_ready) >= ENDPOINTS_MAX:
                break
            cache.ep_names.add(pname)
            port_of = port_of or pports
            a = {"ip": ip, "nodeName": node, "targetRef": {"kind": "Pod", "namespace": ns, "name": pname, "uid": uid}}
            (ready if ok else not_ready).append(a)
        over = len(cache.members) > ENDPOINTS_MAX
        subset_ports = []
        for sp, num in zip(ports, port_of or ()):
            if num is not None:
                q = {"port": num, "protocol": sp.get("protocol", "TCP")}
                if sp.get("name"):
                    q["name"] = sp["name"]
                subset_ports.append(q)
        subsets = []
        if (ready or not_ready) and subset_ports:
            sub = {}
            if ready:
                sub["addresses"] = ready
            if not_ready:
                sub["notReadyAddresses"] = not_ready
            sub["ports"] = subset_ports
            subsets = [sub]
        labels = dict(cache.labels)
        labels["endpoints.kubernetes.io/managed-by"] = "endpoint-controller"
        ann = {"endpoints.kubernetes.io/last-change-trigger-time": rfc3339(self.sim.clock())}
        if over:
            ann["endpoints.kubernetes.io/over-capacity"] = "truncated"
        cur = self.state.get("endpoints", ns, name)
        body = {"subsets": subsets} if subsets else {}
        if cur is None:
            obj = {"apiVersion": "v1", "kind": "Endpoints",
                   "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": ann}} | body
            try:
                self.state.create(obj)
            except AlreadyExists:
                pass
            return
        if (cur.get("subsets") or []) == subsets and (cur["metadata"].get("labels") or {}) == labels and \
                ("endpoints.kubernetes.io/over-capacity" in (cur["metadata"].get("annotations") or {})) == over:
            return

        def fn(o):
            o["metadata"]["labels"] = labels
            a = {k: v for k, v in (o["metadata"].get("annotations") or {}).items()
                 if k != "endpoints.kubernetes.io/over-capacity"}
            a.update(ann)
            o["metadata"]["annotations"] = a
            o.pop("subsets", None)
            o.update(body)
        self.state.mutate("endpoints", ns, name, fn)

    def _write_slices(self, svc, cache: "_SvcCache", ports, svc_labels) -> None:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        labels = dict(svc_labels)
        labels["kubernetes.io/service-name"] = name
        labels["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io"
        zones = {n[0]: n[2] for n in NODES}
        dirty, cache.dirty_slices = sorted(cache.dirty_slices), set()
        for i in dirty:
            members = sorted(cache.slices[i])
            sname = cache.slice_names[i]
            if not members and sname is not None and any(cache.slices[j] for j in range(len(cache.slices)) if j != i):
                # an emptied slice goes away unless it is the Service's only one
                self._own_deletes.add((ns, sname))
                try:
                    self.state.delete("endpointslices", ns, sname)
                except NotFound:
                    pass
                finally:
                    self._own_deletes.discard((ns, sname))
                cache.slice_names[i] = None
                continue
            endpoints = []
            port_of = None
            for pname in members:
                ip, ok, serving, term, node, uid, pports = cache.members[pname]
                port_of = port_of or pports
                e = {"addresses": [ip], "conditions": {"ready": ok, "serving": serving, "terminating": term},
                     "targetRef": {"kind": "Pod", "namespace": ns, "name": pname, "uid": uid}}
                if node:
                    e["nodeName"] = node
                    if node in zones:
                        e["zone"] = zones[node]
                endpoints.append(e)
            sports = []
            for j, sp in enumerate(ports):
                q = {"name": sp.get("name", ""), "protocol": sp.get("protocol", "TCP"),
                     "port": port_of[j] if port_of else None}
                if sp.get("appProtocol"):
                    q["appProtocol"] = sp["appProtocol"]
                sports.append(q)
            body = {"addressType": "IPv4", "endpoints": endpoints, "ports": sports}
            cur = self.state.get("endpointslices", ns, sname) if sname else None
            if cur is not None:
                if all(cur.get(k) == v for k, v in body.items()) and (cur["metadata"].get("labels") or {}) == labels:
                    continue

                def fn(o, body=body):
                    o["metadata"]["labels"] = labels
                    o["metadata"].setdefault("annotations", {})["endpoints.kubernetes.io/last-change-trigger-time"] = \
                        rfc3339(self.sim.clock())
                    o.update(body)
                self.state.mutate("endpointslices", ns, sname, fn)
                continue
            rng = random.Random(f"{self.sim.seed}/slice/{ns}/{name}/{i}/{self.sim.pod_serial(ns, 'slice:' + name)}")
            while True:
                sname = f"{name}-" + "".join(rng.choice(ALPHABET) for _ in range(5))
                if self.state.get("endpointslices", ns, sname) is None:
                    break
            obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                   "metadata": {"name": sname, "namespace": ns, "generateName": f"{name}-", "labels": labels,
                                "ownerReferences": [owner_ref(svc)],
                                "annotations": {"endpoints.kubernetes.io/last-change-trigger-time":
                                                rfc3339(self.sim.clock())}}} | body
            self.state.create(obj)
            cache.slice_names[i] = sname


@dataclass
class _SvcCache:
    selector: dict
    ports: list
    labels: dict
    uid: str | None
    members: dict = field(default_factory=dict)  # pod name -> (ip, ready, serving, terminating, node, uid, ports)
    slot: dict = field(default_factory=dict)  # pod name -> slice index
    slices: list = field(default_factory=list)  # slice index -> pod names
    slice_names: list = field(default_factory=list)
    dirty_slices: set = field(default_factory=set)
    endpoints_dirty: bool = True
    order: list | None = None  # member names by IP, for the (capped) Endpoints object
    ready: set = field(default_factory=set)
    fill: int = 0  # no slice before this one has room
    ep_names: set = field(default_factory=set)  # pods in the (capped) Endpoints object


def _ip_key(ip: str):
    try:
        return tuple(int(x) for x in ip.split("."))
    except ValueError:
        return (999,)


def _pod_ready(p: dict) -> bool:
    for c in (p.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def orjson_clone(x):
    import orjson  # noqa: PLC0415
    return orjson.loads(orjson.dumps(x))
