"""Network findings: why traffic does not reach the pods one thinks it reaches. Every pod of every track is checked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Mapping

from tui.network.endpoints import EndpointRow, endpoint_pods
from tui.network.scope import NetworkScope, rollout_service
from tui.network.services import (CONTROLLER_LABELS, is_ready, resolve_target_port, selector_misses,
                                  selector_text, service_selector, target_of)
from tui.network.split import (ROUTER_LAYERS, TrafficLayer, _vs_service, ingress_backends, ready_endpoint_count,
                               route_backend_refs, stable_canary_services, traffic_split)
from tui.rollout.findings import SEVERITY_RANK, Finding, sort_findings
from tui.kube.selectors import SelectorError, selector_from_dict
from tui.kube.timestamps import parse_time
from tui.rollout.target import selector_string
from tui.textsafe import clean_line
from tui.kube.objects import dig as _dig, meta as _meta

CODES = (
    "service-selects-no-pods", "no-ready-endpoints", "single-endpoint", "track-not-selected",
    "target-port-not-exposed", "readiness-probe-missing", "probe-port-not-exposed", "probes-identical",
    "route-backend-missing", "networkpolicy-excludes-track", "endpoints-lag", "preview-points-at-active",
    "weights-disagree", "dns-stale", "dns-lookup-failed",
)
PROBES = ("readinessProbe", "livenessProbe", "startupProbe")
PROBE_HANDLERS = ("httpGet", "tcpSocket", "grpc", "exec")
PRIMARY_ROLES = (None, "stable", "active")


def _name(o: dict | None) -> str:
    return clean_line(_meta(o).get("name", ""))


def _tw(track: str | None) -> str:
    return f"{track} " if track else ""


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word}es" if word.endswith(("s", "sh", "ch")) else f"{n} {word}s"


def _secs(x: float) -> str:
    return f"{x:.1f} s" if x < 10 else f"{x:.0f} s"


def _names(names: Iterable[str], limit: int = 5) -> str:
    names = sorted(names)
    s = ", ".join(clean_line(n) for n in names[:limit])
    return s + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _live(pods: Iterable[dict]) -> list[dict]:
    return [p for p in pods if not _meta(p).get("deletionTimestamp")]


# ---- memory between evaluations ------------------------------------------------------------------


@dataclass
class _SvcMemory:
    selector: tuple
    switched_at: float | None = None
    mismatch_since: float | None = None
    followed_at: float | None = None
    lag: float | None = None


class NetworkHistory:
    """Remembers each Service's selector, so a switch can be timed until its endpoints follow (endpoints-lag)."""

    def __init__(self, grace: float = 1.0, remember: float = 120.0, max_services: int = 5000):
        self.grace = grace
        self.remember = remember
        self.max_services = max_services
        self._svc: dict[tuple[str, str], _SvcMemory] = {}

    def observe(self, key: tuple[str, str], selector: Mapping, in_sync: bool, now: float) -> _SvcMemory:
        sel = tuple(sorted((selector or {}).items()))
        m = self._svc.get(key)
        if m is None:
            if len(self._svc) >= self.max_services:
                self._svc.pop(next(iter(self._svc)))
            m = self._svc[key] = _SvcMemory(sel)
        elif m.selector != sel:
            m.selector, m.switched_at, m.followed_at, m.lag = sel, now, None, None
            m.mismatch_since = now
        if in_sync:
            if m.mismatch_since is not None and m.followed_at is None:
                m.followed_at = now
                m.lag = now - (m.switched_at if m.switched_at is not None else m.mismatch_since)
            m.mismatch_since = None
        elif m.mismatch_since is None:
            m.mismatch_since = now
            m.followed_at = None
        return m

    def switched_at(self, key: tuple[str, str]) -> float | None:
        m = self._svc.get(key)
        return m.switched_at if m else None

    def reset(self) -> None:
        self._svc.clear()


# ---- helpers -------------------------------------------------------------------------------------


def _severity_for_role(scope: NetworkScope, svc: dict, primary: str, other: str) -> str:
    role = scope.service_role(svc)
    track = scope.service_track(svc)
    if role in ("canary", "preview") or track in ("canary", "preview", "green") and role not in ("stable", "active"):
        return other
    return primary


def _svc_obj(svc: dict) -> str:
    return f"Service/{_name(svc)}"


def _has_pods_or_template(scope: NetworkScope, track) -> bool:
    return bool(scope.pods_by_track.get(track)) or track in scope.templates_by_track


# ---- services and endpoints -------------------------------------------------------------------


def rule_selects_no_pods(scope: NetworkScope) -> list[Finding]:
    out = []
    for svc in scope.related_services:
        sel = service_selector(svc)
        if not sel or (svc.get("spec") or {}).get("type") == "ExternalName":
            continue
        if scope.selected(svc):
            continue
        track = scope.service_track(svc)
        if track is not None and not scope.pods_by_track.get(track):
            tpl = scope.templates_by_track.get(track)
            if tpl is None or not selector_misses(sel, _dig(tpl[1], "metadata", "labels"), CONTROLLER_LABELS):
                continue  # nothing to select yet, and what will come matches
        near = [(t, p) for t, ps in scope.pods_by_track.items() for p in ps if track is None or t == track] or \
            [(t, p) for t, ps in scope.pods_by_track.items() for p in ps]
        ev = [("service", _name(svc)), ("selector", clean_line(selector_text(sel)))]
        if near:
            t, p = near[0]
            misses = selector_misses(sel, _meta(p).get("labels"))
            for k, want, have in misses[:3]:
                ev.append((f"{_tw(t)}pods' {clean_line(k)}", f"{clean_line(have) if have is not None else '(absent)'}"
                           f", selector wants {clean_line(want)}"))
        sev = _severity_for_role(scope, svc, "critical", "warning")
        out.append(Finding("service-selects-no-pods", sev, track,
                           f"Service {_name(svc)} selects no pods: its selector {clean_line(selector_text(sel))} "
                           f"matches none of the {_plural(len(scope.pods), 'pod')} of {clean_line(scope.app or 'the rollout')}.",
                           tuple(ev), (_svc_obj(svc),)))
    return out


def rule_endpoints(scope: NetworkScope, rows_of: Mapping[str, list[EndpointRow]]) -> list[Finding]:
    """no-ready-endpoints and single-endpoint."""
    out = []
    for svc in scope.related_services:
        name = _meta(svc).get("name", "")
        rows = [r for r in rows_of.get(name, ()) if not r.terminating]
        track = scope.service_track(svc)
        ready = [r for r in rows if r.ready]
        if rows and not ready:
            sev = _severity_for_role(scope, svc, "critical", "warning")
            per: dict = {}
            for r in rows:
                per[r.track] = per.get(r.track, 0) + 1
            out.append(Finding("no-ready-endpoints", sev, track,
                               f"Service {_name(svc)} has {_plural(len(rows), 'address')} and none is ready: "
                               f"it sends traffic nowhere.",
                               (("service", _name(svc)),) + tuple((f"{_tw(t)}addresses", f"{n}, 0 ready")
                                                                  for t, n in per.items())
                               + tuple(("not ready", f"{r.address} ({clean_line(r.pod) or 'no pod'})") for r in rows[:4]),
                               (_svc_obj(svc),) + tuple(f"Pod/{r.pod}" for r in rows if r.pod)))
        elif len({r.pod or r.address for r in ready}) == 1:
            r = ready[0]
            primary = scope.service_role(svc) in PRIMARY_ROLES and track not in ("canary", "preview")
            out.append(Finding("single-endpoint", "warning" if primary else "info", track,
                               f"Service {_name(svc)} has a single ready endpoint ({r.address}, "
                               f"{clean_line(r.pod) or 'no pod'}): one pod going away takes it down."
                               if primary else
                               f"Service {_name(svc)} has a single ready endpoint ({r.address}, {clean_line(r.pod) or 'no pod'}).",
                               (("service", _name(svc)), ("ready endpoint", f"{r.address} {clean_line(r.pod)}".strip()),
                                ("addresses", str(len(rows)))),
                               (_svc_obj(svc),) + ((f"Pod/{r.pod}",) if r.pod else ())))
    return out


def rule_track_not_selected(scope: NetworkScope) -> list[Finding]:
    out = []
    for svc in scope.related_services:
        sel = service_selector(svc)
        if not sel:
            continue
        intended = scope.intended_tracks(svc)
        if scope.service_track(svc) is None and scope.pods and not scope.selected(svc):
            continue  # selects nothing at all: service-selects-no-pods names the label
        chosen = {id(p) for p in scope.selected(svc)}
        selected_tracks = {}
        for t in scope.tracks:
            ps = _live(scope.pods_by_track.get(t, ()))
            if ps:
                selected_tracks[t] = [p for p in ps if id(p) in chosen]
        for t in intended:
            pods = _live(scope.pods_by_track.get(t, ()))
            if pods:
                missed = [p for p in pods if id(p) not in chosen]
                if not missed:
                    continue
                first = missed[0]
                misses = selector_misses(sel, _meta(first).get("labels"))
                subject = f"{len(missed)} of {_plural(len(pods), _tw(t) + 'pod')}"
                source = f"Pod/{_meta(first).get('name', '')}"
                objects = (_svc_obj(svc),) + tuple(f"Pod/{_meta(p).get('name', '')}" for p in missed)
            else:
                tpl = scope.templates_by_track.get(t)
                if tpl is None:
                    continue
                misses = selector_misses(sel, _dig(tpl[1], "metadata", "labels"), CONTROLLER_LABELS)
                if not misses:
                    continue
                subject = f"the {_tw(t)}pod template of {clean_line(tpl[0])} (no pods yet)"
                source = tpl[0]
                objects = (_svc_obj(svc), tpl[0])
            key, want, have = misses[0]
            # what the tracks the Service does select carry for that label: "both values"
            others = []
            for ot, ops in selected_tracks.items():
                if ot != t and ops:
                    v = (_meta(ops[0]).get("labels") or {}).get(key)
                    others.append(f"{_tw(ot)}pods have {clean_line(key)}={clean_line(v)}" if v is not None else "")
            others = [o for o in others if o]
            have_text = f"{clean_line(key)}={clean_line(have)}" if have is not None else f"no {clean_line(key)} label"
            summary = (f"Service {_name(svc)} selects {clean_line(key)}={clean_line(want)}, but {subject} "
                       f"{'has' if subject.startswith('the ') or subject.startswith('1 of') else 'have'} {have_text}"
                       + (f" ({'; '.join(others)})" if others else "") + ": they get no traffic from it.")
            ev = [("service", _name(svc)), ("label", clean_line(key)), ("Service selector wants", clean_line(want)),
                  (f"{_tw(t)}pods have" if pods else "template has",
                   clean_line(have) if have is not None else "(absent)"),
                  ("first", clean_line(source))]
            for k2, w2, h2 in misses[1:3]:
                ev.append(("also label", f"{clean_line(k2)}: wants {clean_line(w2)}, has "
                           f"{clean_line(h2) if h2 is not None else '(absent)'}"))
            ev += [("other tracks", o) for o in others[:2]]
            sev = "critical" if (not pods or len(missed) == len(pods)) else "warning"
            out.append(Finding("track-not-selected", sev, t, summary, tuple(ev), objects))
    return out


def _pod_specs(scope: NetworkScope, pods: Iterable[dict]) -> Iterable[tuple[str, dict]]:
    for p in pods:
        yield f"Pod/{_meta(p).get('name', '')}", p.get("spec") or {}


def rule_target_ports(scope: NetworkScope) -> list[Finding]:
    out = []
    for svc in scope.related_services:
        ports = (svc.get("spec") or {}).get("ports") or []
        selected = scope.selected(svc)
        by_track: dict = {}
        for p in selected:
            by_track.setdefault(scope.track_of(p), []).append(("Pod/" + _meta(p).get("name", ""), p.get("spec") or {},
                                                              scope.spec_key(p)))
        for t in scope.intended_tracks(svc):
            if t not in by_track and not scope.pods_by_track.get(t) and t in scope.templates_by_track:
                obj, tpl = scope.templates_by_track[t]
                if not selector_misses(service_selector(svc), _dig(tpl, "metadata", "labels"), CONTROLLER_LABELS):
                    by_track[t] = [(obj, tpl.get("spec") or {}, None)]
        for t, specs in by_track.items():
            for sp in ports:
                target = target_of(sp)
                memo: dict = {}
                bad = []
                for obj, spec, key in specs:
                    pt = memo.get(key) if key is not None else None
                    if pt is None:
                        pt = resolve_target_port(spec, target, sp.get("protocol") or "TCP")
                        if key is not None:
                            memo[key] = pt
                    bad.append((obj, pt))
                bad = [(obj, pt) for obj, pt in bad if not pt.declared]
                if not bad:
                    continue
                named = isinstance(target, str)
                obj0 = bad[0][0]
                spec0 = next(spec for obj, spec, _ in specs if obj == obj0)
                declared = [f"{clean_line(c.get('name', ''))}:" + ",".join(
                    f"{clean_line(str(cp.get('name') or ''))}{'=' if cp.get('name') else ''}{cp.get('containerPort')}"
                    for cp in c.get("ports") or ()) or f"{clean_line(c.get('name', ''))}: none"
                    for c in spec0.get("containers") or ()]
                what = f"the named port {clean_line(target)}" if named else f"port {target}"
                summary = (f"Service {_name(svc)} port {sp.get('port')} targets {what}, which "
                           f"{len(bad)} of {_plural(len(specs), _tw(t) + ('pod' if obj0.startswith('Pod/') else 'template'))} "
                           f"{'does' if len(bad) == 1 else 'do'} not declare"
                           + (": those pods get no traffic on it." if named else
                              ": traffic goes there, but no container says it listens."))
                ev = (("service", _name(svc)), ("port", f"{sp.get('port')} → {clean_line(str(target))}"),
                      ("first", clean_line(obj0)), ("declared", "; ".join(declared) or "no containers"))
                out.append(Finding("target-port-not-exposed", "critical" if named else "warning", t, summary, ev,
                                   (_svc_obj(svc),) + tuple(o for o, _ in bad)))
    return out


def _serving_containers(svc: dict, spec: dict) -> list[dict]:
    containers = spec.get("containers") or []
    names = set()
    for sp in (svc.get("spec") or {}).get("ports") or ():
        pt = resolve_target_port(spec, target_of(sp), sp.get("protocol") or "TCP")
        if pt.container:
            names.add(pt.container)
    return [c for c in containers if c.get("name") in names] or containers[:1]


def rule_readiness_missing(scope: NetworkScope) -> list[Finding]:
    per_track: dict = {}
    for svc in scope.related_services:
        memo: dict = {}
        for p in scope.selected(svc):
            name = _meta(p).get("name", "")
            key = scope.spec_key(p)
            lacking = memo.get(key) if key is not None else None
            if lacking is None:
                lacking = [c for c in _serving_containers(svc, p.get("spec") or {}) if not c.get("readinessProbe")]
                if key is not None:
                    memo[key] = lacking
            if lacking:
                containers, svcs = per_track.setdefault(scope.track_of(p), {}).setdefault(name, (set(), set()))
                containers.update(c.get("name", "") for c in lacking)
                svcs.add(_meta(svc).get("name", ""))
    out = []
    for t, pods in per_track.items():
        first = sorted(pods)[0]
        containers, svcs = pods[first]
        total = len(scope.pods_by_track.get(t, ()))
        out.append(Finding(
            "readiness-probe-missing", "warning", t,
            f"{len(pods)} of {_plural(total, _tw(t) + 'pod')} behind Service {_names(svcs)} "
            f"{'has' if len(pods) == 1 else 'have'} no readiness probe on {_names(containers)}: "
            f"they get traffic the moment they start.",
            (("first", clean_line(first)), ("containers", _names(containers)), ("services", _names(svcs)))
            + tuple(("also", clean_line(n)) for n in sorted(pods)[1:4]),
            tuple(f"Pod/{n}" for n in sorted(pods))))
    return out


def _probe_port(probe: dict) -> tuple[str, int | str] | None:
    for h in ("httpGet", "tcpSocket", "grpc"):
        if isinstance(probe.get(h), dict) and probe[h].get("port") is not None:
            port = probe[h]["port"]
            if isinstance(port, str) and port.isdigit():
                port = int(port)
            return h, port
    return None


def _subjects(scope: NetworkScope) -> Iterable[tuple[str | None, str, dict, object]]:
    """(track, "Pod/name" or "Deployment/name", pod spec, spec key): every pod, and the template of a track
    without pods."""
    for t, ps in scope.pods_by_track.items():
        for p in ps:
            yield t, f"Pod/{_meta(p).get('name', '')}", p.get("spec") or {}, scope.spec_key(p)
    for t, (obj, tpl) in scope.templates_by_track.items():
        if not scope.pods_by_track.get(t):
            yield t, obj, tpl.get("spec") or {}, None


def _probe_problems(spec: dict) -> tuple[list, list]:
    """([(container, probe kind, port, declared ports)], [(container, handler, whole probe equal)]) of one spec."""
    bad, same = [], []
    for c in spec.get("containers") or ():
        declared = c.get("ports") or []
        for kind in PROBES:
            probe = c.get(kind)
            if not isinstance(probe, dict):
                continue
            pp = _probe_port(probe)
            if pp is None:
                continue
            _, port = pp
            if isinstance(port, str):
                ok = any(cp.get("name") == port for cp in declared)
            else:
                ok = not declared or any(cp.get("containerPort") == port for cp in declared)
            if not ok:
                bad.append((c.get("name", ""), kind, port, declared))
        r, l = c.get("readinessProbe"), c.get("livenessProbe")
        if isinstance(r, dict) and isinstance(l, dict):
            hr = {h: r.get(h) for h in PROBE_HANDLERS if r.get(h) is not None}
            hl = {h: l.get(h) for h in PROBE_HANDLERS if l.get(h) is not None}
            if hr and hr == hl:
                same.append((c.get("name", ""), hr, r == l))
    return bad, same


def rule_probes(scope: NetworkScope) -> list[Finding]:
    """probe-port-not-exposed and probes-identical, per track over every pod."""
    port_bad: dict = {}
    identical: dict = {}
    counts: dict = {}
    memo: dict = {}
    for t, obj, spec, key in _subjects(scope):
        counts[t] = counts.get(t, 0) + 1
        res = memo.get(key) if key is not None else None
        if res is None:
            res = _probe_problems(spec)
            if key is not None:
                memo[key] = res
        bad, same = res
        for b in bad:
            port_bad.setdefault(t, []).append((obj,) + b)
        for x in same:
            identical.setdefault(t, []).append((obj,) + x)
    out = []
    for t, bad in port_bad.items():
        obj, cname, kind, port, declared = bad[0]
        named = isinstance(port, str)
        decl = ", ".join(f"{clean_line(str(cp.get('name') or '-'))}={cp.get('containerPort')}" for cp in declared) or "none"
        objs = sorted({b[0] for b in bad})
        out.append(Finding(
            "probe-port-not-exposed", "critical" if any(isinstance(b[3], str) for b in bad) else "warning", t,
            f"The {kind} of container {clean_line(cname)} aims at {'the named port ' if named else 'port '}"
            f"{clean_line(str(port))}, which the container does not declare"
            + (" (the probe cannot resolve it and fails)" if named else "")
            + f", in {len(objs)} of {_plural(counts.get(t, 0), _tw(t) + 'pod')}.",
            (("first", clean_line(obj)), ("container", clean_line(cname)), ("probe", kind),
             ("probe port", clean_line(str(port))), ("declared ports", decl)),
            tuple(objs)))
    for t, same in identical.items():
        obj, cname, handler, whole = same[0]
        objs = sorted({s[0] for s in same})
        desc = clean_line(json.dumps(handler, sort_keys=True, separators=(",", ":")))[:120]
        out.append(Finding(
            "probes-identical", "info", t,
            f"Container {clean_line(cname)} has identical readiness and liveness probes "
            f"({'same timings too' if whole else 'same check'}): a dependency outage that should only take it out "
            f"of the Service restarts it instead ({len(objs)} of {_plural(counts.get(t, 0), _tw(t) + 'pod')}).",
            (("first", clean_line(obj)), ("container", clean_line(cname)), ("check", desc)),
            tuple(objs)))
    return out


# ---- routes ----------------------------------------------------------------------------------------


def _port_ok(svc: dict, number=None, name=None) -> bool:
    ports = (svc.get("spec") or {}).get("ports") or []
    if svc.get("spec", {}).get("type") == "ExternalName":
        return True
    if number is not None:
        return any(p.get("port") == number for p in ports)
    if name is not None:
        return any(p.get("name") == name for p in ports)
    return True


def _route_refs(scope: NetworkScope) -> list[tuple[str, str, list[tuple[str, int | None, str | None]]]]:
    """(object "Kind/name", rule label, [(service, port number, port name)]) for every rule of every route."""
    out = []
    for ing in scope.ingresses:
        refs = [(n, port.get("number"), port.get("name")) for n, port in ingress_backends(ing)]
        out.append((f"Ingress/{_meta(ing).get('name', '')}", "", refs))
    for hr in scope.httproutes:
        for i, rule in enumerate(_dig(hr, "spec", "rules") or []):
            refs = [(b.get("name", ""), b.get("port"), None) for b in route_backend_refs(rule)
                    if (b.get("namespace") or scope.namespace) == scope.namespace]
            out.append((f"HTTPRoute/{_meta(hr).get('name', '')}", rule.get("name") or f"rules[{i}]", refs))
    for vs in scope.virtualservices:
        for proto in ("http", "tcp", "tls"):
            for i, route in enumerate(_dig(vs, "spec", proto) or []):
                refs = []
                for d in route.get("route") or []:
                    n = _vs_service(_dig(d, "destination", "host") or "", scope.namespace)
                    if n is not None:
                        refs.append((n, _dig(d, "destination", "port", "number"), None))
                out.append((f"VirtualService/{_meta(vs).get('name', '')}", route.get("name") or f"{proto}[{i}]", refs))
    return out


def _argo_routes(ro: dict | None) -> list[tuple[str, str, tuple[str, ...]]]:
    """(kind, name, route names) the Rollout's trafficRouting manages."""
    tr = _dig(ro, "spec", "strategy", "canary", "trafficRouting") or {}
    out = []
    istio = tr.get("istio") or {}
    vss = list(istio.get("virtualServices") or []) + ([istio["virtualService"]] if istio.get("virtualService") else [])
    for vs in vss:
        out.append(("VirtualService", vs.get("name", ""), tuple(vs.get("routes") or ())))
    nginx = tr.get("nginx") or {}
    for n in ([nginx["stableIngress"]] if nginx.get("stableIngress") else []) + list(nginx.get("stableIngresses") or []):
        out.append(("Ingress", n, ()))
    for key, plug in (tr.get("plugins") or {}).items():
        if "gatewayapi" in key.lower() and isinstance(plug, dict):
            names = [plug["httpRoute"]] if plug.get("httpRoute") else []
            names += [h.get("name", "") for h in plug.get("httpRoutes") or [] if isinstance(h, dict)]
            out += [("HTTPRoute", n, ()) for n in names]
    return out


def rule_route_backends(scope: NetworkScope) -> list[Finding]:
    out = []
    refs = _route_refs(scope)
    roles = stable_canary_services(scope)
    for obj, label, backends in refs:
        related = any(scope.is_related_name(n) for n, _, _ in backends) or scope.is_related_name(obj.split("/", 1)[1])
        if not related:
            continue
        where = f"{obj}" + (f" ({clean_line(label)})" if label else "")
        for n, num, pname in backends:
            svc = scope.services_by_name.get(n)
            if svc is None:
                out.append(Finding("route-backend-missing", "critical", _role_track(scope, n, roles),
                                   f"{clean_line(where)} sends traffic to Service {clean_line(n)}, which does not exist "
                                   f"in namespace {clean_line(scope.namespace)}.",
                                   (("route", clean_line(where)), ("missing Service", clean_line(n))), (obj,)))
            elif not _port_ok(svc, num, pname):
                have = ", ".join(f"{p.get('name') or '-'}={p.get('port')}" for p in (svc.get("spec") or {}).get("ports") or [])
                out.append(Finding("route-backend-missing", "critical", scope.service_track(svc),
                                   f"{clean_line(where)} sends traffic to port {clean_line(str(num if num is not None else pname))} "
                                   f"of Service {clean_line(n)}, which has no such port.",
                                   (("route", clean_line(where)), ("Service", clean_line(n)),
                                    ("port asked", clean_line(str(num if num is not None else pname))),
                                    ("Service ports", clean_line(have) or "none")), (obj, f"Service/{n}")))
        # a weighted rule with only one of stable/canary: the other gets nothing from it
        names = {n for n, _, _ in backends}
        if len(backends) >= 2 and len(roles) == 2:
            present = {r for r, n in roles.items() if n in names}
            if len(present) == 1:
                absent = ({"stable", "canary"} - present).pop()
                out.append(Finding("route-backend-missing", "warning", absent,
                                   f"{clean_line(where)} splits traffic but never names the {absent} Service "
                                   f"{clean_line(roles[absent])}.",
                                   (("route", clean_line(where)), (f"{absent} Service", clean_line(roles[absent])),
                                    ("backends", _names(names))), (obj,)))
    existing = {o for o, _, _ in refs}
    by_obj: dict[str, list[set]] = {}
    for obj, label, backends in refs:
        by_obj.setdefault(obj, []).append((label, {n for n, _, _ in backends}))
    for kind, name, routes in _argo_routes(scope.rollout):
        obj = f"{kind}/{name}"
        ro = f"Rollout/{_meta(scope.rollout).get('name', '')}"
        if obj not in existing:
            out.append(Finding("route-backend-missing", "critical", None,
                               f"{ro} routes traffic through {kind} {clean_line(name)}, which does not exist.",
                               (("rollout", ro), ("missing", clean_line(obj))), (ro,)))
            continue
        if kind == "Ingress":
            continue  # Argo creates the canary Ingress itself from the stable one
        rules = by_obj[obj]
        if routes:
            rules = [r for r in rules if r[0] in routes] or rules
        names = set().union(*(n for _, n in rules)) if rules else set()
        for role in ("stable", "canary"):
            svc = roles.get(role)
            if svc and svc not in names:
                out.append(Finding("route-backend-missing", "critical", role,
                                   f"{kind} {clean_line(name)}, managed by {ro}, has no route to the {role} Service "
                                   f"{clean_line(svc)}: Argo cannot shift traffic with it.",
                                   (("route", clean_line(obj)), (f"{role} Service", clean_line(svc)),
                                    ("backends", _names(names) or "none")), (obj, ro)))
    return out


def _role_track(scope: NetworkScope, name: str, roles: Mapping[str, str]) -> str | None:
    for r, n in roles.items():
        if n == name:
            return r
    return None


# ---- network policies ------------------------------------------------------------------------------


def _policy_selects(pol: dict, labels: Mapping | None) -> bool:
    sel = _dig(pol, "spec", "podSelector") or {}
    try:
        return selector_from_dict(sel).matches(labels) if sel else True
    except SelectorError:  # the API refuses such a policy; one that slipped through selects nothing
        return False


def _is_ingress_policy(pol: dict) -> bool:
    types = _dig(pol, "spec", "policyTypes")
    if types:
        return "Ingress" in types
    return True  # without policyTypes, every policy restricts ingress


def _allowed(pols: list[dict], labels: Mapping | None) -> tuple[frozenset | None, list[str]]:
    """The ingress rules that admit traffic to pods with these labels: None when no policy isolates them;
    "*" stands for a rule that admits everything."""
    rules: set[str] = set()
    names = []
    for pol in pols:
        if not _policy_selects(pol, labels):
            continue
        names.append(_meta(pol).get("name", ""))
        for r in _dig(pol, "spec", "ingress") or []:
            if not r or (not r.get("from") and not r.get("ports")):
                rules.add("*")
            else:
                rules.add(json.dumps(r, sort_keys=True))
    return (frozenset(rules) if names else None), names


def rule_networkpolicies(scope: NetworkScope) -> list[Finding]:
    pols = [p for p in scope.networkpolicies if _is_ingress_policy(p)]
    if not pols:
        return []
    out = []
    per_track: dict = {}
    for t, ps in scope.pods_by_track.items():
        per_track[t] = [(p, *_allowed(pols, _meta(p).get("labels"))) for p in _live(ps)]
    open_tracks = {}
    for t, entries in per_track.items():
        for p, allowed, names in entries:
            if allowed is None or "*" in allowed:
                open_tracks.setdefault(t, (p, allowed, names))
    for t, entries in per_track.items():
        blocked = [(p, a, n) for p, a, n in entries if a is not None and "*" not in a]
        if not blocked:
            continue
        for ot, others in per_track.items():
            if ot == t or not others:
                continue
            op, oa, on = others[0]
            missing = None
            if oa is None or "*" in oa:
                missing = set(oa or ()) or {"*"}
            else:
                worse = [(p, a, n) for p, a, n in blocked if oa - a]
                if worse:
                    blocked = worse
                    missing = oa - worse[0][1]
            if not missing:
                continue
            p0, a0, isolating = blocked[0]
            admitting = [pol for pol in pols if _policy_selects(pol, _meta(op).get("labels"))
                         and not _policy_selects(pol, _meta(p0).get("labels"))
                         and any(json.dumps(r, sort_keys=True) in missing or (not r.get("from") and not r.get("ports"))
                                 for r in _dig(pol, "spec", "ingress") or [{}])]
            ev = [("isolated by", _names(isolating)), ("first", f"Pod/{clean_line(_meta(p0).get('name', ''))}")]
            why = ""
            if admitting:
                pol = admitting[0]
                ml = _dig(pol, "spec", "podSelector", "matchLabels") or {}
                miss = selector_misses(ml, _meta(p0).get("labels"))
                ev.insert(0, ("admits only", f"NetworkPolicy/{_name(pol)} (podSelector "
                                             f"{clean_line(selector_string(_dig(pol, 'spec', 'podSelector')) or '{}')})"))
                if miss:
                    k, want, have = miss[0]
                    why = (f" (its podSelector wants {clean_line(k)}={clean_line(want)}; {_tw(t)}pods have "
                           f"{clean_line(k) + '=' + clean_line(have) if have is not None else 'no ' + clean_line(k)})")
                    ev.append(("label", f"{clean_line(k)}: policy wants {clean_line(want)}, {_tw(t)}pods have "
                                        f"{clean_line(have) if have is not None else '(absent)'}"))
                lead = f"NetworkPolicy {_name(pol)} lets traffic reach the {_tw(ot)}pods but not the {_tw(t)}pods{why}"
            elif oa is None:
                lead = f"{_tw(ot).capitalize() or 'Other '}pods take traffic from anywhere, but {_tw(t)}pods are isolated"
            else:
                lead = f"{_tw(t).capitalize()}pods admit less traffic than {_tw(ot)}pods"
            out.append(Finding(
                "networkpolicy-excludes-track", "critical", t,
                f"{lead}; {len(blocked)} of {_plural(len(entries), _tw(t) + 'pod')} {'is' if len(blocked) == 1 else 'are'} isolated by "
                f"{_names(isolating)}.",
                tuple(ev), tuple(f"NetworkPolicy/{n}" for n in sorted(set(isolating) | {_meta(a).get('name', '') for a in admitting}))))
            break
    # policies meant for this app that select nothing
    labels_seen = [_meta(p).get("labels") or {} for p in scope.pods] + \
        [_dig(tpl, "metadata", "labels") or {} for _, tpl in scope.templates_by_track.values()]
    for pol in scope.networkpolicies:
        sel = _dig(pol, "spec", "podSelector") or {}
        ml = sel.get("matchLabels") or {}
        meant = scope.app is not None and (any(ml.get(k) == scope.app for k in ("app", "app.kubernetes.io/name"))
                                           or _meta(pol).get("name", "").startswith(scope.app))
        if not sel or not meant:
            continue
        if any(_policy_selects(pol, ls) for ls in labels_seen):
            continue
        out.append(Finding("networkpolicy-excludes-track", "warning", None,
                           f"NetworkPolicy {_name(pol)} selects no pods: its podSelector "
                           f"{clean_line(selector_string(sel))} matches none of {clean_line(scope.app)}'s pods.",
                           (("podSelector", clean_line(selector_string(sel))),), (f"NetworkPolicy/{_name(pol)}",)))
    return out


# ---- switches, previews, weights -------------------------------------------------------------------


def rule_endpoints_lag(scope: NetworkScope, rows_of: Mapping[str, list[EndpointRow]], history: NetworkHistory | None,
                       now: float) -> list[Finding]:
    out = []
    for svc in scope.related_services:
        sel = service_selector(svc)
        if not sel:
            continue
        name = _meta(svc).get("name", "")
        want = {_meta(p).get("name", "") for p in scope.selected(svc)
                if (p.get("status") or {}).get("podIP") and not _meta(p).get("deletionTimestamp")}
        rows = rows_of.get(name, [])
        have = endpoint_pods(rows)
        stale = {n for n in have - want if n in scope.pods_by_name}  # pods it no longer selects
        absent = want - have
        in_sync = not stale and not absent
        if history is None:
            if not stale:
                continue
            since, lagged = None, None
        else:
            m = history.observe((scope.namespace, name), sel, in_sync, now)
            if in_sync:
                if m.lag is not None and m.lag >= history.grace and m.followed_at is not None \
                        and now - m.followed_at <= history.remember:
                    out.append(Finding("endpoints-lag", "info", scope.service_track(svc),
                                       f"The endpoints of Service {_name(svc)} followed its selector change after "
                                       f"{_secs(m.lag)}.",
                                       (("service", _name(svc)), ("selector", clean_line(selector_text(sel))),
                                        ("lag", f"{m.lag:.1f} s")), (_svc_obj(svc),)))
                continue
            since = m.switched_at if m.switched_at is not None else m.mismatch_since
            lagged = now - since if since is not None else None
            if lagged is not None and lagged < history.grace:
                continue
        tracks_stale = sorted({scope.track_of(scope.pods_by_name[n]) or "untracked" for n in stale})
        tracks_absent = sorted({scope.track_of(scope.pods_by_name[n]) or "untracked" for n in absent if n in scope.pods_by_name})
        parts = []
        if stale:
            parts.append(f"still list {_plural(len(stale), ' and '.join(tracks_stale) + ' pod')} it no longer selects")
        if absent:
            parts.append(f"miss {_plural(len(absent), ' and '.join(tracks_absent) + ' pod')} it selects")
        when = (f"changed {_secs(lagged)} ago" if lagged is not None and history and history.switched_at((scope.namespace, name))
                else "no longer matches them")
        ev = [("service", _name(svc)), ("selector", clean_line(selector_text(sel)))]
        if lagged is not None:
            ev.append(("lagging for", f"{lagged:.1f} s"))
        if stale:
            ev.append(("stale endpoints", _names(stale)))
        if absent:
            ev.append(("missing endpoints", _names(absent)))
        out.append(Finding("endpoints-lag", "warning", scope.service_track(svc),
                           f"Service {_name(svc)}'s selector {when}, but its endpoints {' and '.join(parts)}.",
                           tuple(ev), (_svc_obj(svc),)))
    return out


def rule_preview_points_at_active(scope: NetworkScope) -> list[Finding]:
    out = []
    ro = scope.rollout
    bg = _dig(ro, "status", "blueGreen") or {}
    if _dig(ro, "spec", "strategy", "blueGreen") is not None:
        cur = _dig(ro, "status", "currentPodHash")
        act, prev = bg.get("activeSelector"), bg.get("previewSelector")
        if cur and act and prev and prev == act and cur != act:
            name = _meta(ro).get("name", "")
            return [Finding("preview-points-at-active", "warning", "preview",
                            f"Rollout {clean_line(name)}'s preview Service {clean_line(rollout_service(ro, 'preview') or '')} "
                            f"still selects the active pods ({clean_line(act)}), not the new revision {clean_line(cur)}: "
                            f"nobody can preview it.",
                            (("active hash", clean_line(act)), ("preview hash", clean_line(prev)),
                             ("new hash", clean_line(cur))), (f"Rollout/{name}",))]
    actives = [s for s in scope.related_services if scope.service_role(s) == "active"]
    previews = [s for s in scope.related_services if scope.service_role(s) == "preview"]
    for pv in previews:
        pv_pods = {_meta(p).get("name") for p in scope.selected(pv)}
        for ac in actives:
            ac_pods = {_meta(p).get("name") for p in scope.selected(ac)}
            if not pv_pods or pv_pods != ac_pods:
                continue
            newest = max((parse_time(_meta(scope.pods_by_name[n]).get("creationTimestamp")) or 0.0) for n in ac_pods)
            newer = [p for p in _live(scope.pods) if _meta(p).get("name") not in ac_pods
                     and (parse_time(_meta(p).get("creationTimestamp")) or 0.0) > newest]
            if not newer:
                continue
            t_new = sorted({scope.track_of(p) or "untracked" for p in newer})
            tracks_act = sorted({scope.track_of(scope.pods_by_name[n]) or "untracked" for n in ac_pods})
            out.append(Finding("preview-points-at-active", "warning", t_new[0] if len(t_new) == 1 else None,
                               f"Preview Service {_name(pv)} selects the same {_plural(len(ac_pods), 'pod')} as the "
                               f"active Service {_name(ac)} ({', '.join(tracks_act)}); the newer {', '.join(t_new)} "
                               f"pods are previewed by nobody.",
                               (("preview selector", clean_line(selector_text(service_selector(pv)))),
                                ("active selector", clean_line(selector_text(service_selector(ac)))),
                                ("newer pods", _names(_meta(p).get("name", "") for p in newer))),
                               (_svc_obj(pv), _svc_obj(ac))))
    return out


def rule_weights(scope: NetworkScope, layers: list[TrafficLayer]) -> list[Finding]:
    out = []
    for l in layers:
        if l.layer not in ROUTER_LAYERS:
            continue
        for svc_name, w in l.services:
            if w <= 0:
                continue
            n = ready_endpoint_count(scope, svc_name)
            if n == 0:
                svc = scope.services_by_name.get(svc_name)
                track = scope.service_track(svc) if svc else None
                out.append(Finding("weights-disagree", "critical", track,
                                   f"Weight {w:.0f} % set ({clean_line(l.source)}), but the {_tw(track)}Service "
                                   f"{clean_line(svc_name)} has 0 ready endpoints: those requests fail.",
                                   (("layer", l.layer), ("source", clean_line(l.source)), ("weight", f"{w:.0f} %"),
                                    ("ready endpoints", "0")), (f"Service/{svc_name}",)))
    routers = [l for l in layers if l.layer in ROUTER_LAYERS and l.weight("canary") is not None]
    argo = next((l for l in routers if l.layer in ("argo", "flagger")), None)  # the controller's word first
    ref = argo or (routers[0] if routers else None)
    if ref is not None:
        for l in routers:
            if l is ref:
                continue
            a, b = ref.weight("canary"), l.weight("canary")
            if abs(a - b) > 1.0:
                out.append(Finding("weights-disagree", "warning", "canary",
                                   f"{clean_line(ref.source)} says canary {a:.0f} %, but {clean_line(l.source)} sends "
                                   f"{b:.0f} % to the canary.",
                                   ((ref.layer, f"canary {a:.0f} %"), (l.layer, f"canary {b:.0f} %")),
                                   tuple(s.split(" (")[0] for s in (ref.source, l.source))))
    by_src: dict = {}
    for l in layers:
        if l.layer in ("replicas", "endpoints"):
            by_src.setdefault(l.source, {})[l.layer] = l
    for src, pair in by_src.items():
        rep, eps = pair.get("replicas"), pair.get("endpoints")
        if rep is None or eps is None or not any(w for _, w in eps.weights):
            continue  # no ready endpoint at all: no-ready-endpoints / service-selects-no-pods say it better
        total_ready = sum(1 for ps in scope.pods_by_track.values() for p in ps if is_ready(p))
        tol = max(10.0, 100.0 / max(1, total_ready))
        for t, want in rep.weights:
            got = eps.weight(t) or 0.0
            if want - got > tol or (want > 0 and got == 0):
                out.append(Finding("weights-disagree", "warning", t,
                                   f"{_tw(t).capitalize()}pods are {want:.0f} % of the ready pods, but {got:.0f} % of "
                                   f"{clean_line(src.replace('/', ' '))}'s ready endpoints: the {_tw(t)}track gets "
                                   + ("no traffic." if got == 0 else "less traffic than its share."),
                                   (("replicas", rep.text), ("endpoints", eps.text)), (src,)))
    return out


# ---- DNS -------------------------------------------------------------------------------------------


def rule_dns_stale(scope: NetworkScope, lookups: Iterable, rows_of: Mapping[str, list[EndpointRow]]) -> list[Finding]:
    """`lookups` are tui.network.dns.DnsAnswer: a name tied to a Service whose answer points at pods that Service no
    longer sends traffic to."""
    out = []
    ip_to_pod = {(p.get("status") or {}).get("podIP"): p for p in scope.pods if (p.get("status") or {}).get("podIP")}
    for lk in lookups:
        if not getattr(lk, "service", None) or not lk.addresses:
            continue
        rows = rows_of.get(lk.service) or []
        current = {r.address for r in rows if r.ready and not r.terminating}
        if not rows or not current:
            continue
        old = [a for a in lk.addresses if a not in current]
        if not old:
            continue
        old_tracks = sorted({scope.track_of(ip_to_pod[a]) or "untracked" if a in ip_to_pod else "gone" for a in old})
        known = [a for a in old if a in ip_to_pod]
        if not known and len(old) < len(lk.addresses):
            continue  # part of the answer is current, the rest is not a pod we know: not an environment mismatch
        cur_tracks = sorted({r.track or "untracked" for r in rows if r.ready and not r.terminating})
        ttl = f", TTL left {lk.ttl} s" if lk.ttl is not None else ""
        svc = scope.services_by_name.get(lk.service)
        out.append(Finding("dns-stale", "warning", old_tracks[0] if len(old_tracks) == 1 and old_tracks[0] not in ("gone", "untracked") else None,
                           f"{clean_line(lk.name)} still points at {', '.join(old_tracks)} "
                           f"({len(old)} of {_plural(len(lk.addresses), 'address')}{ttl}); Service "
                           f"{clean_line(lk.service)} now sends to {', '.join(cur_tracks)}.",
                           (("name", clean_line(lk.name)), ("answer", _names(lk.addresses)),
                            ("service endpoints", _names(current)), ("server", clean_line(lk.server or "system"))),
                           ((f"Service/{lk.service}",) if svc else ())))
    return out


def rule_dns_failed(lookups: Iterable) -> list[Finding]:
    """`dns-lookup-failed`: a name of the rollout does not resolve from where Lookout runs (NXDOMAIN, timeout):
    clients that use it reach nothing, or this machine asks the wrong resolver (--dns-server)."""
    failed = [lk for lk in lookups if getattr(lk, "error", None)]
    if not failed:
        return []
    first = failed[0]
    ev = tuple((clean_line(lk.name), f"{clean_line(lk.error)} from {clean_line(lk.server or 'the system resolver')}")
               for lk in failed[:5])
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return [Finding("dns-lookup-failed", "warning", None,
                    f"{clean_line(first.name)} does not resolve: {clean_line(first.error)} from "
                    f"{clean_line(first.server or 'the system resolver')}{more}.", ev,
                    tuple(f"Service/{lk.service}" for lk in failed if getattr(lk, "service", None)))]


# ---- all of it -------------------------------------------------------------------------------------


def _merge(findings: list[Finding]) -> list[Finding]:
    """One finding per (code, track), as FindingTracker keys them: the most severe leads, the others join its evidence."""
    by: dict = {}
    for f in findings:
        by.setdefault(f.key, []).append(f)
    out = []
    for key, fs in by.items():
        fs.sort(key=lambda f: SEVERITY_RANK.get(f.severity, 9))
        lead = fs[0]
        if len(fs) == 1:
            out.append(lead)
            continue
        ev = lead.evidence + tuple(("also", f.summary) for f in fs[1:])
        objs = tuple(dict.fromkeys(o for f in fs for o in f.objects))
        out.append(Finding(lead.code, lead.severity, lead.track, lead.summary, ev, objs))
    return out


def network_findings(scope: NetworkScope, now: float, history: NetworkHistory | None = None,
                     dns: Iterable = (), layers: list[TrafficLayer] | None = None) -> list[Finding]:
    """Raw (not debounced) network findings for one rollout; merge them with tui.rollout's before FindingTracker."""
    rows_of = {_meta(s).get("name", ""): scope.rows(s) for s in scope.related_services}
    if layers is None:
        layers = traffic_split(scope)
    out = rule_selects_no_pods(scope)
    out += rule_endpoints(scope, rows_of)
    out += rule_track_not_selected(scope)
    out += rule_target_ports(scope)
    out += rule_readiness_missing(scope)
    out += rule_probes(scope)
    out += rule_route_backends(scope)
    out += rule_networkpolicies(scope)
    out += rule_endpoints_lag(scope, rows_of, history, now)
    out += rule_preview_points_at_active(scope)
    out += rule_weights(scope, layers)
    dns = list(dns)
    out += rule_dns_stale(scope, dns, rows_of)
    out += rule_dns_failed(dns)
    return sort_findings(_merge(out))
