"""The one in-memory store the informers write and every view reads: plain dicts, deltas to subscribers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Literal

DeltaType = Literal["ADDED", "MODIFIED", "DELETED"]
Key = tuple[str, str]  # (namespace, name); namespace is "" for cluster-scoped kinds


@dataclass(frozen=True, slots=True)
class Delta:
    """One change to one object. `obj` is the new state (the last known state for DELETED)."""

    type: DeltaType
    kind: str  # store kind name, e.g. "pods", "events", "replicasets", "rollouts"
    key: Key
    obj: dict
    old: dict | None = None


@dataclass(slots=True)
class SourceHealth:
    """How one informer (one kind in one scope) is doing; shown as each pane's staleness."""

    source: str  # e.g. "pods/demo" or "events/*"
    kind: str
    connected: bool = False
    synced: bool = False  # the initial list has been fully applied
    last_event: float | None = None  # wall time of the last frame received (event or bookmark)
    last_sync: float | None = None
    error: str | None = None  # human sentence, e.g. "403 Forbidden: pods is forbidden: ..."
    forbidden: bool = False
    not_installed: bool = False  # 404 for the kind: its CRD is absent (no Istio, no Argo): not an error
    reconnects: int = 0

    @property
    def settled(self) -> bool:
        """Has this source said all it will: synced, or known to be forbidden or not installed."""
        return self.synced or self.forbidden or self.not_installed

    def age(self, now: float | None = None) -> float | None:
        if self.last_event is None:
            return None
        return (now if now is not None else time.time()) - self.last_event


Subscriber = Callable[[list[Delta]], None]


def key_of(obj: dict) -> Key:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


@dataclass
class Store:
    """Objects by kind and key. Synchronous and single-threaded: call it on the event loop only.

    Subscribers receive lists of deltas; informers apply a whole page or a watch frame at a time,
    and the UI side coalesces further before repainting.
    """

    objects: dict[str, dict[Key, dict]] = field(default_factory=dict)
    health: dict[str, SourceHealth] = field(default_factory=dict)
    # per kind, bumped by every batch that changed it: derived views compare these to skip recomputing
    generation: dict[str, int] = field(default_factory=dict)
    _subscribers: list[Subscriber] = field(default_factory=list)
    _health_subscribers: list[Callable[[SourceHealth], None]] = field(default_factory=list)

    # ---- reading -------------------------------------------------------------------------
    def kind(self, kind: str) -> dict[Key, dict]:
        return self.objects.setdefault(kind, {})

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        return self.objects.get(kind, {}).get((namespace, name))

    def generations(self, kinds: Iterable[str]) -> tuple[int, ...]:
        """A cheap fingerprint of these kinds: equal tuples mean no delta of them in between."""
        g = self.generation
        return tuple(g.get(k, 0) for k in kinds)

    def list(self, kind: str, namespace: str | None = None) -> list[dict]:
        objs = self.objects.get(kind, {})
        if namespace is None:
            return list(objs.values())
        return [o for (ns, _), o in objs.items() if ns == namespace]

    # ---- subscribing ---------------------------------------------------------------------
    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def subscribe_health(self, fn: Callable[[SourceHealth], None]) -> Callable[[], None]:
        self._health_subscribers.append(fn)
        return lambda: self._health_subscribers.remove(fn) if fn in self._health_subscribers else None

    def _emit(self, deltas: list[Delta]) -> None:
        if not deltas:
            return
        g = self.generation
        for kind in {d.kind for d in deltas}:
            g[kind] = g.get(kind, 0) + 1
        for fn in list(self._subscribers):
            fn(deltas)

    def set_health(self, h: SourceHealth) -> None:
        self.health[h.source] = h
        for fn in list(self._health_subscribers):
            fn(h)

    # ---- writing (informers) -------------------------------------------------------------
    def apply(self, kind: str, type_: DeltaType, objs: Iterable[dict]) -> list[Delta]:
        """Apply watch frames or list pages of one kind; emits one batch."""
        bucket = self.kind(kind)
        deltas: list[Delta] = []
        for obj in objs:
            key = key_of(obj)
            if type_ == "DELETED":
                old = bucket.pop(key, None)
                if old is not None:
                    deltas.append(Delta("DELETED", kind, key, old, old))
                continue
            old = bucket.get(key)
            bucket[key] = obj
            deltas.append(Delta("ADDED" if old is None else "MODIFIED", kind, key, obj, old))
        self._emit(deltas)
        return deltas

    def replace(self, kind: str, objs: Iterable[dict], scope: Callable[[Key], bool] | None = None) -> list[Delta]:
        """After a (re)list: make the kind equal to `objs` within `scope`, emitting only the differences.

        `scope` says which existing keys the list covered (e.g. one namespace); keys outside it stay.
        """
        bucket = self.kind(kind)
        fresh = {key_of(o): o for o in objs}
        deltas: list[Delta] = []
        for key in [k for k in bucket if (scope is None or scope(k)) and k not in fresh]:
            old = bucket.pop(key)
            deltas.append(Delta("DELETED", kind, key, old, old))
        for key, obj in fresh.items():
            old = bucket.get(key)
            if old is not None and _same_version(old, obj):
                continue
            bucket[key] = obj
            deltas.append(Delta("ADDED" if old is None else "MODIFIED", kind, key, obj, old))
        self._emit(deltas)
        return deltas


    def reset(self) -> list[Delta]:
        """Forget everything (switching namespace, context or rollout); views see the deletions."""
        deltas = [Delta("DELETED", kind, key, obj, obj) for kind, bucket in self.objects.items()
                  for key, obj in bucket.items()]
        self.objects.clear()
        self.health.clear()
        self._emit(deltas)
        return deltas


def _same_version(a: dict, b: dict) -> bool:
    rva = (a.get("metadata") or {}).get("resourceVersion")
    return rva is not None and rva == (b.get("metadata") or {}).get("resourceVersion")
