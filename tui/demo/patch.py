"""The patch formats a Kubernetes API server accepts: JSON merge (RFC 7386), strategic merge, JSON patch (RFC 6902)."""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    """The patch cannot be applied to this object (the server answers 422)."""


# ------------------------------------------------------------------------------------ JSON merge patch

def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# -------------------------------------------------------------------------------- strategic merge patch
# The merge keys kube's Go types declare (patchMergeKey) for the kinds we serve; other lists are replaced.
_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "conditions": "type", "ownerReferences": "uid", "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey", "resourceClaims": "name", "taints": "key",
}
_MERGED_PRIMITIVE_LISTS = {"finalizers"}


def _merge_key(key: str, parents: tuple[str, ...]) -> str | None:
    if key == "ports":
        # container ports merge by containerPort, service ports by port
        return "containerPort" if parents and parents[-1] in ("containers", "initContainers",
                                                              "ephemeralContainers") else "port"
    return _MERGE_KEYS.get(key)


def strategic_merge_patch(target: Any, patch: Any, parents: tuple[str, ...] = ()) -> Any:
    """A practical strategic merge patch: keyed list merges, `$patch: delete|replace|merge`, `$retainKeys`,
    `$deleteFromPrimitiveList/<k>` and `$setElementOrder/<k>` (order is taken from it where given)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    orders: dict[str, list] = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            if isinstance(out.get(field), list) and isinstance(v, list):
                out[field] = [x for x in out[field] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
            continue
        cur = out.get(k)
        if isinstance(v, list):
            mk = _merge_key(k, parents)
            if mk is not None and isinstance(cur, list):
                out[k] = _merge_list(cur, v, mk, parents + (k,))
            elif k in _MERGED_PRIMITIVE_LISTS and isinstance(cur, list):
                out[k] = cur + [x for x in v if x not in cur]
            else:
                out[k] = [strategic_merge_patch(None, x, parents + (k,)) if isinstance(x, dict) else x for x in v
                          if not (isinstance(x, dict) and x.get("$patch"))]
        elif isinstance(v, dict):
            merged = strategic_merge_patch(cur if isinstance(cur, dict) else None, v, parents + (k,))
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        else:
            out[k] = v
    for field, order in orders.items():
        mk = _merge_key(field, parents)
        lst = out.get(field)
        if mk and isinstance(lst, list) and isinstance(order, list):
            pos = {o.get(mk): i for i, o in enumerate(order) if isinstance(o, dict)}
            out[field] = sorted(lst, key=lambda e: pos.get(e.get(mk) if isinstance(e, dict) else None, len(pos)))
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(cur: list, patch: list, mk: str, parents: tuple[str, ...]) -> list:
    if any(isinstance(e, dict) and e.get("$patch") == "replace" for e in patch):
        return [strategic_merge_patch(None, e, parents) for e in patch
                if isinstance(e, dict) and e.get("$patch") != "replace"]
    out = [copy.deepcopy(e) for e in cur]
    index = {e.get(mk): i for i, e in enumerate(out) if isinstance(e, dict)}
    for e in patch:
        if not isinstance(e, dict):
            raise PatchError(f"merging an object in json but data type is not map: {e!r}")
        if mk not in e:
            raise PatchError(f"map: {e} does not contain declared merge key: {mk}")
        key = e[mk]
        if e.get("$patch") == "delete":
            if key in index:
                out[index[key]] = None
            continue
        if key in index and out[index[key]] is not None:
            out[index[key]] = strategic_merge_patch(out[index[key]], e, parents)
        else:
            index[key] = len(out)
            out.append(strategic_merge_patch(None, e, parents))
    return [e for e in out if e is not None]


# ---------------------------------------------------------------------------------------- JSON patch

def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}: must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> tuple[Any, str]:
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict):
            if p not in cur:
                raise PatchError(f"jsonpatch: path {path!r} not found: missing key {p!r}")
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise PatchError(f"jsonpatch: path {path!r} not found: bad index {p!r}") from None
        else:
            raise PatchError(f"jsonpatch: path {path!r} not found")
    return cur, parts[-1]


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent, last = _parent(doc, parts, path)
    try:
        if isinstance(parent, dict):
            return parent[last]
        if isinstance(parent, list):
            return parent[int(last)]
    except (KeyError, ValueError, IndexError):
        pass
    raise PatchError(f"jsonpatch: path {path!r} not found")


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts, path)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                i = int(last)
            except ValueError:
                raise PatchError(f"jsonpatch add: bad index {last!r} in {path!r}") from None
            if i < 0 or i > len(parent):
                raise PatchError(f"jsonpatch add: index {i} out of range in {path!r}")
            parent.insert(i, value)
    else:
        raise PatchError(f"jsonpatch add: cannot add to {path!r}")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    parts = _pointer(path)
    if not parts:
        raise PatchError("jsonpatch remove: cannot remove the whole document")
    parent, last = _parent(doc, parts, path)
    try:
        if isinstance(parent, dict):
            return doc, parent.pop(last)
        if isinstance(parent, list):
            return doc, parent.pop(int(last))
    except (KeyError, ValueError, IndexError):
        pass
    raise PatchError(f"jsonpatch remove: path {path!r} not found")


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON means it (RFC 6902 `test`): true is not 1, 1 equals 1.0, objects ignore key order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise PatchError("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid json patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"jsonpatch {kind} operation missing 'value' for {path!r}")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            if _pointer(path):
                doc, _ = _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "test":
            if not json_equal(_get(doc, path), op["value"]):
                raise PatchError(f"testing value {path} failed")
        elif kind in ("move", "copy"):
            if "from" not in op:
                raise PatchError(f"jsonpatch {kind} operation missing 'from'")
            if kind == "move":
                doc, v = _remove(doc, op["from"])
            else:
                v = copy.deepcopy(_get(doc, op["from"]))
            doc = _add(doc, path, v)
        else:
            raise PatchError(f"unexpected json patch operation {kind!r}")
    return doc
