"""What the DNS/endpoints pane shows, as plain data: per Service its ports, endpoints and counts; the split; DNS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from tui.network.dns import DnsAnswer, environment_summary, environments
from tui.network.findings import CODES
from tui.network.endpoints import EndpointCounts, EndpointRow, counts_by_track
from tui.network.scope import NetworkScope
from tui.network.services import in_cluster_name, selector_text, service_ports, service_selector
from tui.network.split import TrafficLayer, traffic_split
from tui.rollout.findings import Finding
from tui.textsafe import clean_line
from tui.kube.objects import meta as _meta


@dataclass(frozen=True)
class ServiceView:
    name: str
    type: str
    cluster_ip: str
    external: str  # external IPs, load-balancer IPs/hostnames, or the ExternalName target; "" when none
    selector: str
    dns_name: str  # svc.ns.svc.cluster.local
    track: str | None  # None: shared by the tracks
    role: str | None
    ports: tuple[str, ...]  # "80/TCP → http → stable 8080 · canary 8080"
    counts: tuple[EndpointCounts, ...]  # per track, in track order


@dataclass(frozen=True)
class NetworkView:
    namespace: str
    services: tuple[ServiceView, ...] = ()
    endpoints: tuple[EndpointRow, ...] = ()
    split: tuple[TrafficLayer, ...] = ()
    dns: tuple[DnsAnswer, ...] = ()
    findings: tuple[Finding, ...] = ()
    dns_server: str | None = None  # None: the system's resolvers


def _external(svc: dict) -> str:
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return clean_line(spec.get("externalName") or "")
    vals = list(spec.get("externalIPs") or [])
    for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        vals.append(i.get("ip") or i.get("hostname") or "")
    return clean_line(", ".join(v for v in vals if v))


def _port_line(pm, tracks: list[str | None]) -> str:
    lands = []
    for l in pm.landings:
        if l.container_port is None:
            where = "no such port"
        else:
            where = str(l.container_port) + ("" if not l.missing else " (undeclared)")
        if len(l.ports_seen) > 1:
            where += " (pods disagree: " + ", ".join(map(str, l.ports_seen)) + ")"
        lands.append(f"{l.track or 'pods'} {where}")
    node = f" (node {pm.node_port})" if pm.node_port else ""
    name = f"{clean_line(pm.name)}: " if pm.name else ""
    return clean_line(f"{name}{pm.text}{node} → " + (" · ".join(lands) if lands else "no pods selected"))


def service_view(scope: NetworkScope, svc: dict, rows: list[EndpointRow]) -> ServiceView:
    spec = svc.get("spec") or {}
    counts = counts_by_track(rows)
    order = scope.tracks + [t for t in counts if t not in scope.tracks]
    return ServiceView(
        name=clean_line(_meta(svc).get("name", "")), type=clean_line(spec.get("type") or "ClusterIP"),
        cluster_ip=clean_line(spec.get("clusterIP") or "-"), external=_external(svc),
        selector=clean_line(selector_text(service_selector(svc))) if spec.get("selector") else "(none)",
        dns_name=clean_line(in_cluster_name(svc)), track=scope.service_track(svc), role=scope.service_role(svc),
        ports=tuple(_port_line(pm, scope.tracks) for pm in service_ports(svc, scope.pods, scope.track_of)),
        counts=tuple(counts[t] for t in order if t in counts))


def network_view(scope: NetworkScope, findings: Iterable[Finding] = (), dns: Iterable[DnsAnswer] = (),
                 layers: list[TrafficLayer] | None = None, dns_server: str | None = None) -> NetworkView:
    """Everything the pane draws for one rollout; cheap enough to rebuild on every coalesced batch of deltas."""
    services, endpoints = [], []
    for svc in scope.related_services:
        rows = scope.rows(svc)
        services.append(service_view(scope, svc, rows))
        endpoints.extend(rows)
    net_codes = set(CODES)
    return NetworkView(scope.namespace, tuple(services), tuple(endpoints),
                       tuple(traffic_split(scope) if layers is None else layers),
                       tuple(environments(a, scope) for a in dns),
                       tuple(f for f in findings if f.code in net_codes), dns_server)


__all__ = ["NetworkView", "ServiceView", "network_view", "service_view", "environment_summary"]
