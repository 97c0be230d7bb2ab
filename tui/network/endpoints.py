"""A Service's EndpointSlices as rows: each address with ready/serving/terminating, its pod and track; counts per track."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping
from tui.kube.objects import meta as _meta

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class EndpointRow:
    namespace: str
    service: str
    slice: str
    address: str
    ready: bool
    serving: bool
    terminating: bool
    pod: str  # "" when the endpoint has no Pod targetRef
    track: str | None
    node: str
    zone: str
    ports: tuple[tuple[str, int | None], ...]  # (port name, number) as the slice lists them

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.namespace, self.service, self.slice, self.address)

    @property
    def state(self) -> str:
        """In words (never by colour alone): ready, not ready, terminating (serving), terminating."""
        if self.terminating:
            return "terminating, serving" if self.serving else "terminating"
        if self.ready:
            return "ready"
        return "not ready, serving" if self.serving else "not ready"


def slices_of(service: dict, endpointslices: Iterable[dict]) -> list[dict]:
    """The EndpointSlices of a Service (by the kubernetes.io/service-name label), by name."""
    m = _meta(service)
    ns, name = m.get("namespace", ""), m.get("name", "")
    out = [s for s in endpointslices
           if _meta(s).get("namespace", "") == ns and (_meta(s).get("labels") or {}).get(SERVICE_NAME_LABEL) == name]
    out.sort(key=lambda s: _meta(s).get("name", ""))
    return out


def slice_rows(sl: dict, pods_by_name: Mapping[str, dict], track_of: Callable[[dict], str | None] | None) -> list[EndpointRow]:
    m = _meta(sl)
    ns = m.get("namespace", "")
    svc = (m.get("labels") or {}).get(SERVICE_NAME_LABEL, "")
    ports = tuple((p.get("name") or "", p.get("port")) for p in sl.get("ports") or ())
    rows = []
    for e in sl.get("endpoints") or ():
        cond = e.get("conditions") or {}
        # discovery.k8s.io/v1: an absent ready means ready; an absent serving means the same as ready
        ready = cond.get("ready") is not False
        serving = cond.get("serving") if cond.get("serving") is not None else ready
        terminating = bool(cond.get("terminating"))
        ref = e.get("targetRef") or {}
        pod_name = ref.get("name", "") if ref.get("kind", "Pod") == "Pod" else ""
        pod = pods_by_name.get(pod_name) if pod_name else None
        track = track_of(pod) if (pod is not None and track_of) else None
        for addr in e.get("addresses") or ():
            rows.append(EndpointRow(ns, svc, m.get("name", ""), addr, ready, bool(serving), terminating, pod_name,
                                    track, e.get("nodeName") or "", e.get("zone") or "", ports))
    return rows


def endpoint_rows(service: dict, endpointslices: Iterable[dict], pods: Iterable[dict] | Mapping[str, dict],
                  track_of: Callable[[dict], str | None] | None = None) -> list[EndpointRow]:
    """Every address of every slice of the Service. `pods` (a list, or {name: pod}) give each its track."""
    by_name = pods if isinstance(pods, Mapping) else {_meta(p).get("name", ""): p for p in pods}
    rows: list[EndpointRow] = []
    for sl in slices_of(service, endpointslices):
        rows.extend(slice_rows(sl, by_name, track_of))
    return rows


@dataclass(frozen=True)
class EndpointCounts:
    track: str | None
    total: int = 0
    ready: int = 0
    serving: int = 0
    terminating: int = 0

    @property
    def not_ready(self) -> int:
        return self.total - self.ready - self.terminating if self.total >= self.ready + self.terminating else 0

    @property
    def text(self) -> str:
        s = f"{self.ready}/{self.total} ready"
        if self.terminating:
            s += f", {self.terminating} terminating"
        return s


def counts_by_track(rows: Iterable[EndpointRow]) -> dict[str | None, EndpointCounts]:
    """Per track: addresses, ready, serving, terminating (a pod with two addresses counts twice)."""
    acc: dict[str | None, list[int]] = {}
    for r in rows:
        c = acc.setdefault(r.track, [0, 0, 0, 0])
        c[0] += 1
        c[1] += r.ready and not r.terminating
        c[2] += r.serving
        c[3] += r.terminating
    return {t: EndpointCounts(t, *c) for t, c in acc.items()}


def endpoint_pods(rows: Iterable[EndpointRow], *, ready_only: bool = False) -> set[str]:
    """Names of the pods the rows point at (not terminating; only ready ones with ready_only)."""
    return {r.pod for r in rows if r.pod and not r.terminating and (r.ready or not ready_only)}
