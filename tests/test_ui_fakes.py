"""A fake Session over a real Store, and realistic pod/event dicts, for the UI's pilot tests."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import AsyncIterator

from tui.kube.store import SourceHealth, Store
from tui.rollout.tracks import TrackResolver

NOW = 1_750_000_000.0  # fixed clock for deterministic ages


def ts(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, track: str = "stable", *, ns: str = "shop", created: float = NOW - 3600, ready: bool = True,
        restarts: int = 0, waiting: tuple[str, str] | None = None, node: str = "node-1", rv: int = 1,
        annotations: dict | None = None, phase: str = "Running") -> dict:
    state: dict = {"running": {"startedAt": ts(created + 5)}}
    if waiting is not None:
        state = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
        ready = False
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": f"uid-{name}",
            "resourceVersion": str(rv),
            "creationTimestamp": ts(created),
            "labels": {"app": "checkout", "deployment": track},
            "annotations": annotations or {},
            "ownerReferences": [{"kind": "ReplicaSet", "name": f"checkout-{track}-7d9c"}],
        },
        "spec": {
            "nodeName": node,
            "containers": [{"name": "app", "image": f"shop/checkout:{'2.0' if track == 'canary' else '1.9'}",
                            "ports": [{"containerPort": 8080, "protocol": "TCP"}]}],
        },
        "status": {
            "phase": phase,
            "podIP": "10.0.0.1",
            "startTime": ts(created),
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{
                "name": "app", "ready": ready, "restartCount": restarts, "state": state,
                "image": "shop/checkout", "started": ready,
            }],
        },
    }


def event(name: str, *, ns: str = "shop", obj: str = "checkout-canary-0", kind: str = "Pod", type_: str = "Normal",
          reason: str = "Pulled", message: str = "Container image pulled", last: float = NOW - 30,
          count: int = 1) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": ns, "resourceVersion": "1", "creationTimestamp": ts(last)},
        "involvedObject": {"kind": kind, "name": obj, "namespace": ns},
        "type": type_,
        "reason": reason,
        "message": message,
        "count": count,
        "firstTimestamp": ts(last - 60),
        "lastTimestamp": ts(last),
        "source": {"component": "kubelet"},
    }


@dataclass
class Target:
    context: str = "lookout-demo"
    namespace: str = "shop"
    rollout: str | None = "checkout"
    demo: bool = True
    kubeconfig_path: str = "/tmp/lookout-demo/kubeconfig"
    server: str = "https://127.0.0.1:6443"


@dataclass
class Connection:
    ok: bool = True
    since: float = NOW
    error: str | None = None


@dataclass
class Summary:
    phase: str = "Progressing"
    step: str = "2/5"
    weight: int = 20
    strategy: str = "canary"
    message: str = ""


@dataclass
class FakeSession:
    store: Store = field(default_factory=Store)
    target: Target = field(default_factory=Target)
    resolver: TrackResolver = field(default_factory=TrackResolver)
    read_only: bool = False
    connection: Connection = field(default_factory=Connection)
    full_objects: dict = field(default_factory=dict)
    log_lines: dict = field(default_factory=dict)
    found: list = field(default_factory=list)
    switches: list = field(default_factory=list)
    started: bool = False
    stopped: bool = False
    choice: object = None
    metrics: object = None
    network_view: object = None
    on_derived: object = None
    on_metrics: object = None
    clock: object = lambda: NOW  # noqa: E731 - the app's clock in tests that move time

    def __post_init__(self) -> None:
        if self.choice is None:
            from tui.session import RolloutChoice

            self.choice = RolloutChoice(None, self.target.namespace)

    async def start(self) -> None:
        self.started = True
        for kind in ("pods", "events"):
            self.store.set_health(SourceHealth(source=f"{kind}/shop", kind=kind, connected=True, synced=True,
                                               last_event=NOW))

    async def stop(self) -> None:
        self.stopped = True

    async def fetch_object(self, res: str, ns: str, name: str) -> dict:
        if (res, ns, name) in self.full_objects:
            return self.full_objects[(res, ns, name)]
        obj = self.store.get(res, ns, name)
        if obj is None:
            raise LookupError(f"{res} {ns}/{name} not found")
        return obj

    async def follow_logs(self, ns: str, pod: str, container: str | None = None, previous: bool = False,
                          tail: int = 500) -> AsyncIterator[str]:
        for line in self.log_lines.get((pod, previous), [f"{pod} line {i}" for i in range(3)]):
            yield line
        await asyncio.sleep(3600)  # a follow never ends by itself

    async def switch(self, namespace: str | None = None, context: str | None = None,
                     rollout: str | None = None) -> None:
        self.switches.append((namespace, context, rollout))
        if namespace == "nope":
            raise RuntimeError("namespace [bold]nope[/bold] not found")
        if namespace:
            self.target.namespace = namespace

    def summary(self) -> Summary:
        return Summary()

    def findings(self) -> list:
        return list(self.found)

    def pod_rows(self) -> list:
        from tui.rollout.pods import pod_row

        return [pod_row(p, self.resolver.track_of_pod(p), NOW) for p in self.store.objects.get("pods", {}).values()]

    def event_relevant(self, ev: dict) -> bool:
        return True

    def assess(self):
        """The real assessment over what this fake holds: no Rollout object, so the controller is "labels"."""
        from tui.assessment import assess

        return assess(now=self.clock(), rollout=f"Label/{self.target.rollout}", kind=None, workload=None,
                      summary=self.summary(), pod_rows=self.pod_rows(), findings=self.findings(),
                      compare=self.metrics, network_view=self.network_view,
                      health=list(self.store.health.values()))


def fill(store: Store, stable: int = 8, canary: int = 3, events: int = 5) -> None:
    store.apply("pods", "ADDED", [pod(f"checkout-stable-{i:02d}", "stable", created=NOW - 3600 - i)
                                  for i in range(stable)])
    store.apply("pods", "ADDED", [pod(f"checkout-canary-{i:02d}", "canary", created=NOW - 90 - i)
                                  for i in range(canary)])
    store.apply("events", "ADDED", [event(f"ev-{i}", obj=f"checkout-canary-{i % max(1, canary):02d}",
                                          last=NOW - 10 * i) for i in range(events)])


def make_session(**kw) -> FakeSession:
    s = FakeSession(**kw)
    fill(s.store)
    return s
