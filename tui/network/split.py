"""The traffic split as each layer sees it: replicas and endpoints behind a shared Service, Argo Rollouts weights,
Istio VirtualService routes, NGINX canary ingresses, Gateway API HTTPRoutes. A layer the cluster lacks is absent."""

from __future__ import annotations

from dataclasses import dataclass

from tui.network.endpoints import counts_by_track
from tui.network.scope import NetworkScope, rollout_service
from tui.network.services import is_ready
from tui.rollout.tracks import TRACK_ORDER
from tui.kube.objects import dig as _dig, meta as _meta

NGINX = "nginx.ingress.kubernetes.io/"
ROUTER_LAYERS = ("argo", "flagger", "istio", "nginx", "gateway", "smi")


def _num(v, default: float | None = None) -> float | None:
    if isinstance(v, bool):
        return default
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return default
    return default


@dataclass(frozen=True)
class TrafficLayer:
    """One layer's view of the split. Percentages per track and per Service add up to 100 (when anything is routed)."""

    layer: str  # "replicas" | "endpoints" | "argo" | "istio" | "nginx" | "gateway"
    source: str  # "Service/checkout", "VirtualService/checkout (route primary)", ...
    weights: tuple[tuple[str | None, float], ...]  # (track, percent)
    services: tuple[tuple[str, float], ...] = ()  # (Service name, percent), for routers
    note: str = ""

    def weight(self, track: str | None) -> float | None:
        for t, w in self.weights:
            if t == track:
                return w
        return None

    @property
    def text(self) -> str:
        parts = [f"{t or 'untracked'} {_pct(w)}" for t, w in self.weights]
        return " / ".join(parts) or "nothing routed"


def _pct(w: float) -> str:
    return f"{w:.0f} %" if abs(w - round(w)) < 0.05 else f"{w:.1f} %"


def _percent(raw: dict, key_order=None) -> tuple[tuple, ...]:
    total = sum(raw.values())
    if total <= 0:
        return tuple((k, 0.0) for k in raw)
    items = [(k, v * 100.0 / total) for k, v in raw.items()]
    if key_order:
        items.sort(key=lambda kv: key_order(kv[0]))
    return tuple(items)


def _track_key(t):
    return TRACK_ORDER.get(t, len(TRACK_ORDER))


def _tracks_of_services(scope: NetworkScope, services: dict[str, float]) -> tuple[tuple[str | None, float], ...]:
    acc: dict[str | None, float] = {}
    for name, w in services.items():
        svc = scope.services_by_name.get(name)
        t = scope.service_track(svc) if svc is not None else None
        acc[t] = acc.get(t, 0.0) + w
    return tuple(sorted(acc.items(), key=lambda kv: _track_key(kv[0])))


def shared_service_layers(scope: NetworkScope) -> list[TrafficLayer]:
    """For each Service shared by several tracks: ready pods per track (replicas) and ready endpoints per track."""
    out = []
    tracks = [t for t in scope.tracks]
    if len(tracks) < 2:
        return out
    for svc in scope.related_services:
        if scope.service_track(svc) is not None:
            continue
        name = _meta(svc).get("name", "")
        ready_pods = {t: sum(1 for p in scope.pods_by_track.get(t, ()) if is_ready(p)
                             and not _meta(p).get("deletionTimestamp")) for t in tracks}
        if sum(ready_pods.values()) == 0:
            continue
        out.append(TrafficLayer("replicas", f"Service/{name}", _percent(ready_pods, _track_key),
                                note="ready pods per track: what a shared Service would spread over"))
        counts = counts_by_track(scope.rows(svc))
        eps = {t: (counts[t].ready if t in counts else 0) for t in tracks}
        eps.update({t: c.ready for t, c in counts.items() if t not in eps})
        out.append(TrafficLayer("endpoints", f"Service/{name}", _percent(eps, _track_key),
                                note="ready endpoints per track: what kube-proxy spreads over"))
    return out


def argo_layer(scope: NetworkScope) -> TrafficLayer | None:
    ro = scope.rollout
    canary = _dig(ro, "spec", "strategy", "canary")
    if not isinstance(canary, dict):
        return None
    st = (ro or {}).get("status") or {}
    stable_svc = canary.get("stableService") or ""
    canary_svc = canary.get("canaryService") or ""
    weights = _dig(st, "canary", "weights")
    if isinstance(weights, dict) and weights.get("canary") is not None:
        cw = _num(_dig(weights, "canary", "weight"), 0.0) or 0.0
        sw = _num(_dig(weights, "stable", "weight"), 100.0 - cw)
        canary_svc = _dig(weights, "canary", "serviceName") or canary_svc
        stable_svc = _dig(weights, "stable", "serviceName") or stable_svc
        note = "status.canary.weights"
    else:
        steps = canary.get("steps") or []
        idx = st.get("currentStepIndex")
        if not isinstance(idx, int):
            return None
        cw = 0.0
        for s in steps[: idx + 1]:
            if isinstance(s, dict) and "setWeight" in s:
                cw = _num(s["setWeight"], 0.0) or 0.0
        if idx >= len(steps) and steps:
            cw = 0.0 if st.get("stableRS") == st.get("currentPodHash") else 100.0
        sw = 100.0 - cw
        note = f"step {min(idx, len(steps))} of {len(steps)} (setWeight)"
    services = tuple((n, w) for n, w in ((stable_svc, sw), (canary_svc, cw)) if n)
    return TrafficLayer("argo", f"Rollout/{_meta(ro).get('name', '')}", (("stable", sw), ("canary", cw)), services,
                        note)


def flagger_layer(scope: NetworkScope) -> TrafficLayer | None:
    """What the Flagger Canary says it routes: status.canaryWeight to NAME-canary, the rest to NAME-primary
    (the routers it writes, a VirtualService, TrafficSplit or canary Ingress, are checked against it)."""
    c = scope.canary
    if not c or not _dig(c, "status", "phase"):  # not initialised yet: it routes nothing
        return None
    from tui.rollout.flagger import CANARY, PRIMARY, flagger_status, strategy

    if strategy(c) != "canary":
        return None
    cw = float(flagger_status(c).canary_weight)
    apex = str((_dig(c, "spec", "service") or {}).get("name") or _dig(c, "spec", "targetRef", "name") or "")
    services = ((f"{apex}-primary", 100.0 - cw), (f"{apex}-canary", cw))
    return TrafficLayer("flagger", f"Canary/{_meta(c).get('name', '')}", ((PRIMARY, 100.0 - cw), (CANARY, cw)),
                        services, "status.canaryWeight")


def _vs_service(host: str, namespace: str) -> str | None:
    """The Service a VirtualService destination host names in `namespace`, or None for another namespace or
    an external host."""
    host = (host or "").rstrip(".")
    parts = host.split(".")
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2 and parts[1] == namespace:
        return parts[0]
    if len(parts) >= 3 and parts[1] == namespace and parts[2] == "svc":
        return parts[0]
    return None


def subset_tracks(scope: NetworkScope) -> dict[tuple[str, str], str | None]:
    """{(Service host, subset name): track} for the DestinationRule subsets of the namespace: the subsets the Argo
    Rollout names (trafficRouting.istio.destinationRule canarySubsetName / stableSubsetName), else each subset's
    labels told apart by the rollout's track conventions."""
    out: dict[tuple[str, str], str | None] = {}
    dr_ref = _dig(scope.rollout, "spec", "strategy", "canary", "trafficRouting", "istio", "destinationRule") or {}
    named = {dr_ref.get("stableSubsetName"): "stable", dr_ref.get("canarySubsetName"): "canary"}
    named.pop(None, None)
    for dr in scope.destinationrules:
        host = _vs_service(_dig(dr, "spec", "host") or "", scope.namespace)
        if host is None:
            continue
        by_rollout = _meta(dr).get("name") == dr_ref.get("name")
        for sub in _dig(dr, "spec", "subsets") or []:
            if not isinstance(sub, dict) or not sub.get("name"):
                continue
            track = named.get(sub["name"]) if by_rollout else None
            if track is None:
                track = scope.resolver.track_of_labels(sub.get("labels") or {})
            out[(host, sub["name"])] = track
    if named and not dr_ref.get("name") in {_meta(d).get("name") for d in scope.destinationrules}:
        for host in {_meta(s).get("name", "") for s in scope.related_services}:
            for sub, track in named.items():
                out.setdefault((host, sub), track)
    return out


def istio_layers(scope: NetworkScope) -> list[TrafficLayer]:
    out = []
    related = {_meta(s).get("name") for s in scope.related_services}
    subsets = subset_tracks(scope)
    for vs in scope.virtualservices:
        for i, route in enumerate(_dig(vs, "spec", "http") or []):
            dests = route.get("route") or []
            svcs: dict[str, float] = {}
            by_track: dict[str | None, float] = {}
            for d in dests:
                name = _vs_service(_dig(d, "destination", "host") or "", scope.namespace)
                if name is None:
                    continue
                w = _num(d.get("weight"), None)
                if w is None:
                    w = 100.0 if len(dests) == 1 else 0.0
                svcs[name] = svcs.get(name, 0.0) + w
                subset = _dig(d, "destination", "subset")
                if subset:  # one Service, two subsets: the subset names the track, not the Service
                    track = subsets.get((name, subset))
                else:
                    svc = scope.services_by_name.get(name)
                    track = scope.service_track(svc) if svc is not None else None
                by_track[track] = by_track.get(track, 0.0) + w
            if not svcs or not (set(svcs) & related):
                continue
            label = route.get("name") or f"http[{i}]"
            total = sum(svcs.values()) or 1.0
            weights = tuple(sorted(((t, v * 100 / total) for t, v in by_track.items()), key=lambda kv: _track_key(kv[0])))
            out.append(TrafficLayer("istio", f"VirtualService/{_meta(vs).get('name', '')} ({label})", weights,
                                    tuple((k, v * 100 / total) for k, v in svcs.items())))
    return out


def _smi_weight(v) -> float:
    """SMI backend weights: a number (v1alpha2+) or a quantity ("500m", v1alpha1)."""
    if isinstance(v, str) and v.strip().endswith("m"):
        n = _num(v.strip()[:-1], 0.0) or 0.0
        return n / 1000.0
    return _num(v, 0.0) or 0.0


def smi_layers(scope: NetworkScope) -> list[TrafficLayer]:
    """SMI TrafficSplits (Linkerd, OSM; Flagger's and Argo's SMI providers): the apex Service's weighted backends."""
    out = []
    related = {_meta(s).get("name") for s in scope.related_services}
    for ts in scope.trafficsplits:
        apex = _dig(ts, "spec", "service") or ""
        svcs: dict[str, float] = {}
        for b in _dig(ts, "spec", "backends") or []:
            if isinstance(b, dict) and b.get("service"):
                svcs[b["service"]] = svcs.get(b["service"], 0.0) + _smi_weight(b.get("weight"))
        if not svcs or not ((set(svcs) | {apex}) & related):
            continue
        total = sum(svcs.values())
        pct = {k: (v * 100 / total if total else 0.0) for k, v in svcs.items()}
        out.append(TrafficLayer("smi", f"TrafficSplit/{_meta(ts).get('name', '')}", _tracks_of_services(scope, pct),
                                tuple(pct.items()), "" if total else "every backend has weight 0: no traffic"))
    return out


def ingress_backends(ing: dict) -> list[tuple[str, dict]]:
    """(Service name, port) of every backend of an Ingress, default backend first."""
    out = []
    dflt = _dig(ing, "spec", "defaultBackend", "service")
    if dflt:
        out.append((dflt.get("name", ""), dflt.get("port") or {}))
    for rule in _dig(ing, "spec", "rules") or []:
        for path in _dig(rule, "http", "paths") or []:
            svc = _dig(path, "backend", "service")
            if svc:
                out.append((svc.get("name", ""), svc.get("port") or {}))
    return out


def ingress_hosts(ing: dict) -> list[str]:
    return [r.get("host") for r in _dig(ing, "spec", "rules") or [] if r.get("host")]


def nginx_layers(scope: NetworkScope) -> list[TrafficLayer]:
    out = []
    related = {_meta(s).get("name") for s in scope.related_services}
    for ing in scope.ingresses:
        ann = _meta(ing).get("annotations") or {}
        if str(ann.get(NGINX + "canary", "")).lower() != "true":
            continue
        canary_svcs = {n for n, _ in ingress_backends(ing)}
        if not canary_svcs & related:
            continue
        total = _num(ann.get(NGINX + "canary-weight-total"), 100.0) or 100.0
        w = min(total, max(0.0, _num(ann.get(NGINX + "canary-weight"), 0.0) or 0.0))
        cw = w * 100.0 / total
        hosts = set(ingress_hosts(ing))
        primary = [o for o in scope.ingresses if o is not ing
                   and str((_meta(o).get("annotations") or {}).get(NGINX + "canary", "")).lower() != "true"
                   and (set(ingress_hosts(o)) & hosts or not hosts)]
        stable_svcs = {n for o in primary for n, _ in ingress_backends(o)}
        svcs = {n: cw / len(canary_svcs) for n in sorted(canary_svcs)}
        for n in sorted(stable_svcs):
            svcs[n] = svcs.get(n, 0.0) + (100.0 - cw) / len(stable_svcs)
        notes = []
        for k in ("canary-by-header", "canary-by-cookie"):
            if ann.get(NGINX + k):
                notes.append(f"{k} {ann[NGINX + k]} overrides the weight for matching requests")
        if not primary:
            notes.append("no primary Ingress for the same host")
        out.append(TrafficLayer("nginx", f"Ingress/{_meta(ing).get('name', '')}", _tracks_of_services(scope, svcs),
                                tuple(svcs.items()), "; ".join(notes)))
    return out


def route_backend_refs(rule: dict) -> list[dict]:
    return [b for b in rule.get("backendRefs") or [] if (b.get("kind") or "Service") == "Service"
            and (b.get("group") or "") in ("", "core")]


def gateway_layers(scope: NetworkScope) -> list[TrafficLayer]:
    out = []
    related = {_meta(s).get("name") for s in scope.related_services}
    for hr in scope.httproutes:
        for i, rule in enumerate(_dig(hr, "spec", "rules") or []):
            svcs: dict[str, float] = {}
            for b in route_backend_refs(rule):
                if (b.get("namespace") or scope.namespace) != scope.namespace:
                    continue
                w = _num(b.get("weight"), 1.0)
                svcs[b.get("name", "")] = svcs.get(b.get("name", ""), 0.0) + (w or 0.0)
            if not svcs or not set(svcs) & related:
                continue
            total = sum(svcs.values())
            pct = {k: (v * 100 / total if total else 0.0) for k, v in svcs.items()}
            label = rule.get("name") or f"rules[{i}]"
            out.append(TrafficLayer("gateway", f"HTTPRoute/{_meta(hr).get('name', '')} ({label})",
                                    _tracks_of_services(scope, pct), tuple(pct.items()),
                                    "" if total else "every backend has weight 0: no traffic"))
    return out


def traffic_split(scope: NetworkScope) -> list[TrafficLayer]:
    """Every layer that has an opinion on the split, in the order traffic meets them (router, then Service)."""
    out: list[TrafficLayer] = []
    a = argo_layer(scope) or flagger_layer(scope)
    if a is not None:
        out.append(a)
    out += istio_layers(scope) + nginx_layers(scope) + gateway_layers(scope) + smi_layers(scope)
    out += shared_service_layers(scope)
    return out


def stable_canary_services(scope: NetworkScope) -> dict[str, str]:
    """{role: Service name} for stable/canary from the Rollout, else from Service roles."""
    out = {}
    for role in ("stable", "canary"):
        name = rollout_service(scope.rollout, role)
        if not name:
            for s in scope.related_services:
                if scope.service_role(s) == role:
                    name = _meta(s).get("name")
                    break
        if name:
            out[role] = name
    return out


def ready_endpoint_count(scope: NetworkScope, name: str) -> int | None:
    """Ready endpoints of a Service by name; None when the Service does not exist."""
    svc = scope.services_by_name.get(name)
    if svc is None:
        return None
    rows = scope.rows(svc)
    return sum(1 for r in rows if r.ready and not r.terminating)


__all__ = ["TrafficLayer", "traffic_split", "argo_layer", "istio_layers", "nginx_layers", "gateway_layers", "smi_layers",
           "shared_service_layers", "ingress_backends", "ingress_hosts", "route_backend_refs", "ROUTER_LAYERS",
           "stable_canary_services", "ready_endpoint_count"]
