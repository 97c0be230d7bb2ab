"""The diff of a rollout's two environments from a store, as the app, its finding and `lookout diff` use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from tui.diff.compare import DiffResult, compare
from tui.diff.sides import BLUE_GREEN, NoPair, find_pair
from tui.diff.switch import SwitchPreview, preview

DRIFT_CODE = "environments-differ"
# what a store must hold for the diff (Session watches these; `lookout diff` lists them once)
DIFF_KINDS = ("deployments", "replicasets", "rollouts", "configmaps", "secrets", "services", "pods")
# a release changes these; anything else between blue and green is configuration drift
RELEASE_KINDS = frozenset({"image"})


@dataclass(frozen=True)
class EnvDiff:
    result: DiffResult | None
    why: str = ""  # why there is no result (NoPair's sentence)
    switch: SwitchPreview | None = None


def forbidden_kinds(store) -> frozenset[str]:
    """Kinds the user may not read (an informer answered 403): they read `cannot compare: forbidden`."""
    return frozenset(h.kind for h in getattr(store, "health", {}).values()
                     if getattr(h, "forbidden", False) and h.kind in ("configmaps", "secrets"))


def diff_rollout(store, target, resolver=None, baseline: str | None = None, findings: Iterable = (),
                 forbidden: frozenset[str] | None = None) -> EnvDiff:
    """The two environments of `target` compared (baseline first), with the switch preview."""
    try:
        a, b = find_pair(store, target, resolver, baseline)
    except NoPair as e:
        return EnvDiff(None, str(e))
    return diff_sides(store, a, b, findings, forbidden)


def diff_sides(store, a, b, findings: Iterable = (), forbidden: frozenset[str] | None = None) -> EnvDiff:
    import dataclasses

    from tui.diff.sides import services_selecting

    result = compare(a, b, store.get, forbidden=forbidden_kinds(store) if forbidden is None else forbidden)
    labels = lambda s: (s.template.get("metadata") or {}).get("labels") or {}  # noqa: E731
    result = dataclasses.replace(result, services=tuple(
        (s.track, tuple(services_selecting(store, s.namespace, labels(s)))) for s in (a, b)))
    return EnvDiff(result, "", preview(store, result, findings))


def drift_finding(result: DiffResult | None):
    """`environments-differ` (warning): blue and green differ in more than a release changes (the image).
    Stable against canary is a release: what it changes is shown by `b`, not raised."""
    from tui.rollout.findings import Finding

    if result is None or not ({result.a.track, result.b.track} <= BLUE_GREEN):
        return None
    drift = [c for c in result.changes if c.kind not in RELEASE_KINDS]
    if not drift:
        return None
    a, b = result.a, result.b
    names = ", ".join(sorted({f"{c.name}" for c in drift})[:6])
    evidence = (("differ", result.kinds_text()), (f"{a.kind}/{a.name}", a.track), (f"{b.kind}/{b.name}", b.track),
                ("fields", names + (" …" if len({c.name for c in drift}) > 6 else "")))
    return Finding(DRIFT_CODE, "warning", a.track,  # the live side first: it sorts beside its own findings
                   f"differs from {b.track} in configuration: {result.kinds_text()} (b shows the diff)",
                   evidence, (f"{a.kind}/{a.name}", f"{b.kind}/{b.name}"))


# what the drift finding reads: a change to any of these may change it
DRIFT_KINDS = ("deployments", "replicasets", "rollouts", "configmaps", "secrets")


def drift(store, target, resolver=None):
    """The `environments-differ` finding for `target`, or None (tui.session runs it with the other findings)."""
    try:
        a, b = find_pair(store, target, resolver, None)
    except NoPair:
        return None
    return drift_finding(compare(a, b, store.get))


class StoreSnapshot:
    """The kinds the diff reads, copied (the store replaces objects, never changes them), to compute off the UI
    loop while the informers go on writing the store."""

    def __init__(self, store, kinds=DIFF_KINDS):
        self.objects = {k: dict(store.objects.get(k, {})) for k in kinds}
        self.health = dict(getattr(store, "health", {}))

    def get(self, kind: str, namespace: str, name: str):
        return self.objects.get(kind, {}).get((namespace, name))

    def list(self, kind: str, namespace: str | None = None) -> list[dict]:
        objs = self.objects.get(kind, {})
        if namespace is None:
            return list(objs.values())
        return [o for (ns, _), o in objs.items() if ns == namespace]
