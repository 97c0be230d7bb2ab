"""What the network views look at for one rollout: its pods and templates per track, its Services, slices, routes, policies."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable

from tui.network.services import pods_selected, service_selector
from tui.rollout.tracks import TRACK_ORDER, TrackResolver
from tui.kube.objects import dig as _dig, meta as _meta

APP_LABELS = ("app", "app.kubernetes.io/name")
ROLES = ("stable", "canary", "active", "preview")


@dataclass
class NetworkScope:
    """Plain data for one rollout in one namespace. Lists hold the namespace's objects as the store has them;
    absent kinds (no Gateway API, no Istio in the cluster) are empty lists, never errors."""

    namespace: str
    pods: list[dict]
    services: list[dict]
    endpointslices: list[dict] = field(default_factory=list)
    ingresses: list[dict] = field(default_factory=list)
    networkpolicies: list[dict] = field(default_factory=list)
    httproutes: list[dict] = field(default_factory=list)
    virtualservices: list[dict] = field(default_factory=list)
    destinationrules: list[dict] = field(default_factory=list)
    trafficsplits: list[dict] = field(default_factory=list)
    workloads: list[dict] = field(default_factory=list)  # Deployments, Rollouts, ReplicaSets: templates before pods
    rollout: dict | None = None  # the Argo Rollout when the target is one
    resolver: TrackResolver = field(default_factory=TrackResolver)
    app: str | None = None  # the app label value; found from the pods when None
    canary: dict | None = None  # the Flagger Canary when the rollout is one (tui.rollout.flagger)

    def __post_init__(self) -> None:
        ns = self.namespace

        def mine(objs):
            return [o for o in objs if _meta(o).get("namespace", "") == ns]
        self.pods = mine(self.pods)
        self.services = mine(self.services)
        self.endpointslices = mine(self.endpointslices)
        self.ingresses = mine(self.ingresses)
        self.networkpolicies = mine(self.networkpolicies)
        self.httproutes = mine(self.httproutes)
        self.virtualservices = mine(self.virtualservices)
        self.destinationrules = mine(self.destinationrules)
        self.trafficsplits = mine(self.trafficsplits)
        self.workloads = mine(self.workloads)
        if self.app is None:
            self.app = self._find_app()

    # ---- pods and tracks -----------------------------------------------------------------
    def track_of(self, pod: dict) -> str | None:
        cache = self.__dict__.setdefault("_tracks", {})
        k = id(pod)
        if k not in cache:
            cache[k] = (pod, self.resolver.track_of_pod(pod))  # the pod is kept so its id is not reused
        return cache[k][1]

    def spec_key(self, pod: dict):
        """Pods with the same key have the same containers (one template, and a pod's ports and probes cannot
        change): per-pod checks run once per key. None: check this pod on its own."""
        cache = self.__dict__.setdefault("_spec_keys", {})
        k = id(pod)
        if k not in cache:
            cache[k] = (pod, self._spec_key(pod))
        return cache[k][1]

    @staticmethod
    def _spec_key(pod: dict):
        m = _meta(pod)
        labels = m.get("labels") or {}
        h = labels.get("pod-template-hash") or labels.get("rollouts-pod-template-hash") or \
            labels.get("controller-revision-hash")
        owner = next((o.get("uid") or o.get("name") for o in m.get("ownerReferences") or () if o.get("controller")), None)
        return (h, owner) if h and owner else None

    def selected(self, svc: dict) -> list[dict]:
        """pods_selected(svc, pods), once per Service per scope."""
        cache = self.__dict__.setdefault("_selected", {})
        name = _meta(svc).get("name", "")
        if name not in cache:
            cache[name] = pods_selected(svc, self.pods)
        return cache[name]

    def rows(self, svc: dict):
        """The Service's EndpointSlice rows, once per Service per scope."""
        from tui.network.endpoints import endpoint_rows

        cache = self.__dict__.setdefault("_rows", {})
        name = _meta(svc).get("name", "")
        if name not in cache:
            cache[name] = endpoint_rows(svc, self.endpointslices, self.pods_by_name, self.track_of)
        return cache[name]

    @cached_property
    def pods_by_name(self) -> dict[str, dict]:
        return {_meta(p).get("name", ""): p for p in self.pods}

    @cached_property
    def pods_by_track(self) -> dict[str | None, list[dict]]:
        out: dict[str | None, list[dict]] = {}
        for p in self.pods:
            out.setdefault(self.track_of(p), []).append(p)
        return dict(sorted(out.items(), key=lambda kv: TRACK_ORDER.get(kv[0], len(TRACK_ORDER))))

    @cached_property
    def templates_by_track(self) -> dict[str | None, tuple[str, dict]]:
        """{track: ("Kind/name", pod template)} from the workloads; stands in for a track without pods yet."""
        out: dict[str | None, tuple[str, dict]] = {}
        for w in self.workloads:
            kind = w.get("kind") or ("ReplicaSet" if _dig(w, "metadata", "ownerReferences") else "Deployment")
            if kind == "ReplicaSet" and not (_dig(w, "spec", "replicas") or 0):
                continue  # an old ReplicaSet's template says nothing about what runs next
            tpl = _dig(w, "spec", "template")
            labels = _dig(tpl, "metadata", "labels") or {}
            if not tpl or not self._is_app(labels):
                continue
            track = self.resolver.track_of_labels(labels)
            if track is None:  # a Deployment's or Rollout's template has no pod-template hash: its pods' track is
                # its own, so a rule does not report one cause twice, from the pods and again from the template
                track = next((self.track_of(p) for p in self.pods
                              if labels.items() <= (_meta(p).get("labels") or {}).items()), None)
            out.setdefault(track, (f"{kind}/{_meta(w).get('name', '')}", tpl))
        return out

    @property
    def tracks(self) -> list[str | None]:
        """Tracks that have pods, or a workload template that will make some."""
        ts = set(self.pods_by_track) | set(self.templates_by_track)
        return sorted(ts, key=lambda t: TRACK_ORDER.get(t, len(TRACK_ORDER)))

    def _find_app(self) -> str | None:
        for src in [_meta(p).get("labels") or {} for p in self.pods] + \
                [_dig(w, "spec", "template", "metadata", "labels") or {} for w in self.workloads]:
            for k in APP_LABELS:
                if src.get(k):
                    return src[k]
        return None

    def _is_app(self, labels: dict) -> bool:
        if self.app is None:
            return True
        # Flagger's primary Deployment carries the app label rewritten to NAME-primary
        return any(labels.get(k) in (self.app, self.app + "-primary") for k in APP_LABELS)

    # ---- services --------------------------------------------------------------------------
    @cached_property
    def services_by_name(self) -> dict[str, dict]:
        return {_meta(s).get("name", ""): s for s in self.services}

    def service_role(self, svc: dict) -> str | None:
        """stable/canary/active/preview: from the Rollout, a `role` label, or the name's suffix."""
        name = _meta(svc).get("name", "")
        role = self.resolver.service_role(name)
        if role:
            return role
        label = (_meta(svc).get("labels") or {}).get("role")
        if label in ROLES:
            return label
        for r in ROLES:
            if name.endswith("-" + r):
                return r
        return None

    def service_track(self, svc: dict) -> str | None:
        """The one track a Service is meant for, or None for a Service shared by every track."""
        t = self.resolver.track_of_service(svc)
        if t is not None:
            return t
        role = self.service_role(svc)
        if role in ("canary", "preview") and role in self.pods_by_track:
            return role
        return None

    def intended_tracks(self, svc: dict) -> list[str | None]:
        t = self.service_track(svc)
        if t is not None:
            return [t]
        return self.tracks

    @cached_property
    def related_services(self) -> list[dict]:
        """The Services of this rollout: named by it, selecting its pods, or selecting by its app label."""
        out = []
        for s in self.services:
            name = _meta(s).get("name", "")
            sel = service_selector(s)
            # the rollout's own Service stays in view when its selector stops matching (a typo is an outage)
            related = bool(self.resolver.service_role(name)) or (self.app is not None and name == self.app)
            if not related and sel:
                related = bool(self.selected(s)) or (self.app is not None and any(
                    sel.get(k) == self.app for k in APP_LABELS))
            if not related and not sel and self.app is not None:
                related = (_meta(s).get("labels") or {}).get("app") == self.app or name == self.app \
                    or name.startswith(self.app + "-")
            if related:
                out.append(s)
        out.sort(key=lambda s: (TRACK_ORDER.get(self.service_track(s), -1) if self.service_track(s) else -1,
                                _meta(s).get("name", "")))
        return out

    def is_related_name(self, name: str) -> bool:
        if any(_meta(s).get("name") == name for s in self.related_services):
            return True
        return bool(self.app) and (name == self.app or name.startswith(self.app + "-"))


def rollout_service(rollout: dict | None, role: str) -> str | None:
    """The Service the Argo Rollout names for a role (stable/canary/active/preview)."""
    strategy = _dig(rollout, "spec", "strategy") or {}
    key = {"stable": ("canary", "stableService"), "canary": ("canary", "canaryService"),
           "active": ("blueGreen", "activeService"), "preview": ("blueGreen", "previewService")}[role]
    return _dig(strategy, *key)


def sort_by_name(objs: Iterable[dict]) -> list[dict]:
    return sorted(objs, key=lambda o: _meta(o).get("name", ""))


STORE_KINDS = ("pods", "services", "endpointslices", "ingresses", "networkpolicies", "httproutes", "virtualservices",
               "destinationrules", "trafficsplits",
               "deployments", "rollouts", "replicasets")


def scope_from_store(store, namespace: str, resolver: TrackResolver | None = None, *, rollout: dict | None = None,
                     pod_filter=None, app: str | None = None, canary: dict | None = None) -> NetworkScope:
    """A NetworkScope from the app's Store (or anything with `.objects` {kind: {(ns, name): obj}}); kinds the
    store has not got (no informer, CRD absent) are empty. `pod_filter(pod) -> bool` narrows the pods."""
    objects = store.objects if hasattr(store, "objects") else store

    def kind(k: str) -> list[dict]:
        return [o for (ns, _), o in (objects.get(k) or {}).items() if ns == namespace]
    pods = kind("pods")
    if pod_filter is not None:
        pods = [p for p in pods if pod_filter(p)]
    return NetworkScope(namespace, pods, kind("services"), kind("endpointslices"), kind("ingresses"),
                        kind("networkpolicies"), kind("httproutes"), kind("virtualservices"),
                        kind("destinationrules"), kind("trafficsplits"),
                        kind("deployments") + kind("rollouts") + kind("replicasets"), rollout,
                        resolver or TrackResolver(rollout=rollout), app, canary)
