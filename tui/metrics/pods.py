"""The rollout's pods as the metrics side sees them: tracks, limits, usage, the label that groups tracks, selection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from tui.kube.quantities import parse_quantity
from tui.metrics.analysis import PodInfo
from tui.metrics.queries import TrackGrouping, sanitize_label
from tui.rollout.findings import Finding

TrackOf = Callable[[dict], "str | None"]

def _meta(o: dict) -> dict:
    return o.get("metadata") or {}


def pod_name(p: dict) -> str:
    return _meta(p).get("name", "")


def is_ready(pod: dict) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def is_running(pod: dict) -> bool:
    st = pod.get("status") or {}
    return st.get("phase") == "Running" and not _meta(pod).get("deletionTimestamp")


def restarts(pod: dict) -> int:
    return sum(int(cs.get("restartCount") or 0) for cs in (pod.get("status") or {}).get("containerStatuses") or ())


def _limit_sum(pod: dict, key: str, parse) -> float | None:
    total = 0.0
    for c in (pod.get("spec") or {}).get("containers") or ():
        v = ((c.get("resources") or {}).get("limits") or {}).get(key)
        if v is None:
            return None  # one container without a limit: the pod has no overall limit
        x = parse(v)
        if x is None:
            return None
        total += x
    return total or None


def pod_infos(pods: Iterable[dict], track_of: TrackOf, usage: Mapping[str, tuple[float | None, float | None]]
              ) -> list[PodInfo]:
    out = []
    for p in pods:
        if _meta(p).get("deletionTimestamp"):
            continue
        name = pod_name(p)
        cpu, mem = usage.get(name, (None, None))
        out.append(PodInfo(name=name, track=track_of(p), restarts=restarts(p), ready=is_ready(p),
                           cpu_limit_cores=_limit_sum(p, "cpu", parse_quantity),
                           memory_limit_bytes=_limit_sum(p, "memory", parse_quantity), cpu_cores=cpu, memory_bytes=mem))
    return out


def usage_from_pod_metrics(items: Iterable[dict]) -> dict[str, tuple[float | None, float | None]]:
    """metrics.k8s.io PodMetrics items -> {pod: (cores, bytes)}, summed over containers."""
    out = {}
    for it in items:
        cpu = mem = 0.0
        for c in it.get("containers") or ():
            u = c.get("usage") or {}
            cpu += parse_quantity(u.get("cpu")) or 0.0
            mem += parse_quantity(u.get("memory")) or 0.0
        out[_meta(it).get("name", "")] = (cpu, mem)
    return out


def grouping_for(pods: Iterable[dict], track_of: TrackOf, candidate_keys: Iterable[str],
                 override: str | None = None) -> TrackGrouping:
    """The pod label whose values tell the tracks apart (and map one-to-one onto them), as a Prometheus label.

    `candidate_keys` in order of preference (the label conventions, then the pod-template-hash labels).
    `override` names the Prometheus label outright; its values are then taken from the pod label of the
    same sanitised name when there is one.
    """
    pods = [p for p in pods if track_of(p) is not None]
    keys = list(candidate_keys)
    if override:
        keys = [k for k in keys if sanitize_label(k) == override] or [override]
    for key in keys:
        values: dict[str, str] = {}
        ok = bool(pods)
        for p in pods:
            v = (_meta(p).get("labels") or {}).get(key)
            t = track_of(p)
            if v is None or values.get(v, t) != t:
                ok = False
                break
            values[v] = t
        if ok:
            return TrackGrouping(label=override or sanitize_label(key), values=values, pod_label=key)
    return TrackGrouping(label=override or "track", values={}, pod_label=None)


# ---- is the track selected by the Service that carries the traffic? ------------------------------------


@dataclass(frozen=True)
class Selection:
    service: str
    selector: dict = field(default_factory=dict)
    missing: tuple[tuple[str, str, str | None], ...] = ()  # (key, wanted, pod has)


def track_not_selected(track: str, pods: list[dict], all_pods: list[dict], services: Iterable[dict],
                       track_of: TrackOf) -> Selection | None:
    """When a Service selects the rollout's other pods but none of this track's: which one, and what the
    track's pods miss. None when some Service selects the track (or none selects anything)."""
    others = [p for p in all_pods if track_of(p) not in (track, None)]
    best = None
    for svc in services:
        sel = (svc.get("spec") or {}).get("selector") or {}
        if not sel:
            continue

        def matches(p):
            labels = _meta(p).get("labels") or {}
            return all(labels.get(k) == v for k, v in sel.items())

        if any(matches(p) for p in pods):
            return None
        if others and any(matches(p) for p in others):
            labels = _meta(pods[0]).get("labels") or {} if pods else {}
            missing = tuple((k, v, labels.get(k)) for k, v in sel.items() if labels.get(k) != v)
            if best is None:
                best = Selection(_meta(svc).get("name", ""), dict(sel), missing)
    return best


def no_traffic_finding(track: str, pods: list[dict], all_pods: list[dict], services: Iterable[dict],
                       track_of: TrackOf, how: str) -> Finding:
    """`no-traffic` for a track whose pods run but serve nothing; its evidence names the cause when known."""
    ready = [p for p in pods if is_ready(p)]
    ev: list[tuple[str, str]] = [("measured", how), ("ready pods", f"{len(ready)} of {len(pods)}")]
    sel = track_not_selected(track, pods, all_pods, list(services), track_of)
    if sel is not None:
        miss = ", ".join(f"{k}={v} (pods have {have if have is not None else 'no ' + k})" for k, v, have in sel.missing)
        ev.append(("cause", "track-not-selected"))
        ev.append((f"Service/{sel.service} selector", ",".join(f"{k}={v}" for k, v in sel.selector.items())))
        if miss:
            ev.append((f"{track} pods miss", miss))
        summary = (f"the {track} track serves no requests: Service {sel.service} does not select its pods")
    elif not ready:
        ev.append(("cause", "no ready pods"))
        summary = f"the {track} track serves no requests: none of its pods is ready"
    else:
        summary = f"the {track} track serves no requests although {len(ready)} pod(s) are ready"
    return Finding("no-traffic", "warning", track, summary, tuple(ev), tuple(f"Pod/{pod_name(p)}" for p in pods[:5]))
