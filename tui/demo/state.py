"""The demo cluster's object store: kinds, resourceVersions, selectors, paging and fan-out watches.

Everything runs on one asyncio event loop (the server's); nothing here is thread-safe.
Stored objects are shared, never copied on read: treat what `get`/`list`/watches hand out as read-only
and change objects through `update`/`mutate`. Each stored object's JSON bytes are kept beside it
(serialised once per change), so a 10,000-pod list is a join of cached bytes, not a re-encode.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import collections
import datetime as _dt
import os
import random
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import orjson

from tui.demo.defaults import DEFAULTERS as _DEFAULTERS
from tui.kube.selectors import Selector, SelectorError, parse_selector
from tui.demo.defaults import apply_defaults  # noqa: F401 - re-exported for the server

# --------------------------------------------------------------------------------------------- kinds

_ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
_READ_VERBS = ("get", "list")


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    singular: str = ""
    list_kind: str = ""
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status", "scale", "log", "proxy"
    verbs: tuple[str, ...] = _ALL_VERBS
    stored: bool = True  # False: a view computed by the server (podmetrics, events.k8s.io events)
    has_generation: bool = False  # metadata.generation bumps when anything but metadata/status changes
    # custom resources registered from a stored CustomResourceDefinition (ClusterState.kinds)
    crd: str = ""  # the CRD's name ("canaries.flagger.app")
    store: str = ""  # another served version of the same CRD whose objects this version shows
    printer_columns: tuple = field(default=(), hash=False)  # the served version's additionalPrinterColumns (dicts)
    scale_paths: tuple[str, str, str] = (".spec.replicas", ".status.replicas", "")  # spec, status, labelSelector

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def custom(self) -> bool:
        """A custom resource (served from a CRD): no strategic merge patch, validated by its CRD's schema."""
        return bool(self.crd) or self.group not in BUILTIN_GROUPS

    @property
    def group_version(self) -> str:
        return self.api_version


# API groups kube-apiserver serves itself (everything else here is a custom resource)
BUILTIN_GROUPS = frozenset({"", "apps", "batch", "autoscaling", "policy", "rbac.authorization.k8s.io",
                            "discovery.k8s.io", "networking.k8s.io", "apiextensions.k8s.io", "events.k8s.io",
                            "metrics.k8s.io", "coordination.k8s.io", "storage.k8s.io", "scheduling.k8s.io"})


def _k(group, version, kind, plural, namespaced, short=(), **kw) -> Kind:
    return Kind(group=group, version=version, kind=kind, plural=plural, namespaced=namespaced,
                short_names=tuple(short), singular=kind.lower(), list_kind=kind + "List", **kw)


KINDS: dict[str, Kind] = {
    "namespaces": _k("", "v1", "Namespace", "namespaces", False, ("ns",), subresources=("status",)),
    "nodes": _k("", "v1", "Node", "nodes", False, ("no",), subresources=("status", "proxy")),
    "pods": _k("", "v1", "Pod", "pods", True, ("po",), categories=("all",),
               subresources=("status", "log", "proxy")),
    "events": _k("", "v1", "Event", "events", True, ("ev",)),
    "services": _k("", "v1", "Service", "services", True, ("svc",), categories=("all",),
                   subresources=("status", "proxy")),
    "endpoints": _k("", "v1", "Endpoints", "endpoints", True, ("ep",)),
    "configmaps": _k("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    "secrets": _k("", "v1", "Secret", "secrets", True),
    "endpointslices": _k("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    "deployments": _k("apps", "v1", "Deployment", "deployments", True, ("deploy",), categories=("all",),
                      subresources=("status", "scale"), has_generation=True),
    "replicasets": _k("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), categories=("all",),
                      subresources=("status", "scale"), has_generation=True),
    "ingresses": _k("networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",),
                    subresources=("status",), has_generation=True),
    "networkpolicies": _k("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",),
                          has_generation=True),
    "serviceaccounts": _k("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    "persistentvolumeclaims": _k("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",),
                                 subresources=("status",)),
    "statefulsets": _k("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), categories=("all",),
                       subresources=("status", "scale"), has_generation=True),
    "daemonsets": _k("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), categories=("all",),
                     subresources=("status",), has_generation=True),
    "jobs": _k("batch", "v1", "Job", "jobs", True, (), categories=("all",), subresources=("status",),
               has_generation=True),
    "cronjobs": _k("batch", "v1", "CronJob", "cronjobs", True, ("cj",), categories=("all",),
                   subresources=("status",), has_generation=True),
    "horizontalpodautoscalers": _k("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True,
                                   ("hpa",), categories=("all",), subresources=("status",), has_generation=True),
    "poddisruptionbudgets": _k("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",),
                               subresources=("status",), has_generation=True),
    "roles": _k("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    "rolebindings": _k("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    "clusterroles": _k("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    "clusterrolebindings": _k("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    "customresourcedefinitions": _k("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
                                    "customresourcedefinitions", False, ("crd", "crds"),
                                    subresources=("status",), has_generation=True),
    "rollouts": _k("argoproj.io", "v1alpha1", "Rollout", "rollouts", True, ("ro",),
                   subresources=("status", "scale"), has_generation=True),
    "analysisruns": _k("argoproj.io", "v1alpha1", "AnalysisRun", "analysisruns", True, ("ar",),
                       subresources=("status",), has_generation=True),
    "analysistemplates": _k("argoproj.io", "v1alpha1", "AnalysisTemplate", "analysistemplates", True, ("at",),
                            has_generation=True),
    # Gateway API and Istio routes, as custom resources (tui/network reads their backends and weights)
    "httproutes": _k("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", True, (),
                     subresources=("status",), has_generation=True),
    "virtualservices": _k("networking.istio.io", "v1beta1", "VirtualService", "virtualservices", True, ("vs",),
                          has_generation=True),
    # views, not stored: events.k8s.io/v1 converts core events; metrics come from the simulation
    "events.events.k8s.io": _k("events.k8s.io", "v1", "Event", "events", True, ("ev",), stored=False),
    "podmetrics": _k("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", True, verbs=_READ_VERBS, stored=False),
    "nodemetrics": _k("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", False, verbs=_READ_VERBS,
                      stored=False),
}

# (group, version, plural) -> resource key, for routing
ROUTES: dict[tuple[str, str, str], str] = {(k.group, k.version, k.plural): key for key, k in KINDS.items()}
# (apiVersion, kind) -> resource key, for objects that say what they are (stored kinds only)
_BY_TYPE: dict[tuple[str, str], str] = {(k.api_version, k.kind): key for key, k in KINDS.items() if k.stored}


def resource_for(obj: dict, by_type: dict[tuple[str, str], str] | None = None) -> str:
    """The resource key of an object from its apiVersion and kind (built-in kinds, or `by_type`, a state's
    map that holds its custom resources too); BadRequest when it is not served."""
    key = (_BY_TYPE if by_type is None else by_type).get((obj.get("apiVersion") or "", obj.get("kind") or ""))
    if key is None:
        raise BadRequest(f'no matches for kind "{obj.get("kind")}" in version "{obj.get("apiVersion")}"')
    return key


def preinstalled_types() -> dict[tuple[str, str], str]:
    """(apiVersion, kind) -> resource key for the built-in kinds and those of the pre-installed CRDs (what a
    scenario's manifests may use)."""
    global _PREINSTALLED
    if _PREINSTALLED is None:
        from tui.demo.custom import preinstalled_crds  # noqa: PLC0415
        builtin = {(k.group, k.plural): key for key, k in KINDS.items() if k.group and k.stored}
        out = dict(_BY_TYPE)
        for crd in preinstalled_crds():
            for key, k in crd_kinds(crd, builtin).items():
                out.setdefault((k.api_version, k.kind), key)
        _PREINSTALLED = out
    return _PREINSTALLED


_PREINSTALLED: dict[tuple[str, str], str] | None = None


def custom_key(group: str, plural: str) -> str:
    """The resource key of a custom resource's stored objects: "canaries.flagger.app"."""
    return f"{plural}.{group}"


def version_priority(v: str) -> tuple:
    """Sort key for API versions in kube-apiserver's order: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > other."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (3, v)
    major, level, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    return (0 if level is None else 1 if level == "beta" else 2, -major, -minor)


def crd_kinds(crd: dict, builtin: dict[tuple[str, str], str]) -> dict[str, Kind]:
    """The kinds one CustomResourceDefinition serves, by resource key: the storage version's key holds the
    objects, other served versions show them (Kind.store). `builtin` maps (group, plural) to the key of a
    kind served without a CRD (rollouts): that key stays the store and keeps its version."""
    spec = crd.get("spec") if isinstance(crd.get("spec"), dict) else {}
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
    if not (isinstance(group, str) and isinstance(plural, str) and isinstance(kind, str) and group and plural):
        return {}
    versions = [v for v in spec.get("versions") or () if isinstance(v, dict) and v.get("served", True)
                and isinstance(v.get("name"), str)]
    if not versions:
        return {}
    storage = next((v for v in versions if v.get("storage")), versions[0])
    store = builtin.get((group, plural)) or custom_key(group, plural)
    base_version = KINDS[store].version if store in KINDS else storage["name"]
    crd_name = (crd.get("metadata") or {}).get("name") or f"{plural}.{group}"
    out: dict[str, Kind] = {}
    for v in versions:
        subs = v.get("subresources") if isinstance(v.get("subresources"), dict) else {}
        scale = subs.get("scale") if isinstance(subs.get("scale"), dict) else None
        key = store if v["name"] == base_version else f"{plural}.{v['name']}.{group}"
        if key in KINDS:
            continue  # a built-in kind keeps its own definition
        cols = tuple(dict(c) for c in v.get("additionalPrinterColumns") or () if isinstance(c, dict))
        out[key] = Kind(
            group=group, version=v["name"], kind=kind, plural=plural,
            namespaced=spec.get("scope", "Namespaced") != "Cluster",
            short_names=tuple(x for x in names.get("shortNames") or () if isinstance(x, str)),
            singular=names.get("singular") or kind.lower(), list_kind=names.get("listKind") or kind + "List",
            categories=tuple(x for x in names.get("categories") or () if isinstance(x, str)),
            subresources=(("status",) if "status" in subs else ()) + (("scale",) if scale is not None else ()),
            has_generation=True, crd=crd_name, store="" if key == store else store, printer_columns=cols,
            scale_paths=((scale.get("specReplicasPath") or ".spec.replicas",
                          scale.get("statusReplicasPath") or ".status.replicas",
                          scale.get("labelSelectorPath") or "") if scale else (".spec.replicas", ".status.replicas", "")))
    return out


# -------------------------------------------------------------------------------------------- errors

from tui.demo.errors import StateError, NotFound, AlreadyExists, Conflict, Gone, Invalid, BadRequest  # noqa: E402,F401 - re-exported: callers import them from here


# ------------------------------------------------------------------------------------------- helpers

def now_rfc3339() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def clone(obj: Any) -> Any:
    """Deep copy of plain JSON data, several times faster than copy.deepcopy."""
    return orjson.loads(orjson.dumps(obj))


_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAMES = {"namespaces", "services"}  # these need an RFC 1123 label, the rest a subdomain


def validate_name(res: str, name: str, kind: Kind | None = None) -> None:
    kind = kind or KINDS[res]
    if res in _LABEL_NAMES:
        ok = len(name) <= 63 and bool(_DNS1123_LABEL.match(name))
        rule = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
                "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
    else:
        ok = len(name) <= 253 and bool(_DNS1123_SUBDOMAIN.match(name))
        rule = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    if not ok:
        raise Invalid(f'{kind.kind} "{name}" is invalid: metadata.name: Invalid value: "{name}": {rule}',
                      res=res, name=name,
                      causes=[{"reason": "FieldValueInvalid", "message": f'Invalid value: "{name}": {rule}',
                               "field": "metadata.name"}])


_GEN_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# uids need to be unique, not secret: a seeded PRNG is 10x cheaper than uuid4's os.urandom per object
_uid_rng = random.Random(os.urandom(16))


# ----------------------------------------------------------------------------------------- selectors


class LabelSelector:
    """The demo's door to the one label-selector parser (tui.kube.selectors): what it refuses is a 400."""

    @staticmethod
    def parse(s: str | None) -> Selector:
        try:
            return parse_selector(s)
        except SelectorError as e:
            raise BadRequest(str(e)) from None


# field selectors: which fields each kind supports (beyond metadata.name / metadata.namespace)
_FIELDS: dict[str, tuple[str, ...]] = {
    "pods": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
    "events": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
               "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
               "reason", "reportingComponent", "source", "type"),
    "events.events.k8s.io": ("regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
                             "regarding.apiVersion", "regarding.resourceVersion", "regarding.fieldPath",
                             "reason", "reportingController", "type"),
    "secrets": ("type",),
    "namespaces": ("status.phase",),
    "nodes": ("spec.unschedulable",),
    "replicasets": ("status.replicas",),
}


_FIELD_PATHS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    res: tuple((f, tuple(f.split("."))) for f in fields if not (res == "events" and f == "source"))
    for res, fields in _FIELDS.items()}


def field_values(res: str, obj: dict) -> dict[str, str]:
    """The selectable fields of one object, as the strings a field selector compares with."""
    meta = obj.get("metadata") or {}
    out = {"metadata.name": meta.get("name") or "", "metadata.namespace": meta.get("namespace") or ""}
    for f, parts in _FIELD_PATHS.get(res, ()):
        cur: Any = obj
        for part in parts:
            cur = cur.get(part) if type(cur) is dict else None
            if cur is None:
                break
        if cur is None:
            out[f] = ""
        elif type(cur) is str:
            out[f] = cur
        elif type(cur) is bool:
            out[f] = "true" if cur else "false"
        else:
            out[f] = str(cur)
    if res == "events":
        out["source"] = (obj.get("source") or {}).get("component") or obj.get("reportingComponent") or ""
    return out


def _unescape_field(v: str) -> str:
    return re.sub(r"\\(.)", r"\1", v)


class FieldSelector:
    """`a=b,c!=d` over the fields `field_values` exposes; unknown fields are a BadRequest like a real server."""

    def __init__(self, reqs: Iterable[tuple[str, str, str]] = ()):
        self.reqs = tuple(reqs)  # (field, op "=" | "!=", value)

    def __bool__(self) -> bool:
        return bool(self.reqs)

    def matches(self, fields: dict[str, str]) -> bool:
        for f, op, v in self.reqs:
            have = fields.get(f, "")
            if (have == v) != (op == "="):
                return False
        return True

    def single_name(self) -> str | None:
        for f, op, v in self.reqs:
            if f == "metadata.name" and op == "=":
                return v
        return None

    @classmethod
    def parse(cls, s: str | None, res: str) -> "FieldSelector":
        if not s or not s.strip():
            return cls()
        allowed = {"metadata.name", "metadata.namespace", *_FIELDS.get(res, ())}
        reqs = []
        for part in re.split(r"(?<!\\),", s):
            part = part.strip()
            if not part:
                raise BadRequest(f"invalid field selector: {s!r}: empty requirement")
            m = re.match(r"^([^=!]+?)\s*(==|!=|=)\s*(.*)$", part)
            if not m:
                raise BadRequest(f"invalid selector: '{s}'; can't understand '{part}'")
            f, op, v = m.group(1).strip(), m.group(2), _unescape_field(m.group(3).strip())
            if f not in allowed:
                raise BadRequest(f"field label not supported: {f}")
            reqs.append((f, "!=" if op == "!=" else "=", v))
        return cls(reqs)


# ----------------------------------------------------------------------------------------- changes

class _Change:
    """One entry of the watch history; holds bytes, not the dict, so old versions cost ~their JSON size."""

    __slots__ = ("rv", "type", "res", "ns", "raw", "labels", "fields", "old_labels", "old_fields")

    def __init__(self, rv, type_, res, ns, raw, labels, fields, old_labels, old_fields):
        self.rv = rv
        self.type = type_
        self.res = res
        self.ns = ns
        self.raw = raw
        self.labels = labels
        self.fields = fields
        self.old_labels = old_labels
        self.old_fields = old_fields


@dataclass
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED
    raw: bytes  # the object's JSON
    _obj: dict | None = None

    @property
    def obj(self) -> dict:
        if self._obj is None:
            self._obj = orjson.loads(self.raw)
        return self._obj

    def frame(self) -> bytes:
        """One line of a Kubernetes watch stream."""
        return b'{"type":"' + self.type.encode() + b'","object":' + self.raw + b"}\n"


_CLOSED = object()


class Watch:
    """A watcher's view of the change stream: replay (or synthetic ADDED) first, then live changes.

    `async for type, obj in watch` per the contract; the server uses `await next_event(timeout)` to get
    `WatchEvent`s with their bytes and to interleave bookmarks. A watcher that falls `queue_size` changes
    behind is closed (after the queued events are delivered), so a slow client costs bounded memory and
    resumes from its last resourceVersion like after any dropped watch.
    """

    def __init__(self, state: "ClusterState", res: str, namespace: str | None, lsel: Selector | None,
                 fsel: FieldSelector, queue_size: int):
        self.state = state
        self.res = res
        self.namespace = namespace or None
        self.lsel = lsel
        self.fsel = fsel
        self._pending: collections.deque[WatchEvent] = collections.deque()
        self._queue: asyncio.Queue = asyncio.Queue(maxsize=queue_size)
        self.overflowed = False
        self.closed = False
        self.last_rv = 0  # resourceVersion of the last change routed to this watcher (or its start)

    # -- routing (called synchronously by the state)
    def _translate(self, ch: _Change) -> str | None:
        if self.namespace is not None and ch.ns != self.namespace:
            return None
        now = self._matches(ch.labels, ch.fields)
        if ch.type == "MODIFIED":
            was = self._matches(ch.old_labels, ch.old_fields)
            if now and was:
                return "MODIFIED"
            if now:
                return "ADDED"
            if was:
                return "DELETED"
            return None
        return ch.type if now else None

    def _matches(self, labels, fields) -> bool:
        return (not self.lsel or self.lsel.matches(labels)) and (not self.fsel or self.fsel.matches(fields))

    def _deliver(self, ch: _Change, obj: dict | None) -> None:
        if self.closed:
            return
        t = self._translate(ch)
        if t is None:
            return
        try:
            self._queue.put_nowait(WatchEvent(t, ch.raw, obj))
            self.last_rv = ch.rv
        except asyncio.QueueFull:
            self.overflowed = True
            self.state._unregister(self)
            self.closed = True

    # -- consuming
    async def next_event(self, timeout: float | None = None) -> WatchEvent | None:
        """The next event; None on timeout; raises StopAsyncIteration once closed and drained."""
        if self._pending:
            return self._pending.popleft()
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            pass
        if self.closed:
            raise StopAsyncIteration
        try:
            if timeout is None:
                ev = await self._queue.get()
            else:
                ev = await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            return None
        if ev is _CLOSED:
            raise StopAsyncIteration
        return ev

    def pending(self) -> int:
        return len(self._pending) + self._queue.qsize()

    def __aiter__(self):
        return self

    async def __anext__(self) -> tuple[str, dict]:
        ev = await self.next_event()
        return ev.type, ev.obj

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.state._unregister(self)
            try:
                self._queue.put_nowait(_CLOSED)  # wake a reader blocked in get()
            except asyncio.QueueFull:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------------------------- state

Key = tuple[str, str]  # (namespace or "", name)
ChangeFn = Callable[[str, str, dict, "dict | None"], None]


@dataclass
class ListPage:
    items_raw: list[bytes]
    resource_version: int
    continue_token: str | None
    remaining: int | None
    items: list[dict] = field(default_factory=list)  # the same objects as dicts (shared: read-only)


class ClusterState:
    """All objects of the demo cluster, with kube-apiserver semantics for resourceVersions and watches."""

    @staticmethod
    def now() -> str:
        """The time the server writes into objects (tests replace `now_rfc3339` to play a story on its clock)."""
        return now_rfc3339()

    def __init__(self, *, history: int = 10_000, watch_queue: int = 20_000, seed_crds: bool = True,
                 without_crds: Iterable[str] = ()):
        self.resource_version = 0
        self.history_size = history
        self.watch_queue = watch_queue
        self.graceful_pod_delete = False  # True: deleting a bound pod only marks it; the sim finishes it
        self._objs: dict[str, dict[Key, dict]] = {r: {} for r, k in KINDS.items() if k.stored}
        self._raw: dict[str, dict[Key, bytes]] = {r: {} for r in self._objs}
        self._sorted: dict[str, list[Key] | None] = {r: None for r in self._objs}
        self._history: collections.deque[_Change] = collections.deque(maxlen=history)
        self._compacted_rv = 0  # the newest rv no longer replayable (history before it dropped)
        self._watchers: dict[str, set[Watch]] = {r: set() for r in self._objs}
        self._listeners: list[ChangeFn] = []
        self._owned: dict[str, set[tuple[str, str, str]]] = {}  # owner uid -> {(res, ns, name)}
        self.counters = collections.Counter()
        self.callback_errors: list[str] = []
        # the kinds this cluster serves: the built-in ones, plus those of its stored CustomResourceDefinitions
        self.kinds: dict[str, Kind] = dict(KINDS)
        # served over HTTP: the built-in custom kinds (rollouts, ...) only while their CRD is stored
        self.routes: dict[tuple[str, str, str], str] = {r: key for r, key in ROUTES.items() if not KINDS[key].custom}
        self.by_type: dict[tuple[str, str], str] = dict(_BY_TYPE)
        self.kinds_generation = 0  # +1 whenever the served kinds change (discovery and OpenAPI caches key on it)
        if seed_crds:
            from tui.demo.custom import preinstalled_crds  # noqa: PLC0415 - custom imports nothing from here
            for crd in preinstalled_crds(without_crds):
                self.create(crd)

    # ------------------------------------------------------------------ custom resources
    def resource_for(self, obj: dict) -> str:
        """The resource key where an object of this apiVersion and kind is stored, custom resources included
        (another served version of a CRD is stored at its storage version's key)."""
        key = resource_for(obj, self.by_type)
        return self.kinds[key].store or key

    def _sync_crd(self, name: str, crd: dict | None) -> None:
        """Serve what a stored (or, with None, deleted) CustomResourceDefinition defines; drop what it no
        longer does (its objects go with its storage version, as kube-apiserver deletes them)."""
        builtin = {(k.group, k.plural): key for key, k in KINDS.items() if k.group and k.stored}
        alive = crd is not None and not (crd.get("metadata") or {}).get("deletionTimestamp")
        new = crd_kinds(crd, builtin) if alive else {}
        self._route_builtin(name, crd if alive else None, builtin)
        old = {key: k for key, k in self.kinds.items() if k.crd == name}
        if new == old:
            return
        for key, k in old.items():
            if key not in new and not k.store:
                for ok in list(self._objs.get(key, {})):
                    self._remove(key, ok)
                for w in list(self._watchers.get(key, ())):
                    w.close()
                for d in (self._objs, self._raw, self._sorted, self._watchers):
                    d.pop(key, None)
            if self.routes.get((k.group, k.version, k.plural)) == key:
                del self.routes[(k.group, k.version, k.plural)]
            if self.by_type.get((k.api_version, k.kind)) == key:
                del self.by_type[(k.api_version, k.kind)]
            del self.kinds[key]
        for key, k in new.items():
            if (k.group, k.version, k.plural) in self.routes:
                continue  # another CRD (or a built-in kind) serves this group/version/plural already
            self.kinds[key] = k
            self.routes[(k.group, k.version, k.plural)] = key
            self.by_type.setdefault((k.api_version, k.kind), key)
            if not k.store and key not in self._objs:
                self._objs[key], self._raw[key], self._sorted[key], self._watchers[key] = {}, {}, None, set()
        self.kinds_generation += 1

    def _route_builtin(self, name: str, crd: dict | None, builtin: dict[tuple[str, str], str]) -> None:
        """Serve a built-in custom kind (rollouts) while a CRD for it, serving its version, is stored."""
        for key, k in KINDS.items():
            if k.custom and f"{k.plural}.{k.group}" == name:
                route = (k.group, k.version, k.plural)
                spec = (crd or {}).get("spec") or {}
                served = {v.get("name") for v in spec.get("versions") or () if isinstance(v, dict)
                          and v.get("served", True)} if crd is not None else set()
                if k.version in served:
                    self.routes[route] = key
                elif self.routes.get(route) == key:
                    del self.routes[route]
                self.kinds_generation += 1

    def served(self) -> list[tuple[str, Kind]]:
        """(resource key, kind) of every kind served over HTTP now."""
        return [(key, self.kinds[key]) for key in self.routes.values()]

    def crd_version(self, kind: Kind) -> dict | None:
        """The `spec.versions[]` entry of the CRD behind a kind (its schema, columns), or None."""
        name = kind.crd or (f"{kind.plural}.{kind.group}" if kind.group else "")
        crd = self._objs["customresourcedefinitions"].get(("", name)) if name else None
        if crd is None:
            return None
        for v in (crd.get("spec") or {}).get("versions") or ():
            if isinstance(v, dict) and v.get("name") == kind.version:
                return v
        return None

    # ------------------------------------------------------------------ reads
    def kind(self, res: str) -> Kind:
        try:
            return self.kinds[res]
        except KeyError:
            raise NotFound(f"the server could not find the requested resource ({res})") from None

    def get(self, res: str, namespace: str | None, name: str) -> dict | None:
        return self._objs[res].get((namespace or "" if self.kinds[res].namespaced else "", name))

    def get_raw(self, res: str, namespace: str | None, name: str) -> bytes | None:
        return self._raw[res].get((namespace or "" if self.kinds[res].namespaced else "", name))

    def count(self, res: str) -> int:
        return len(self._objs[res])

    def _keys_sorted(self, res: str) -> list[Key]:
        keys = self._sorted[res]
        if keys is None:
            keys = self._sorted[res] = sorted(self._objs[res])
        return keys

    def _iter(self, res: str, namespace: str | None, start_after: Key | None = None) -> Iterator[Key]:
        keys = self._keys_sorted(res)
        lo = 0
        if namespace:
            lo = bisect.bisect_left(keys, (namespace, ""))
        if start_after is not None:
            lo = max(lo, bisect.bisect_right(keys, start_after))
        for i in range(lo, len(keys)):
            k = keys[i]
            if namespace and k[0] != namespace:
                break
            yield k

    def _select(self, res, namespace, label_selector, field_selector):
        lsel = label_selector if isinstance(label_selector, Selector) else LabelSelector.parse(label_selector)
        lsel = None if lsel.empty else lsel  # None: no label filtering at all (the fast paths test `not lsel`)
        fsel = (field_selector if isinstance(field_selector, FieldSelector)
                else FieldSelector.parse(field_selector, res))
        return lsel, fsel

    def _match_obj(self, res, obj, lsel, fsel) -> bool:
        if lsel and not lsel.matches((obj.get("metadata") or {}).get("labels")):
            return False
        if fsel and not fsel.matches(field_values(res, obj)):
            return False
        return True

    def list(self, res: str, namespace: str | None = None, label_selector=None,
             field_selector=None) -> tuple[list[dict], int]:
        lsel, fsel = self._select(res, namespace, label_selector, field_selector)
        objs = self._objs[res]
        if namespace:
            namespace = namespace if self.kinds[res].namespaced else None
        out = []
        if not namespace and not lsel and not fsel:
            out = [objs[k] for k in self._keys_sorted(res)]
        else:
            for k in self._iter(res, namespace):
                o = objs[k]
                if self._match_obj(res, o, lsel, fsel):
                    out.append(o)
        return out, self.resource_version

    def list_page(self, res: str, namespace: str | None = None, label_selector=None, field_selector=None,
                  limit: int | None = None, continue_token: str | None = None) -> ListPage:
        """A page of a list, as bytes, for the server: `continue` resumes after the last key returned.

        The token carries the list's resourceVersion; once the history has moved past it the token is
        expired (Gone), as a compacted etcd revision would be on a real server.
        """
        lsel, fsel = self._select(res, namespace, label_selector, field_selector)
        if not self.kinds[res].namespaced:
            namespace = None
        start_after: Key | None = None
        list_rv = self.resource_version
        if continue_token:
            try:
                tok = orjson.loads(base64.urlsafe_b64decode(continue_token.encode() + b"=" * (-len(continue_token) % 4)))
                list_rv = int(tok["rv"])
                start_after = (str(tok["start"][0]), str(tok["start"][1]))
            except Exception:
                raise BadRequest("continue key is not valid: incorrect encoded start resourceVersion "
                                 "(version meta.k8s.io/v1)") from None
            if list_rv < self._compacted_rv:
                raise Gone("The provided continue parameter is too old to display a consistent list result. "
                           "You can start a new list without the continue parameter, or use the continue "
                           "token in this response to retrieve the remainder of the results. Continuing "
                           "with the provided token results in an inconsistent list - objects that were "
                           "created, modified, or deleted between the time the first chunk was returned "
                           "and now may show up in the list.")
        objs, raws = self._objs[res], self._raw[res]
        out: list[bytes] = []
        out_objs: list[dict] = []
        last: Key | None = None
        more = False
        remaining = 0
        filtering = bool(lsel or fsel)
        for k in self._iter(res, namespace, start_after):
            if filtering and not self._match_obj(res, objs[k], lsel, fsel):
                continue
            if limit and len(out) >= limit:
                more = True
                if filtering:
                    break
                remaining += 1
                continue
            out.append(raws[k])
            out_objs.append(objs[k])
            last = k
        token = None
        rem = None
        if more and last is not None:
            token = base64.urlsafe_b64encode(orjson.dumps({"rv": list_rv, "start": list(last)})).decode().rstrip("=")
            rem = remaining if not filtering else None
        return ListPage(out, list_rv, token, rem, out_objs)

    # ------------------------------------------------------------------ writes
    def _key(self, res: str, obj: dict) -> Key:
        meta = obj.get("metadata") or {}
        ns = (meta.get("namespace") or "") if self.kinds[res].namespaced else ""
        return ns, meta.get("name") or ""

    def create(self, obj: dict, *, res: str | None = None, owned: bool = False, defaulted: bool = False) -> dict:
        """Store a new object (a copy): fills uid, resourceVersion, creationTimestamp, generation, and the
        fields kube-apiserver defaults (tui/demo/defaults.py).

        `owned=True` hands the dict itself to the state (no copy): the caller must not touch it afterwards.
        `defaulted=True`: the caller built the object with its defaults already. Pods the simulation's
        controllers create in-process (not owned, with an ownerReference) are taken as defaulted: their spec
        comes from a template defaulted when its ReplicaSet was stored, plus the pod-level defaults the
        controllers add; skipping them keeps the 10,000-pod start-up free of ~3 µs a pod. Everything that
        arrives through the API server (owned=True) is defaulted.
        """
        res = res or self.resource_for(obj)
        kind = self.kind(res)
        if not kind.stored:
            raise BadRequest(f"{kind.plural}.{kind.group} does not allow create")
        if not owned:
            obj = clone(obj)
        obj["apiVersion"] = kind.api_version
        obj["kind"] = kind.kind
        meta = obj.setdefault("metadata", {})
        if kind.namespaced:
            meta["namespace"] = meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            if meta.get("generateName"):
                rng = random.Random(self.resource_version * 7919 + len(self._objs[res]))
                meta["name"] = meta["generateName"] + "".join(rng.choice(_GEN_ALPHABET) for _ in range(5))
            else:
                raise Invalid(f"{kind.kind} \"\" is invalid: metadata.name: Required value: name or "
                              "generateName is required", res=res,
                              causes=[{"reason": "FieldValueRequired", "message": "Required value: name or "
                                       "generateName is required", "field": "metadata.name"}])
        validate_name(res, meta["name"], kind)
        key = self._key(res, obj)
        if key in self._objs[res]:
            raise AlreadyExists(f'{kind.plural}{"." + kind.group if kind.group else ""} "{key[1]}" already exists',
                                res=res, name=key[1])
        if not defaulted and (owned or res != "pods" or not meta.get("ownerReferences")):
            defaulter = _DEFAULTERS.get(res)
            if defaulter is not None:
                defaulter(obj, self, None)
        meta["uid"] = str(uuid.UUID(int=_uid_rng.getrandbits(128), version=4))
        meta["creationTimestamp"] = meta.get("creationTimestamp") or now_rfc3339()
        meta.pop("deletionTimestamp", None)
        if kind.has_generation:
            meta["generation"] = 1
        for f in ("labels", "annotations"):
            if isinstance(meta.get(f), dict) and not meta[f]:
                del meta[f]
        return self._store(res, key, obj, None, "ADDED")

    def update(self, obj: dict, *, expect_rv: str | None = None, res: str | None = None) -> dict:
        """Replace an object. Conflict when expect_rv is stale; generation +1 when the spec changed.

        An update that changes nothing is a no-op (no new resourceVersion, no watch event), as on a real
        server. Server-managed metadata (uid, creationTimestamp) is kept from the stored object.
        """
        res = res or self.resource_for(obj)
        kind = self.kind(res)
        key = self._key(res, obj)
        cur = self._objs[res].get(key)
        if cur is None:
            raise NotFound(f'{kind.plural}{"." + kind.group if kind.group else ""} "{key[1]}" not found',
                           res=res, name=key[1])
        if expect_rv not in (None, "") and str(expect_rv) != cur["metadata"].get("resourceVersion"):
            raise Conflict(f'Operation cannot be fulfilled on {kind.plural}{"." + kind.group if kind.group else ""} '
                           f'"{key[1]}": the object has been modified; please apply your changes to the latest '
                           "version and try again", res=res, name=key[1])
        new = clone(obj)
        defaulter = _DEFAULTERS.get(res)
        if defaulter is not None:
            defaulter(new, self, cur)
        return self._replace(res, key, cur, new)

    def _replace(self, res: str, key: Key, cur: dict, new: dict) -> dict:
        kind = self.kinds[res]
        new["apiVersion"] = kind.api_version
        new["kind"] = kind.kind
        meta = new.setdefault("metadata", {})
        cmeta = cur["metadata"]
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if f in cmeta:
                meta[f] = cmeta[f]
            else:
                meta.pop(f, None)
        if kind.namespaced:
            meta["namespace"] = key[0]
        meta["name"] = key[1]
        meta["resourceVersion"] = cmeta.get("resourceVersion")
        if kind.has_generation:
            gen = cmeta.get("generation", 1)
            meta["generation"] = gen
            if _spec_part(new) != _spec_part(cur):
                meta["generation"] = gen + 1
        for f in ("labels", "annotations"):
            if isinstance(meta.get(f), dict) and not meta[f]:
                del meta[f]
        if new == cur:
            return cur
        if cmeta.get("deletionTimestamp") and not meta.get("finalizers"):
            # the last finalizer is gone: the object goes away now
            self._store(res, key, new, cur, "MODIFIED")
            return self._remove(res, key)
        return self._store(res, key, new, cur, "MODIFIED")

    def mutate(self, res: str, namespace: str | None, name: str, fn: Callable[[dict], Any]) -> dict | None:
        """Deep-copy the stored object, let fn edit it, store it if it changed. None when absent."""
        key = (namespace or "" if self.kinds[res].namespaced else "", name)
        cur = self._objs[res].get(key)
        if cur is None:
            return None
        new = clone(cur)
        fn(new)
        return self._replace(res, key, cur, new)

    def delete(self, res: str, namespace: str | None, name: str, *, propagation: str = "Background",
               grace_period: int | None = None, expect_rv: str | None = None,
               expect_uid: str | None = None) -> dict:
        """Remove an object (NotFound if absent) and, unless propagation is Orphan, what it owns.

        Objects with finalizers (and bound pods when `graceful_pod_delete`) only get a deletionTimestamp;
        they go when their finalizers are removed (or the simulation deletes them with grace_period=0).
        Deleting a namespace deletes everything in it.
        """
        kind = self.kind(res)
        key = (namespace or "" if kind.namespaced else "", name)
        cur = self._objs[res].get(key)
        if cur is None:
            raise NotFound(f'{kind.plural}{"." + kind.group if kind.group else ""} "{name}" not found',
                           res=res, name=name)
        cmeta = cur["metadata"]
        if expect_rv and expect_rv != cmeta.get("resourceVersion") or expect_uid and expect_uid != cmeta.get("uid"):
            raise Conflict(f'Operation cannot be fulfilled on {kind.plural} "{name}": the precondition was not met',
                           res=res, name=name)
        graceful = (res == "pods" and self.graceful_pod_delete and grace_period != 0
                    and (cur.get("spec") or {}).get("nodeName")
                    and (cur.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))
        if cmeta.get("finalizers") or graceful:
            if cmeta.get("deletionTimestamp"):
                return cur
            gp = grace_period if grace_period is not None else (
                (cur.get("spec") or {}).get("terminationGracePeriodSeconds", 30) if graceful else 0)

            def mark(o):
                o["metadata"]["deletionTimestamp"] = now_rfc3339()
                o["metadata"]["deletionGracePeriodSeconds"] = gp

            new = clone(cur)
            mark(new)
            return self._store(res, key, new, cur, "MODIFIED")
        uid = cmeta.get("uid")
        gone = self._remove(res, key)
        if res == "namespaces":
            for r, objs in self._objs.items():
                if self.kinds[r].namespaced:
                    for k in [k for k in objs if k[0] == name]:
                        if k in objs:
                            self._remove(r, k)
        if uid:
            self._cascade(uid, orphan=propagation == "Orphan")
        return gone

    def _cascade(self, uid: str, orphan: bool) -> None:
        for r, ns, n in list(self._owned.pop(uid, ())):
            o = self._objs[r].get((ns, n))
            if o is None:
                continue
            if orphan:
                self.mutate(r, ns, n, lambda x: x["metadata"].__setitem__(
                    "ownerReferences", [ref for ref in x["metadata"].get("ownerReferences", [])
                                        if ref.get("uid") != uid]))
            else:
                try:
                    self.delete(r, ns, n)
                except NotFound:
                    pass

    # ------------------------------------------------------------------ internals
    def _next_rv(self) -> int:
        self.resource_version += 1
        return self.resource_version

    def _index_owners(self, res: str, key: Key, obj: dict | None, old: dict | None) -> None:
        for o, add in ((old, False), (obj, True)):
            if o is None:
                continue
            for ref in (o.get("metadata") or {}).get("ownerReferences") or ():
                u = ref.get("uid")
                if not u:
                    continue
                if add:
                    self._owned.setdefault(u, set()).add((res, key[0], key[1]))
                else:
                    s = self._owned.get(u)
                    if s:
                        s.discard((res, key[0], key[1]))

    def _store(self, res: str, key: Key, obj: dict, old: dict | None, etype: str) -> dict:
        rv = self._next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        raw = orjson.dumps(obj)
        objs = self._objs[res]
        if key not in objs:
            self._sorted[res] = None
        objs[key] = obj
        self._raw[res][key] = raw
        self._index_owners(res, key, obj, old)
        self._record(rv, etype, res, key, obj, raw, old)
        if res == "customresourcedefinitions":
            self._sync_crd(key[1], obj)
        return obj

    def _remove(self, res: str, key: Key) -> dict:
        cur = self._objs[res].pop(key)
        self._raw[res].pop(key, None)
        self._sorted[res] = None
        self._index_owners(res, key, None, cur)
        rv = self._next_rv()
        gone = dict(cur)
        gone["metadata"] = dict(cur["metadata"], resourceVersion=str(rv))
        raw = orjson.dumps(gone)
        self._record(rv, "DELETED", res, key, gone, raw, None)
        if res == "customresourcedefinitions":
            self._sync_crd(key[1], None)
        return gone

    def _record(self, rv, etype, res, key, obj, raw, old) -> None:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        fields = field_values(res, obj)
        if old is not None:
            old_labels = (old.get("metadata") or {}).get("labels") or {}
            old_fields = field_values(res, old)
        else:
            old_labels, old_fields = labels, fields
        ch = _Change(rv, etype, res, key[0], raw, labels, fields, old_labels, old_fields)
        if len(self._history) == self._history.maxlen:
            self._compacted_rv = self._history[0].rv
        self._history.append(ch)
        self.counters[etype] += 1
        for w in tuple(self._watchers[res]):
            w._deliver(ch, obj)
        for fn in tuple(self._listeners):
            try:
                fn(etype, res, obj, old)
            except Exception as e:  # a broken controller must not break writes
                self.callback_errors.append(f"{getattr(fn, '__qualname__', fn)}: {e!r}")
                del self.callback_errors[:-100]

    def _unregister(self, w: Watch) -> None:
        self._watchers.get(w.res, set()).discard(w)

    # ------------------------------------------------------------------ watches
    def oldest_watchable_rv(self) -> int:
        """The smallest resourceVersion a watch can resume from."""
        return self._compacted_rv

    def watch(self, res: str, namespace: str | None = None, since_rv: int | str | None = None,
              label_selector=None, field_selector=None, *, queue_size: int | None = None) -> Watch:
        """Start a watch. since_rv None/0: synthetic ADDED for every matching object, then live changes.
        since_rv N: every change after N, then live; Gone when N is older than the retained history."""
        kind = self.kind(res)
        if not kind.stored:
            raise BadRequest(f"watch is not supported on resources {kind.plural}.{kind.group}")
        lsel, fsel = self._select(res, namespace, label_selector, field_selector)
        if not kind.namespaced:
            namespace = None
        try:
            since = int(since_rv) if since_rv not in (None, "") else 0
        except (TypeError, ValueError):
            raise BadRequest(f"invalid resource version: {since_rv!r}") from None
        w = Watch(self, res, namespace, lsel, fsel, queue_size or self.watch_queue)
        if since <= 0:
            objs, raws = self._objs[res], self._raw[res]
            for k in self._iter(res, namespace):
                o = objs[k]
                if self._match_obj(res, o, lsel, fsel):
                    w._pending.append(WatchEvent("ADDED", raws[k], o))
        else:
            if since < self._compacted_rv:
                raise Gone(f"too old resource version: {since} ({self._compacted_rv + 1})")
            if self._history and since < self._history[-1].rv:
                # history rvs are dense (one per change), so the first change after `since` is at a known index
                start = self._history[0].rv
                idx = max(0, since - start + 1)
                hist = self._history
                for i in range(idx, len(hist)):
                    ch = hist[i]
                    if ch.res != res:
                        continue
                    t = w._translate(ch)
                    if t is not None:
                        w._pending.append(WatchEvent(t, ch.raw))
        w.last_rv = self.resource_version
        self._watchers[res].add(w)
        self.counters["watches"] += 1
        return w

    def watcher_count(self, res: str | None = None) -> int:
        if res:
            return len(self._watchers.get(res, ()))
        return sum(len(s) for s in self._watchers.values())

    def on_change(self, fn: ChangeFn) -> None:
        self._listeners.append(fn)

    def compact(self) -> None:
        """Forget all history (as an etcd compaction would): every older rv and continue token expires."""
        self._compacted_rv = self.resource_version
        self._history.clear()

    # ------------------------------------------------------------------ persistence
    def snapshot(self) -> dict:
        return {"resource_version": self.resource_version,
                "objects": {res: list(objs.values()) for res, objs in self._objs.items() if objs}}

    def save(self, path: str) -> None:
        """Write every object and the resourceVersion atomically (temp file + rename)."""
        write_snapshot(path, self.snapshot())

    @classmethod
    def load(cls, path: str, **kw) -> "ClusterState":
        """A state saved by `save`: same objects, resourceVersions continue; older rvs are expired."""
        with open(path, "rb") as f:
            data = orjson.loads(f.read())
        st = cls(seed_crds=False, **kw)
        objects = data.get("objects") or {}
        # CRDs first: they make their custom resources' stores
        for res in sorted(objects, key=lambda r: r != "customresourcedefinitions"):
            if res not in st._objs:
                continue
            for o in objects[res]:
                key = st._key(res, o)
                st._objs[res][key] = o
                st._raw[res][key] = orjson.dumps(o)
                st._index_owners(res, key, o, None)
                if res == "customresourcedefinitions":
                    st._sync_crd(key[1], o)
        st.resource_version = int(data.get("resource_version") or 0)
        st._compacted_rv = st.resource_version
        return st


def write_snapshot(path: str, snapshot: dict) -> None:
    """Write a `ClusterState.snapshot()` atomically. Safe on another thread: stored objects are never
    changed in place (writes replace them), so only taking the snapshot needs the event loop."""
    from tui.demo.certs import write_private  # owner-only: the state holds Secrets' data

    write_private(path, orjson.dumps(snapshot))


def drop_empty_maps(obj: dict) -> None:
    """Empty labels and annotations are not stored, as an omitempty map in Go is not serialised."""
    meta = obj.get("metadata")
    if type(meta) is dict:
        for f in ("labels", "annotations"):
            if isinstance(meta.get(f), dict) and not meta[f]:
                del meta[f]


def _spec_part(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


# -------------------------------------------------------------------------------------- conversions

def event_to_v1(ev: dict) -> dict:
    """A core/v1 Event as events.k8s.io/v1 shows it."""
    meta = ev.get("metadata") or {}
    out: dict[str, Any] = {"kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": meta}
    out["eventTime"] = ev.get("eventTime") or None
    for src, dst in (("reason", "reason"), ("type", "type"), ("action", "action"), ("series", "series"),
                     ("reportingComponent", "reportingController"), ("reportingInstance", "reportingInstance"),
                     ("message", "note"), ("involvedObject", "regarding"), ("related", "related"),
                     ("source", "deprecatedSource"), ("firstTimestamp", "deprecatedFirstTimestamp"),
                     ("lastTimestamp", "deprecatedLastTimestamp"), ("count", "deprecatedCount")):
        v = ev.get(src)
        if v not in (None, "", {}):
            out[dst] = v
    if not out.get("reportingController") and (ev.get("source") or {}).get("component"):
        out["reportingController"] = ev["source"]["component"]
    return out
