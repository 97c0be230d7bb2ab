"""The kubelet: pods from Pending to Running (or CrashLoopBackOff, ImagePullBackOff, OOMKilled), probes, logs."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from dataclasses import field
from tui.demo.scenario import ImageBehaviour
from tui.demo.state import StateError
from tui.kube.timestamps import parse_time as parse_ts
from typing import Any
from typing import Callable
from typing import TYPE_CHECKING
from tui.demo.controllers.base import BACKOFF_CAP, BACKOFF_START, BEHAVIOUR_ANNOTATION, CRASH_MESSAGE_ANNOTATION, NODES, duration_text, iso_ts, owner_ref, pod_spec, qos_class, rfc3339

if TYPE_CHECKING:  # pragma: no cover
    from tui.demo.controllers.core import Controllers  # noqa: F401

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
            if ps.phase == "Succeeded":
                cond("Ready", False, "PodCompleted")
                cond("ContainersReady", False, "PodCompleted")
            elif not_ready or ps.stage == "terminating":
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
        ps.start_time = parse_ts(start) or self.sim.clock()
        for c in ps.containers:
            cs = next((x for x in st.get("containerStatuses") or () if x.get("name") == c.name), {})
            c.phase = "running"
            c.ready = bool(cs.get("ready", True))
            c.restarts = int(cs.get("restartCount") or 0)
            c.started_at = parse_ts(((cs.get("state") or {}).get("running") or {}).get("startedAt")) or ps.start_time
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
        if pod is not None and (pod.get("spec") or {}).get("restartPolicy") in ("Never", "OnFailure"):
            # a Job's pod (or any run-to-completion pod): it does its work, then exits 0
            self._at(b.ready_after, ps, c, lambda: self._complete(ps, c))
            return
        if not adopted:
            self._at(b.ready_after, ps, c, lambda: self._ready(ps, c))

    def _complete(self, ps: PodSim, c: ContainerSim) -> None:
        if c.phase != "running":
            return
        now = self.sim.clock()
        c.epoch += 1
        c.term = {"exitCode": 0, "reason": "Completed", "startedAt": rfc3339(c.started_at or now),
                  "finishedAt": rfc3339(now), "containerID": c.container_id}
        c.phase, c.ready = "terminated", False
        if all(x.phase == "terminated" and (x.term or {}).get("exitCode") == 0 for x in ps.containers):
            ps.phase = "Succeeded"
        self.write(ps)
        self.sim.container_stopped((ps.ns, ps.name), c)

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
                                 [f"{iso_ts(now)} {line}" if not line.startswith(("Traceback", "  ", "KeyError", "SystemExit")) else line
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
            c.message = (f"back-off {duration_text(c.backoff)} restarting failed container={c.name} "
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
        spec = dict(spec if spec is not None else pod_spec(template.get("spec") or {}))
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
