"""Which pods a Service selects, and where each of its ports lands (port -> targetPort -> container port), per track."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping
from tui.kube.objects import meta as _meta

TrackOf = Callable[[dict], "str | None"]

# Selector keys a controller adds to pods, never to pod templates: ignored when a template stands in for pods.
CONTROLLER_LABELS = frozenset({"rollouts-pod-template-hash", "pod-template-hash", "controller-revision-hash"})


def _spec(o: dict | None) -> dict:
    return (o or {}).get("spec") or {}


def service_selector(service: dict) -> dict[str, str]:
    """The Service's selector; {} for a Service without one (its endpoints are managed by hand)."""
    sel = _spec(service).get("selector")
    return dict(sel) if isinstance(sel, dict) else {}


def selector_matches(selector: Mapping[str, str] | None, labels: Mapping[str, str] | None) -> bool:
    """A Service selector (equality only) against labels. An empty selector selects nothing, as for Services."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def pods_selected(service: dict, pods: Iterable[dict]) -> list[dict]:
    """The pods (of the Service's namespace) the Service's selector matches, terminating ones included."""
    sel = service_selector(service)
    if not sel:
        return []
    ns = _meta(service).get("namespace", "")
    return [p for p in pods if _meta(p).get("namespace", ns) == ns and selector_matches(sel, _meta(p).get("labels"))]


def selector_misses(selector: Mapping[str, str], labels: Mapping[str, str] | None,
                    ignore: frozenset[str] = frozenset()) -> list[tuple[str, str, str | None]]:
    """(label key, value the selector wants, value the labels have or None) for each requirement missed."""
    labels = labels or {}
    return [(k, v, labels.get(k)) for k, v in selector.items() if k not in ignore and labels.get(k) != v]


def selector_text(selector: Mapping[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (selector or {}).items()) or "(none)"


def in_cluster_name(service: dict, domain: str = "cluster.local") -> str:
    """`name.namespace.svc.cluster.local`: what pods resolve the Service by."""
    m = _meta(service)
    return f"{m.get('name', '')}.{m.get('namespace', '') or 'default'}.svc.{domain}"


def is_ready(pod: dict) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


# ---- ports ---------------------------------------------------------------------------------------


def target_of(service_port: Mapping) -> int | str:
    """A Service port's targetPort (a number or a container port name); it defaults to `port`."""
    tp = service_port.get("targetPort")
    if tp is None or tp == "" or tp == 0:
        return service_port.get("port", 0)
    if isinstance(tp, str) and tp.isdigit():
        return int(tp)
    return tp


@dataclass(frozen=True)
class PortTarget:
    """Where one targetPort lands in one pod spec."""

    container: str | None  # the container that declares it (None: none does)
    port: int | None  # the number traffic goes to (None: a name no container declares: no traffic)
    declared: bool


def resolve_target_port(pod_spec: Mapping, target: int | str, protocol: str = "TCP") -> PortTarget:
    """Resolve a targetPort against a pod spec's containers, by name or by number."""
    containers = pod_spec.get("containers") or ()
    for c in containers:
        for cp in c.get("ports") or ():
            if (cp.get("protocol") or "TCP") != (protocol or "TCP"):
                continue
            if isinstance(target, str):
                if cp.get("name") == target:
                    return PortTarget(c.get("name"), cp.get("containerPort"), True)
            elif cp.get("containerPort") == target:
                return PortTarget(c.get("name"), target, True)
    if isinstance(target, str):
        return PortTarget(None, None, False)
    # a number nobody declares still gets the packets: declared ports are informational
    return PortTarget(None, target, False)


@dataclass(frozen=True)
class PortLanding:
    """How one Service port lands on the pods of one track."""

    track: str | None
    pods: int  # pods of this track the Service selects
    container_port: int | None  # the port most of them land on
    container: str | None
    missing: tuple[str, ...] = ()  # pods where the targetPort is not a declared container port
    ports_seen: tuple[int, ...] = ()  # every distinct landing port (more than one: pods disagree)


@dataclass(frozen=True)
class ServicePortMap:
    """One Service port: port -> targetPort -> the container port, per track."""

    name: str
    protocol: str
    port: int
    target: int | str
    node_port: int | None
    landings: tuple[PortLanding, ...]

    def landing(self, track: str | None) -> PortLanding | None:
        for l in self.landings:
            if l.track == track:
                return l
        return None

    @property
    def text(self) -> str:
        """`80/TCP → http` (the per-track container ports are shown beside it)."""
        proto = "" if self.protocol == "TCP" else f"/{self.protocol}"
        return f"{self.port}{proto} → {self.target}"


def service_ports(service: dict, pods: Iterable[dict], track_of: TrackOf | None = None) -> list[ServicePortMap]:
    """Every port of the Service and where it lands on the pods it selects, per track; every pod is checked."""
    selected = pods_selected(service, pods)
    by_track: dict[str | None, list[dict]] = {}
    for p in selected:
        by_track.setdefault(track_of(p) if track_of else None, []).append(p)
    out = []
    for sp in _spec(service).get("ports") or ():
        target = target_of(sp)
        proto = sp.get("protocol") or "TCP"
        landings = []
        for track, ps in by_track.items():
            counts: dict[tuple[int | None, str | None], int] = {}
            missing = []
            for p in ps:
                pt = resolve_target_port(_spec(p), target, proto)
                if not pt.declared:
                    missing.append(_meta(p).get("name", ""))
                counts[(pt.port, pt.container)] = counts.get((pt.port, pt.container), 0) + 1
            (port, container), _ = max(counts.items(), key=lambda kv: (kv[1], kv[0][0] is not None))
            seen = tuple(sorted({k[0] for k in counts if k[0] is not None}))
            landings.append(PortLanding(track, len(ps), port, container, tuple(sorted(missing)), seen))
        out.append(ServicePortMap(sp.get("name") or "", proto, sp.get("port", 0), target, sp.get("nodePort"),
                                  tuple(landings)))
    return out
