"""Which two environments to compare: Argo's active/preview or stable/canary ReplicaSets, the label convention's
Deployments (`environment=blue|green`, `deployment=stable|canary`), a Deployment's old and new ReplicaSets, or two
objects the user names (`deploy/NAME`, `rs/NAME`, a bare name: a Deployment first)."""

from __future__ import annotations

from typing import Iterable

from tui.diff.compare import Side
from tui.kube.selectors import parse_selector
from tui.rollout.target import APP_LABELS, owned_replicasets
from tui.rollout.tracks import TRACK_ORDER, TrackConventions, TrackResolver

PAIRS = (("blue", "green"), ("active", "preview"), ("stable", "canary"), ("primary", "canary"))
ALIASES = {"deploy": "deployments", "deployment": "deployments", "deployments": "deployments",
           "rs": "replicasets", "replicaset": "replicasets", "replicasets": "replicasets",
           "rollout": "rollouts", "rollouts": "rollouts", "ro": "rollouts"}
KIND_OF = {"deployments": "Deployment", "replicasets": "ReplicaSet", "rollouts": "Rollout"}
BLUE_GREEN = frozenset({"blue", "green", "active", "preview"})


class NoPair(Exception):
    """Why there are not two environments to compare, in one sentence."""


def _meta(o: dict | None) -> dict:
    return (o or {}).get("metadata") or {}


def _template(o: dict) -> dict:
    t = ((o.get("spec") or {}).get("template"))
    return t if isinstance(t, dict) else {}


def _int(v) -> int | None:
    try:
        return int(v) if v is not None else None
    except (TypeError, ValueError):
        return None


def label_token(labels: dict | None, conventions: TrackConventions) -> tuple[str | None, str]:
    """(track, the label value that named it) by the label conventions alone."""
    labels = labels or {}
    for key, values in conventions.labels:
        v = labels.get(key)
        if v is not None:
            track = dict(values).get(v)
            if track is not None:
                return track, v
    return None, ""


def side_of(obj: dict, kind: str, track: str | None = None, conventions: TrackConventions | None = None) -> Side:
    """A Side for a Deployment, ReplicaSet or Rollout object from the store."""
    m = _meta(obj)
    tpl = _template(obj)
    t, token = label_token(_meta(tpl).get("labels"), conventions or TrackConventions())
    st = obj.get("status") or {}
    return Side(track or t or m.get("name", "?"), kind, m.get("name", ""), m.get("namespace", ""), tpl,
                _int((obj.get("spec") or {}).get("replicas")), _int(st.get("readyReplicas")) or 0, token)


def _ordered(a: Side, b: Side, baseline: str | None) -> tuple[Side, Side]:
    if baseline == b.track or (baseline != a.track and TRACK_ORDER.get(b.track, 99) < TRACK_ORDER.get(a.track, 99)):
        return b, a
    return a, b


def find_pair(store, target, resolver: TrackResolver | None = None, baseline: str | None = None) -> tuple[Side, Side]:
    """The two environments of `target` (tui.rollout.target.Target), baseline first; NoPair says why not."""
    if target is None:
        raise NoPair("no rollout chosen")
    conventions = getattr(resolver, "conventions", None) or TrackConventions()
    ns = target.namespace
    if target.kind == "Rollout":
        ro = store.get("rollouts", ns, target.name)
        if ro is None:
            raise NoPair(f"Rollout {target.name} is not in namespace {ns}")
        resolver = resolver if resolver is not None and resolver.rollout is ro else TrackResolver(conventions, ro)
        by_hash = resolver.hashes
        rss = {(_meta(rs).get("labels") or {}).get(conventions.argo_hash_label): rs
               for rs in owned_replicasets(ro, store.list("replicasets", ns))}
        sides = {track: side_of(rss[h], "ReplicaSet", track, conventions) for h, track in by_hash.items() if h in rss}
        for pair in PAIRS:
            if all(t in sides for t in pair):
                return _ordered(sides[pair[0]], sides[pair[1]], baseline)
        strategy = resolver.strategy or "its strategy"
        raise NoPair(f"Rollout {target.name} runs one ReplicaSet now (no {'preview' if strategy == 'bluegreen' else 'canary'}"
                     f" in flight): nothing to compare")
    # Deployments of the app, one per track by the label conventions
    sel = parse_selector(target.selector) if target.selector else None
    wl = store.get("deployments", ns, target.name) if target.kind == "Deployment" else None
    apps = {(k, v) for k, v in (_meta(_template(wl)).get("labels") or {}).items() if k in APP_LABELS} if wl else set()
    by_track: dict[str, list[dict]] = {}
    for d in store.list("deployments", ns):
        labels = _meta(_template(d)).get("labels") or {}
        if not ((sel is not None and sel.matches(labels)) or any(labels.get(k) == v for k, v in apps)):
            continue
        track, _ = label_token(labels, conventions)
        if track is not None:
            by_track.setdefault(track, []).append(d)
    for pair in PAIRS:
        if all(len(by_track.get(t, ())) == 1 for t in pair):
            a, b = (side_of(by_track[t][0], "Deployment", t, conventions) for t in pair)
            return _ordered(a, b, baseline)
    if wl is not None:  # a plain Deployment in a rolling update: the old ReplicaSet against the new
        from tui.rollout.tracks import _replicas, _revision

        owned = sorted(owned_replicasets(wl, store.list("replicasets", ns)), key=_revision)
        running = [rs for rs in owned[:-1] if _replicas(rs) > 0]
        if owned and running:
            return _ordered(side_of(running[-1], "ReplicaSet", "stable", conventions),
                            side_of(owned[-1], "ReplicaSet", "canary", conventions), baseline)
        raise NoPair(f"Deployment {target.name} runs one ReplicaSet and no other Deployment of the app carries "
                     f"an environment or track label: nothing to compare")
    raise NoPair(f"no two environments of {target.ref}: no blue/green or stable/canary Deployments, no Rollout")


def resolve_named(store, namespace: str, spec: str, conventions: TrackConventions | None = None) -> Side:
    """`deploy/NAME`, `rs/NAME`, `rollout/NAME` or a bare NAME (a Deployment first, then a ReplicaSet)."""
    kind, _, name = spec.rpartition("/")
    if kind:
        res = ALIASES.get(kind.lower())
        if res is None:
            raise NoPair(f"{spec}: say deploy/NAME, rs/NAME or a bare name")
        kinds: Iterable[str] = (res,)
    else:
        kinds = ("deployments", "replicasets")
    for res in kinds:
        obj = store.get(res, namespace, name)
        if obj is not None:
            return side_of(obj, KIND_OF[res], name, conventions)
    what = " or ".join(KIND_OF[r] for r in kinds)
    raise NoPair(f"no {what} named {name} in namespace {namespace}")


def services_selecting(store, namespace: str, labels: dict | None) -> list[str]:
    """Services of the namespace whose selector selects pods with `labels`."""
    labels = labels or {}
    out = []
    for svc in store.list("services", namespace):
        sel = (svc.get("spec") or {}).get("selector") or {}
        if sel and all(labels.get(k) == v for k, v in sel.items()):
            out.append(_meta(svc).get("name", ""))
    return sorted(out)


def pods_of(store, namespace: str, labels: dict | None) -> list[dict]:
    """Pods carrying every one of `labels` (a template's labels, hash included: exactly that side's pods)."""
    labels = labels or {}
    out = []
    for p in store.list("pods", namespace):
        pl = _meta(p).get("labels") or {}
        if labels and all(pl.get(k) == v for k, v in labels.items()) and not _meta(p).get("deletionTimestamp"):
            out.append(p)
    return out


def pod_ready(pod: dict) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if isinstance(c, dict) and c.get("type") == "Ready":
            return c.get("status") == "True"
    return False
