"""The semantic diff of two sides: their pod templates field by field, the ConfigMaps they read key by key (a
line diff inside multi-line values), the Secrets they read by key set and per key only `same` or `differs`."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Callable, Mapping

from tui.diff.normalise import Field, Pairing, references, template_fields

# The order kinds are summarised and shown in, and their nouns (singular, plural).
KINDS: dict[str, tuple[str, str]] = {
    "containers": ("container", "containers"),
    "image": ("image", "images"),
    "command": ("command", "commands"),
    "args": ("args", "args"),
    "env": ("env var", "env vars"),
    "envFrom": ("envFrom source", "envFrom sources"),
    "resources": ("resource setting", "resource settings"),
    "probes": ("probe", "probes"),
    "ports": ("port", "ports"),
    "volumeMounts": ("volume mount", "volume mounts"),
    "volumes": ("volume", "volumes"),
    "securityContext": ("security setting", "security settings"),
    "serviceAccount": ("service account", "service accounts"),
    "scheduling": ("scheduling setting", "scheduling settings"),
    "labels": ("label", "labels"),
    "annotations": ("annotation", "annotations"),
    "other": ("other setting", "other settings"),
    "configmap": ("ConfigMap key", "ConfigMap keys"),
    "configmap-ref": ("ConfigMap", "ConfigMaps"),
    "secret": ("Secret key", "Secret keys"),
    "secret-ref": ("Secret", "Secrets"),
}
KIND_ORDER = {k: i for i, k in enumerate(KINDS)}


@dataclass(frozen=True)
class Side:
    """One environment: the object whose pod template runs it, and what it reads."""

    track: str  # blue, green, stable, canary, active, preview, or the object's name when named by the user
    kind: str  # Deployment | ReplicaSet | Rollout
    name: str
    namespace: str
    template: dict
    replicas: int | None = None  # desired (state, not configuration)
    ready: int | None = None
    token: str = ""  # the side's own name where it appears in its configuration (`blue`), the pairing key

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class Change:
    kind: str  # a key of KINDS
    where: str  # "container app", "pod", "ConfigMap checkout-config-blue ↔ checkout-config-green"
    name: str  # "image", "env WORKERS", "LOG_LEVEL"
    op: str  # "+" only on B, "-" only on A, "~" both, differ; "=" renamed with the same content
    a: str | None = None  # A's value (None: absent, or a Secret's)
    b: str | None = None
    detail: tuple[str, ...] = ()  # a line diff inside multi-line values ("-line", "+line", " line")
    secret: bool = False  # a Secret key: a and b are always None; it reads `differs`, `only on ...`

    def to_json(self) -> dict:
        return {"kind": self.kind, "where": self.where, "field": self.name, "op": self.op,
                "a": None if self.secret else self.a, "b": None if self.secret else self.b,
                "lines": list(self.detail) or None}


@dataclass(frozen=True)
class DiffResult:
    a: Side
    b: Side
    changes: tuple[Change, ...]
    notes: tuple[str, ...] = ()  # what could not be compared ("Secret x: cannot compare: forbidden")
    configmaps: tuple[tuple[str | None, str | None], ...] = ()  # referenced pairs (A name, B name)
    secrets: tuple[tuple[str | None, str | None], ...] = ()
    services: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (track, the Services selecting its pods)

    @property
    def identical(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.changes:
            out[c.kind] = out.get(c.kind, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: KIND_ORDER.get(kv[0], 99)))

    def kinds_text(self) -> str:
        """"image, 2 env vars, 1 ConfigMap key, 1 Secret key" (empty when identical)."""
        parts = []
        for kind, n in self.counts().items():
            one, many = KINDS.get(kind, (kind, kind))
            parts.append(one if n == 1 and kind in ("image", "command", "args", "serviceAccount") else
                         f"{n} {one if n == 1 else many}")
        return ", ".join(parts)

    def summary(self) -> str:
        if self.identical:
            return f"{self.a.track} and {self.b.track} are identical" + (" (some parts could not be compared)"
                                                                          if self.notes else "")
        return f"{self.kinds_text()} differ" + ("s" if len(self.changes) == 1 else "")


Lookup = Callable[[str, str, str], "dict | None"]  # (kind, namespace, name) -> object from the store


def compare(a: Side, b: Side, lookup: Lookup, *, forbidden: frozenset[str] = frozenset()) -> DiffResult:
    """A against B. `lookup` reads ConfigMaps and Secrets (the store's slim Secrets: digests, never values);
    `forbidden` holds the kinds the user may not read ("secrets")."""
    pa, pb = Pairing(a.token), Pairing(b.token)
    changes = list(_fields_diff(template_fields(a.template, pa), template_fields(b.template, pb), "", pa, pb))
    notes: list[str] = []
    ra, rb = references(a.template), references(b.template)
    cm_pairs = _pair_refs(ra["configmaps"], rb["configmaps"], pa, pb, "configmaps", a, b, lookup)
    sec_pairs = _pair_refs(ra["secrets"], rb["secrets"], pa, pb, "secrets", a, b, lookup)
    for kind, pairs, title in (("configmaps", cm_pairs, "ConfigMap"), ("secrets", sec_pairs, "Secret")):
        for na, nb in pairs:
            if kind in forbidden:
                notes.append(f"{title} {na or nb}: cannot compare: forbidden")
                continue
            oa = lookup(kind, a.namespace, na) if na else None
            ob = lookup(kind, b.namespace, nb) if nb else None
            where = f"{title} {na}" if na == nb or not nb else (f"{title} {nb}" if not na else f"{title} {na} ↔ {nb}")
            ref_kind = "configmap-ref" if kind == "configmaps" else "secret-ref"
            if na and nb and oa is None and ob is None:
                notes.append(f"{where}: not found on either side")
                continue
            if na is None or nb is None or oa is None or ob is None:
                missing_b = nb is None or ob is None
                who = b.track if missing_b else a.track
                present_a, present_b = (na is not None and oa is not None), (nb is not None and ob is not None)
                if na and nb:  # both reference it, one does not exist
                    changes.append(Change(ref_kind, where, "object", "-" if missing_b else "+",
                                          "exists" if present_a else None, "exists" if present_b else None))
                    notes.append(f"{where}: not found on {who}")
                else:
                    changes.append(Change(ref_kind, where, "referenced", "-" if na else "+",
                                          "referenced" if na else None, "referenced" if nb else None))
                continue
            if kind == "configmaps":
                diff = list(_configmap_diff(oa, ob, where, pa, pb))
            else:
                diff = list(_secret_diff(oa, ob, where))
            if not diff and na != nb and pa.neutral(na) != pb.neutral(nb):
                changes.append(Change(ref_kind, where, "renamed, same content", "=", na, nb))
            changes += diff
    changes.sort(key=lambda c: (_where_rank(c.where), KIND_ORDER.get(c.kind, 99)))
    return DiffResult(a, b, tuple(changes), tuple(notes), tuple(cm_pairs), tuple(sec_pairs))


def _where_rank(where: str) -> tuple[int, str]:
    for i, p in enumerate(("pod", "init container", "container", "ConfigMap", "Secret")):
        if where == p or where.startswith(p + " "):
            return (i, where)
    return (9, where)


def _fields_diff(fa: Mapping[str, Field], fb: Mapping[str, Field], _prefix: str, pa: Pairing, pb: Pairing):
    for key in list(fa) + [k for k in fb if k not in fa]:
        x, y = fa.get(key), fb.get(key)
        if x is not None and y is not None:
            if pa.neutral(x.value) != pb.neutral(y.value):
                yield Change(x.kind, x.where, x.name, "~", x.value, y.value, _lines(x.value, y.value))
        elif x is not None:
            yield Change(x.kind, x.where, x.name, "-", x.value, None)
        elif y is not None:
            yield Change(y.kind, y.where, y.name, "+", None, y.value)


def _lines(x: str, y: str) -> tuple[str, ...]:
    if "\n" not in x and "\n" not in y:
        return ()
    out = []
    for line in difflib.unified_diff(x.splitlines(), y.splitlines(), lineterm="", n=1):
        if line.startswith(("---", "+++")):
            continue
        out.append(line)
    return tuple(out)


def _pair_refs(la: list[str], lb: list[str], pa: Pairing, pb: Pairing, kind: str, a: Side, b: Side,
               lookup: Lookup) -> list[tuple[str | None, str | None]]:
    """Pair A's referenced names with B's: by name with the side's own name neutral, then one left on each side
    (a rename), else each on its own."""
    pairs: list[tuple[str | None, str | None]] = []
    rest_b = list(lb)
    rest_a = []
    for na in la:
        nb = next((n for n in rest_b if pb.neutral(n) == pa.neutral(na)), None)
        if nb is None:
            rest_a.append(na)
        else:
            rest_b.remove(nb)
            pairs.append((na, nb))
    if len(rest_a) == 1 and len(rest_b) == 1:
        pairs.append((rest_a[0], rest_b[0]))
    else:
        pairs += [(n, None) for n in rest_a] + [(None, n) for n in rest_b]
    return pairs


def _data(obj: dict) -> dict:
    out = {}
    for f in ("data", "binaryData"):
        d = obj.get(f)
        if isinstance(d, dict):
            out.update({str(k): v for k, v in d.items()})
    return out


def _configmap_diff(oa: dict, ob: dict, where: str, pa: Pairing, pb: Pairing):
    da, db = _data(oa), _data(ob)
    for k in list(da) + [k for k in db if k not in da]:
        if k in da and k in db:
            x, y = str(da[k]), str(db[k])
            if pa.neutral(x) != pb.neutral(y):
                yield Change("configmap", where, k, "~", x, y, _lines(x, y))
        elif k in da:
            yield Change("configmap", where, k, "-", str(da[k]), None)
        else:
            yield Change("configmap", where, k, "+", None, str(db[k]))


def _secret_diff(oa: dict, ob: dict, where: str):
    """Keys only, and per key `differs` when the digests differ. A value that is not a digest (a store fed
    without slimming) is never compared or shown: the key reads `cannot compare`."""
    from tui.kube.slim import SecretDigest

    da, db = _data(oa), _data(ob)
    for k in list(da) + [k for k in db if k not in da]:
        if k in da and k in db:
            x, y = da[k], db[k]
            if not (isinstance(x, SecretDigest) and isinstance(y, SecretDigest)):
                yield Change("secret", where, k, "?", None, None, (), True)
            elif x != y:
                yield Change("secret", where, k, "~", None, None, (), True)
        elif k in da:
            yield Change("secret", where, k, "-", None, None, (), True)
        else:
            yield Change("secret", where, k, "+", None, None, (), True)
