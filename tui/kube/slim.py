"""Trim objects on arrival to the fields Lookout reads; `d` and `y` GET the whole object when asked.

Each function takes the decoded object and returns a new, smaller dict (sharing the leaf values);
it never mutates its argument, so a caller may still hold the full object.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _secrets

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
REDACTED = "<redacted>"
_DIGEST_KEY = _secrets.token_bytes(32)  # made fresh per process: digests mean nothing outside it

_POD_META = ("name", "namespace", "uid", "labels", "annotations", "ownerReferences", "creationTimestamp",
             "deletionTimestamp", "resourceVersion", "generation")
_CONTAINER = ("name", "image", "ports", "readinessProbe", "livenessProbe", "startupProbe", "resources",
              "restartPolicy")  # restartPolicy: native sidecars among initContainers
_POD_STATUS = ("phase", "reason", "message", "conditions", "containerStatuses", "initContainerStatuses", "podIP",
               "podIPs", "hostIP", "startTime", "qosClass")


def keep_all(obj: dict) -> dict:
    """No trimming (tests, and kinds small enough not to matter)."""
    return obj


def slim_meta(meta: dict | None) -> dict:
    """metadata without managedFields and without kubectl's last-applied copy of the whole object."""
    if not meta:
        return {}
    out = {k: v for k, v in meta.items() if k != "managedFields"}
    _drop_last_applied(out)
    return out


def _drop_last_applied(m: dict) -> None:
    """Remove kubectl's last-applied annotation (a copy of the whole object) from metadata `m`, in place."""
    ann = m.get("annotations")
    if ann and LAST_APPLIED in ann:
        ann = {k: v for k, v in ann.items() if k != LAST_APPLIED}
        if ann:
            m["annotations"] = ann
        else:
            del m["annotations"]


def slim_generic(obj: dict) -> dict:
    """Any kind: everything but managedFields and the last-applied annotation."""
    meta = obj.get("metadata")
    if not meta or ("managedFields" not in meta and LAST_APPLIED not in (meta.get("annotations") or {})):
        return obj
    out = dict(obj)
    out["metadata"] = slim_meta(meta)
    return out


def _slim_container(c: dict) -> dict:
    if not isinstance(c, dict):
        return c  # the shape guard below drops it
    out = {k: c[k] for k in _CONTAINER if k in c}
    env = c.get("env")
    if isinstance(env, list) and all(isinstance(e, dict) for e in env):
        # names and references only: literal values can be credentials and are never shown
        out["env"] = [{"name": e.get("name"), "valueFrom": e["valueFrom"]} if "valueFrom" in e
                      else {"name": e.get("name")} for e in env]
    return out


def slim_pod(obj: dict) -> dict:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if not (isinstance(meta, dict) and isinstance(spec, dict) and isinstance(status, dict)):  # hostile shapes
        meta, spec, status = (v if isinstance(v, dict) else {} for v in (meta, spec, status))
    m = {k: meta[k] for k in _POD_META if k in meta}
    if isinstance(m.get("annotations"), dict):
        _drop_last_applied(m)
    s: dict = {}
    if "nodeName" in spec:
        s["nodeName"] = spec["nodeName"]
    if "serviceAccountName" in spec:
        s["serviceAccountName"] = spec["serviceAccountName"]
    if "containers" in spec:
        s["containers"] = [_slim_container(c) for c in spec["containers"] or ()] \
            if isinstance(spec["containers"], list) else []
    if isinstance(spec.get("initContainers"), list):
        s["initContainers"] = [_slim_container(c) for c in spec["initContainers"]]
    st = {k: status[k] for k in _POD_STATUS if k in status}
    out = {"metadata": m, "spec": s, "status": st}
    if "kind" in obj:
        out["kind"] = obj["kind"]
    if "apiVersion" in obj:
        out["apiVersion"] = obj["apiVersion"]
    if not _pod_well_typed(out):
        out = _typed_pod(out)
    return out


# ---- shape guard -----------------------------------------------------------------------------------------
# kube-apiserver validates types, so these never fire on a real cluster; a hostile or broken server could
# send `"state": "weird"` or `"restartCount": "many"`, and every view downstream (rows, findings, the
# assessment) reads these fields without checking. One check here, on arrival, keeps them honest.

def _pod_well_typed(p: dict) -> bool:
    m, spec, st = p["metadata"], p["spec"], p["status"]
    if not (isinstance(m.get("name", ""), str) and isinstance(m.get("namespace", ""), str)
            and isinstance(m.get("labels") or {}, dict) and isinstance(m.get("annotations") or {}, dict)
            and isinstance(m.get("ownerReferences") or [], list)):
        return False
    for c in spec.get("containers") or ():
        if not isinstance(c, dict) or not isinstance(c.get("ports") or [], list):
            return False
    for key in ("containerStatuses", "initContainerStatuses"):
        statuses = st.get(key)
        if statuses is None:
            continue
        if not isinstance(statuses, list):
            return False
        for cs in statuses:
            if not isinstance(cs, dict) or not isinstance(cs.get("restartCount", 0), int):
                return False
            for sk in ("state", "lastState"):
                v = cs.get(sk)
                if v is not None and (not isinstance(v, dict) or not all(isinstance(x, dict) for x in v.values())):
                    return False
    conds = st.get("conditions")
    if conds is not None and (not isinstance(conds, list) or not all(isinstance(c, dict) for c in conds)):
        return False
    return all(isinstance(st.get(k, ""), str) for k in ("phase", "reason", "message", "podIP", "startTime"))


def _str_map(v) -> dict:
    return {str(k): str(x) for k, x in v.items()} if isinstance(v, dict) else {}


def _dicts(v) -> list:
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _typed_pod(p: dict) -> dict:
    """A copy of pod `p` with every wrongly-typed field Lookout reads dropped or made a string."""
    m = dict(p["metadata"])
    for k in ("name", "namespace", "creationTimestamp", "deletionTimestamp", "uid", "resourceVersion"):
        if k in m and not isinstance(m[k], str):
            m[k] = str(m[k])
    m["labels"] = _str_map(m.get("labels"))
    m["annotations"] = _str_map(m.get("annotations"))
    m["ownerReferences"] = _dicts(m.get("ownerReferences"))
    spec = dict(p["spec"])
    for key in ("containers", "initContainers"):
        if key in spec:
            spec[key] = [dict(c, ports=_dicts(c.get("ports"))) for c in _dicts(spec[key])]
    st = {k: (v if isinstance(v, str) else str(v)) if k in ("phase", "reason", "message", "podIP", "startTime")
          else v for k, v in p["status"].items()}
    if "conditions" in st:
        st["conditions"] = _dicts(st["conditions"])
    for key in ("containerStatuses", "initContainerStatuses"):
        if key in st:
            fixed = []
            for cs in _dicts(st[key]):
                cs = dict(cs)
                if not isinstance(cs.get("restartCount", 0), int) or isinstance(cs.get("restartCount"), bool):
                    cs["restartCount"] = 0
                for sk in ("state", "lastState"):
                    v = cs.get(sk)
                    if v is not None:
                        cs[sk] = {str(k): x for k, x in v.items() if isinstance(x, dict)} if isinstance(v, dict) else {}
                fixed.append(cs)
            st[key] = fixed
    return {**p, "metadata": m, "spec": spec, "status": st}


_EVENT_STRINGS = ("type", "reason", "message", "note", "action", "reportingComponent", "reportingController",
                  "reportingInstance", "lastTimestamp", "firstTimestamp", "eventTime")
_EVENT_MAPS = ("metadata", "involvedObject", "regarding", "source", "series")


def slim_event(obj: dict) -> dict:
    """Events as slim_generic keeps them, plus the shape guard: a count that is not a number, an
    involvedObject that is not an object (a hostile server) are dropped or made strings on arrival."""
    out = slim_generic(obj)
    if (all(isinstance(out.get(k) or {}, dict) for k in _EVENT_MAPS)
            and all(isinstance(out.get(k) or "", str) for k in _EVENT_STRINGS)
            and isinstance(out.get("count") or 0, int)):
        return out
    out = dict(out)
    for k in _EVENT_MAPS:
        v = out.get(k)
        if v is not None:
            out[k] = {str(a): (b if isinstance(b, (str, int, float, dict, list)) or b is None else str(b))
                      for a, b in v.items()} if isinstance(v, dict) else {}
    for k in ("involvedObject", "regarding"):
        if out.get(k):
            out[k] = {a: (b if isinstance(b, str) else str(b)) for a, b in out[k].items()}
    for k in _EVENT_STRINGS:
        if out.get(k) is not None and not isinstance(out[k], str):
            out[k] = str(out[k])
    c = out.get("count")
    if c is not None and (not isinstance(c, int) or isinstance(c, bool)):
        out["count"] = int(c) if isinstance(c, str) and c.strip().isdigit() else None
    return out


class SecretDigest:
    """A keyed digest of one Secret value (HMAC-SHA256 with a key made fresh per process), kept instead of the
    value so two environments' Secrets can be compared key by key. It compares and hashes, and shows nothing:
    str() and repr() say `<redacted>`, so no pane, file or log line can print the digest or the value."""

    __slots__ = ("_mac",)

    def __init__(self, raw: bytes):
        self._mac = hmac.new(_DIGEST_KEY, raw, hashlib.sha256).digest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretDigest) and hmac.compare_digest(self._mac, other._mac)

    def __hash__(self) -> int:
        return hash(self._mac)

    def __repr__(self) -> str:
        return REDACTED

    __str__ = __repr__

    def __copy__(self) -> "SecretDigest":
        return self  # immutable

    def __deepcopy__(self, memo) -> "SecretDigest":
        return self

    def __reduce__(self):  # never pickled into a file or sent to another process
        raise TypeError("a Secret digest does not leave the process")


def _secret_bytes(v, field: str) -> bytes:
    """The value as bytes: `data` is base64 (decoded, so `data` and `stringData` of one value compare equal)."""
    s = "" if v is None else str(v)
    if field == "data":
        import base64
        import binascii

        try:
            return base64.b64decode(s, validate=False)
        except (binascii.Error, ValueError):
            pass
    return s.encode()


def slim_secret(obj: dict) -> dict:
    """Secrets: keys only, each with a SecretDigest of its value. Values never reach the store, so no pane can
    show them by mistake; the digests let the blue/green diff say `same` or `differs` per key."""
    out = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
    out["metadata"] = slim_meta(obj.get("metadata"))
    data: dict = {}
    for field in ("data", "stringData"):
        values = obj.get(field)
        if isinstance(values, dict):
            for k, v in values.items():
                data[str(k)] = SecretDigest(_secret_bytes(v, field))
    out["data"] = data
    return out


def redact_secret(obj: dict) -> dict:
    """What Lookout shows of a Secret (describe, YAML): keys kept, every value replaced by its size, the
    last-applied copy (which carries the values in clear) and managedFields dropped. Other kinds pass."""
    if obj.get("kind") != "Secret":
        return obj
    out = dict(obj)
    meta = slim_meta(obj.get("metadata"))
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    if LAST_APPLIED in ann:
        meta = dict(meta)
        meta["annotations"] = {**(meta.get("annotations") or {}),
                               LAST_APPLIED: f"<redacted: {len(str(ann[LAST_APPLIED]).encode())} bytes>"}
    out["metadata"] = meta
    for field in ("data", "stringData"):
        if isinstance(obj.get(field), dict):
            out[field] = {k: f"<redacted: {_secret_size(v, field)} bytes>" for k, v in obj[field].items()}
    return out


def _secret_size(v, field: str) -> int:
    """Bytes of the value: `data` is base64 (its decoded size), `stringData` plain text."""
    if v is None:
        return 0
    s = str(v)
    if field == "data":
        import base64
        import binascii

        try:
            return len(base64.b64decode(s, validate=False))
        except (binascii.Error, ValueError):
            return len(s.encode())
    return len(s.encode())