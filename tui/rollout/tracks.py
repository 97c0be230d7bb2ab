"""Which track (stable/canary, blue/green, active/preview) a pod, ReplicaSet or Service belongs to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

# Display order of tracks everywhere (pods pane groups, findings, canary-vs-stable pane).
TRACKS: tuple[str, ...] = ("stable", "primary", "canary", "blue", "green", "active", "preview")  # primary: Flagger
TRACK_ORDER: dict[str | None, int] = {t: i for i, t in enumerate(TRACKS)} | {None: len(TRACKS)}


def track_sort_key(track: str | None) -> tuple[int, str]:
    """The one track order: the known tracks in TRACKS order, then other names alphabetically, then no track."""
    if track is None:
        return (len(TRACKS) + 1, "")
    return (TRACK_ORDER.get(track, len(TRACKS)), track)

ARGO_HASH_LABEL = "rollouts-pod-template-hash"
DEPLOYMENT_HASH_LABEL = "pod-template-hash"

LabelRule = tuple[str, tuple[tuple[str, str], ...]]  # (label key, ((label value, track), ...))

DEFAULT_LABEL_RULES: tuple[LabelRule, ...] = (
    # the runbooks' convention (seed 001): `kubectl get pods -l deployment=canary`
    ("deployment", (("canary", "canary"), ("stable", "stable"))),
    # blue/green environments (seed 001): `kubectl get pods -l environment=<target>`
    ("environment", (("blue", "blue"), ("green", "green"))),
    # the Kubernetes documentation's canary example: track: stable / track: canary
    ("track", (("stable", "stable"), ("canary", "canary"))),
)


@dataclass(frozen=True)
class TrackConventions:
    """How tracks are told apart. Label rules are tried in order; the first matching label wins."""

    labels: tuple[LabelRule, ...] = DEFAULT_LABEL_RULES
    argo_hash_label: str = ARGO_HASH_LABEL

    @classmethod
    def from_mapping(cls, labels: Mapping[str, Mapping[str, str]], argo_hash_label: str = ARGO_HASH_LABEL) -> "TrackConventions":
        """From {label key: {label value: track}}, in the mapping's order."""
        return cls(tuple((k, tuple(v.items())) for k, v in labels.items()), argo_hash_label)

    def sort_key(self, track: str | None) -> int:
        return TRACK_ORDER.get(track, len(TRACKS))


def _dig(obj: dict | None, *path: str):
    for p in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj


@dataclass
class TrackResolver:
    """Resolves tracks for one rollout.

    `rollout` is the Argo Rollout (or a Deployment, or None); Argo's pod-template hashes are read from
    its status: canary = status.currentPodHash when it differs from status.stableRS; blue/green =
    status.blueGreen.activeSelector / previewSelector. For Argo canaries the hash is authoritative
    (pod templates may carry a static `track` label); for blue/green and everything else the label
    conventions come first, so an `environment=blue|green` label names the track blue/green rather
    than active/preview.
    """

    conventions: TrackConventions = field(default_factory=TrackConventions)
    rollout: dict | None = None
    # For a plain Deployment: its ReplicaSets. During a rolling update the newest ReplicaSet's pods are
    # the canary and the older ones' the stable track (by `pod-template-hash`), as Argo does by its hash.
    replicasets: tuple = ()
    workload_kind: str | None = None  # "Rollout" | "Deployment"; list items carry no `kind`
    # {version label value: track} for an app told apart only by `version` labels (see version_tracks)
    versions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rules = [(k, dict(v)) for k, v in self.conventions.labels]
        if self.versions:
            self._rules.append(("version", dict(self.versions)))
        self._hash_label = self.conventions.argo_hash_label
        self._by_hash: dict[str, str] = {}
        self._service_roles: dict[str, str] = {}
        self.strategy: str | None = None  # "canary" | "bluegreen" | None
        ro = self.rollout
        kind = self.workload_kind or (ro or {}).get("kind")
        if ro and kind == "Deployment":
            self._deployment_hashes(ro)
            return
        if not ro or kind not in (None, "Rollout"):
            return
        strategy = _dig(ro, "spec", "strategy") or {}
        status = ro.get("status") or {}
        if "blueGreen" in strategy:
            self.strategy = "bluegreen"
            bg = strategy.get("blueGreen") or {}
            active = _dig(status, "blueGreen", "activeSelector")
            preview = _dig(status, "blueGreen", "previewSelector")
            if preview:
                self._by_hash[preview] = "preview"
            if active:
                self._by_hash[active] = "active"  # after preview: when both are equal, it is active
            for key, role in (("activeService", "active"), ("previewService", "preview")):
                if bg.get(key):
                    self._service_roles[bg[key]] = role
        elif "canary" in strategy:
            self.strategy = "canary"
            c = strategy.get("canary") or {}
            stable = status.get("stableRS")
            current = status.get("currentPodHash")
            if current and current != stable:
                self._by_hash[current] = "canary"
            if stable:
                self._by_hash[stable] = "stable"
            for key, role in (("stableService", "stable"), ("canaryService", "canary")):
                if c.get(key):
                    self._service_roles[c[key]] = role

    def _deployment_hashes(self, deployment: dict) -> None:
        self.strategy = "rolling"
        self._hash_label = DEPLOYMENT_HASH_LABEL
        name = (deployment.get("metadata") or {}).get("name")
        owned = []
        for rs in self.replicasets:
            owners = (rs.get("metadata") or {}).get("ownerReferences") or ()
            if any(o.get("kind") == "Deployment" and o.get("name") == name for o in owners):
                h = ((rs.get("metadata") or {}).get("labels") or {}).get(DEPLOYMENT_HASH_LABEL)
                if h:
                    owned.append((_revision(rs), h, rs))
        if not owned:
            return
        owned.sort(key=lambda t: t[0])
        newest = owned[-1]
        older_running = [h for _, h, rs in owned[:-1] if _replicas(rs) > 0]
        for _, h, _rs in owned[:-1]:
            self._by_hash[h] = "stable"
        # while an older ReplicaSet still runs pods, the new one is the version under test
        self._by_hash[newest[1]] = "canary" if older_running else "stable"

    # -------------------------------------------------------------------------------------------
    def _by_labels(self, labels: Mapping[str, str]) -> str | None:
        for key, values in self._rules:
            v = labels.get(key)
            if v is not None:
                t = values.get(v)
                if t is not None:
                    return t
        return None

    def track_of_labels(self, labels: Mapping[str, str] | None) -> str | None:
        """Track of a set of pod labels (a pod's, a ReplicaSet's template's, a Service's selector)."""
        if not labels:
            return None
        if self.strategy == "canary":
            h = labels.get(self._hash_label)
            if h is not None and h in self._by_hash:
                return self._by_hash[h]
            return self._by_labels(labels)
        t = self._by_labels(labels)
        if t is None and self._by_hash:
            h = labels.get(self._hash_label)
            if h is not None:
                return self._by_hash.get(h)
        return t

    def track_of(self, obj: dict, kind: str | None = None) -> str | None:
        """Track of a pod, a ReplicaSet or a Service (a Service by its selector, then by its role).

        Items of list responses carry no `kind`; pass `kind` ("Pod", "ReplicaSet", "Service", or the
        store's "pods"/"replicasets"/"services") when known, else it is told from the spec's shape.
        """
        kind = _KIND_ALIASES.get(kind or obj.get("kind") or "", "") or _guess_kind(obj)
        if kind == "Service":
            return self.track_of_service(obj)
        meta = obj.get("metadata") or {}
        t = self.track_of_labels(meta.get("labels"))
        if t is None and kind == "ReplicaSet":
            t = self.track_of_labels(_dig(obj, "spec", "template", "metadata", "labels"))
        return t

    def track_of_pod(self, pod: dict) -> str | None:
        return self.track_of_labels((pod.get("metadata") or {}).get("labels"))

    def track_of_service(self, svc: dict) -> str | None:
        selector = _dig(svc, "spec", "selector") or {}
        t = self._by_labels(selector)
        if t is None:
            t = self._service_roles.get((svc.get("metadata") or {}).get("name", ""))
        if t is None and self._by_hash:
            h = selector.get(self._hash_label)
            if h is not None:
                t = self._by_hash.get(h)
        return t

    def service_role(self, name: str) -> str | None:
        """The role the Rollout gives a Service by name: stable/canary/active/preview, or None."""
        return self._service_roles.get(name)

    @property
    def hashes(self) -> dict[str, str]:
        """{pod-template hash: track} known from the Rollout's status."""
        return dict(self._by_hash)


_KIND_ALIASES = {
    "Pod": "Pod", "pods": "Pod", "pod": "Pod",
    "ReplicaSet": "ReplicaSet", "replicasets": "ReplicaSet", "replicaset": "ReplicaSet",
    "Service": "Service", "services": "Service", "service": "Service",
}


def _revision(rs: dict) -> int:
    try:
        return int(((rs.get("metadata") or {}).get("annotations") or {}).get("deployment.kubernetes.io/revision", 0))
    except (TypeError, ValueError):
        return 0


def _replicas(rs: dict) -> int:
    st = rs.get("status") or {}
    try:
        return max(int(st.get("replicas") or 0), int((rs.get("spec") or {}).get("replicas") or 0))
    except (TypeError, ValueError):
        return 0


def _guess_kind(obj: dict) -> str:
    spec = obj.get("spec") or {}
    if "containers" in spec:
        return "Pod"
    if "template" in spec:
        return "ReplicaSet"
    if "ports" in spec or "clusterIP" in spec or "type" in spec or (
        "selector" in spec and isinstance(spec.get("selector"), dict) and "matchLabels" not in spec["selector"]
    ):
        return "Service"
    return "Pod"


def version_tracks(workloads, selects) -> dict[str, str]:
    """Tracks from `version` labels (Istio bookinfo style: reviews-v1, reviews-v2): the version whose workload
    is older is the baseline (stable), the newest the canary. One version alone gives no tracks.

    `workloads` are Deployments (or ReplicaSets); `selects(labels)` says whether the target selects a template."""
    from tui.kube.timestamps import parse_time

    first: dict[str, float] = {}
    for w in workloads:
        labels = (((w.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
        v = labels.get("version")
        if v is None or not selects(labels):
            continue
        created = parse_time((w.get("metadata") or {}).get("creationTimestamp")) or 0.0
        first[str(v)] = min(first.get(str(v), created), created)
    if len(first) < 2:
        return {}
    order = sorted(first, key=lambda v: (first[v], v))
    out = {v: "stable" for v in order[:-1]}
    out[order[-1]] = "canary"
    return out
