"""metadata.managedFields as kube-apiserver records them: one entry per field manager and operation, with
the set of fields it manages (FieldsV1). No conflict detection: an Apply takes the fields it names.

A field set is a nested dict in FieldsV1's own shape: {"f:spec": {"f:replicas": {}}}; elements of a list of
objects keyed by `name` (containers, env, ports by name) are "k:{\"name\":\"app\"}" with a "." member, other
lists are managed as a whole.
"""
from __future__ import annotations

import json
from typing import Any

_SKIP_META = {"uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
              "deletionGracePeriodSeconds", "managedFields", "selfLink"}
_LIST_KEYS = ("name", "containerPort", "port", "type", "mountPath", "ip")


def _key_of(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    for k in _LIST_KEYS:
        if k in item and isinstance(item[k], (str, int)):
            return "k:" + json.dumps({k: item[k]}, separators=(",", ":"))
    return None


def field_set(obj: Any, top: bool = True) -> dict:
    """The fields an object (or an applied configuration) sets."""
    out: dict = {}
    if not isinstance(obj, dict):
        return out
    for k, v in obj.items():
        if top and k in ("apiVersion", "kind", "status"):
            continue
        if top and k == "metadata":
            meta = {f"f:{m}": field_set(mv, False) if m in ("labels", "annotations") else {}
                    for m, mv in (v or {}).items() if m not in _SKIP_META and m not in ("name", "namespace")}
            if meta:
                out["f:metadata"] = meta
            continue
        out[f"f:{k}"] = _value_set(v)
    return out


def _value_set(v: Any) -> dict:
    if isinstance(v, dict):
        return field_set(v, False)
    if isinstance(v, list) and v and all(_key_of(x) for x in v):
        return {_key_of(x): dict({".": {}}, **field_set(x, False)) for x in v}  # type: ignore[misc]
    return {}


def _paths(fs: dict, prefix: tuple = ()) -> set[tuple]:
    out: set[tuple] = set()
    for k, sub in fs.items():
        p = prefix + (k,)
        if sub:
            out |= _paths(sub, p)
        else:
            out.add(p)
    return out


def _tree(paths: set[tuple]) -> dict:
    root: dict = {}
    for p in sorted(paths):
        cur = root
        for part in p:
            cur = cur.setdefault(part, {})
    return root


def changed_set(old: dict | None, new: dict) -> dict:
    """The fields of `new` whose values differ from `old` (all of them on a create)."""
    if old is None:
        return field_set(new)
    a, b = _leaves(old), _leaves(new)
    return _tree({p for p, v in b.items() if a.get(p, _MISSING) != v})


_MISSING = object()


def _leaves(obj: dict) -> dict[tuple, Any]:
    out: dict[tuple, Any] = {}

    def walk(v: Any, fs: dict, path: tuple, src: Any) -> None:
        for k, sub in fs.items():
            p = path + (k,)
            val = _pick(src, k)
            if sub and k != ".":
                walk(val, sub, p, val)
            else:
                out[p] = json.dumps(val, sort_keys=True, default=str)

    walk(obj, field_set(obj), (), obj)
    return out


def _pick(src: Any, k: str) -> Any:
    if k.startswith("f:") and isinstance(src, dict):
        return src.get(k[2:])
    if k.startswith("k:") and isinstance(src, list):
        want = json.loads(k[2:])
        for x in src:
            if isinstance(x, dict) and all(x.get(a) == b for a, b in want.items()):
                return x
    return None


def record(obj: dict, old: dict | None, *, manager: str, operation: str, api_version: str, now: str,
           subresource: str | None = None, applied: dict | None = None) -> None:
    """Update obj.metadata.managedFields in place for one write by `manager`: an Apply owns exactly the
    fields `applied` names; an Update adds the fields it changed. Fields move away from other managers."""
    meta = obj.setdefault("metadata", {})
    entries = [dict(e) for e in (old or {}).get("metadata", {}).get("managedFields") or () if isinstance(e, dict)]
    mine = field_set(applied) if operation == "Apply" and applied is not None else changed_set(old, obj)
    mine_paths = _paths(mine)
    if not mine_paths and operation == "Update":
        if entries:
            meta["managedFields"] = entries
        else:
            meta.pop("managedFields", None)
        return
    out: list[dict] = []
    found = None
    for e in entries:
        same = (e.get("manager") == manager and e.get("operation") == operation
                and e.get("subresource") == subresource)
        if same:
            found = e
            continue
        rest = _paths(e.get("fieldsV1") or {}) - mine_paths
        if rest:
            out.append(dict(e, fieldsV1=_tree(rest)))
    if operation == "Update" and found is not None:
        mine_paths |= _paths(found.get("fieldsV1") or {})
    entry: dict[str, Any] = {"manager": manager, "operation": operation, "apiVersion": api_version,
                             "time": now, "fieldsType": "FieldsV1", "fieldsV1": _tree(mine_paths)}
    if found is not None and found.get("fieldsV1") == entry["fieldsV1"]:
        entry["time"] = found.get("time", now)  # the same fields: an unchanged object stays unchanged
    if subresource:
        entry["subresource"] = subresource
    out.append(entry)
    meta["managedFields"] = out


def manager_for(query_manager: str | None, user_agent: str | None) -> str:
    """fieldManager, else the client's program name from its User-Agent, as kube-apiserver picks it."""
    if query_manager:
        return query_manager[:128]
    ua = (user_agent or "").split("/", 1)[0].strip()
    return ua[:128] or "unknown"
