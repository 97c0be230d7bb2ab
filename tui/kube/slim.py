"""Trim objects on arrival to the fields Lookout reads; `d` and `y` GET the whole object when asked.

Each function takes the decoded object and returns a new, smaller dict (sharing the leaf values);
it never mutates its argument, so a caller may still hold the full object.
"""

from __future__ import annotations

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
REDACTED = "<redacted>"

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
    out = {k: c[k] for k in _CONTAINER if k in c}
    env = c.get("env")
    if env:
        # names and references only: literal values can be credentials and are never shown
        out["env"] = [{"name": e.get("name"), "valueFrom": e["valueFrom"]} if "valueFrom" in e
                      else {"name": e.get("name")} for e in env]
    return out


def slim_pod(obj: dict) -> dict:
    meta = obj.get("metadata") or {}
    m = {k: meta[k] for k in _POD_META if k in meta}
    _drop_last_applied(m)
    spec = obj.get("spec") or {}
    s: dict = {}
    if "nodeName" in spec:
        s["nodeName"] = spec["nodeName"]
    if "serviceAccountName" in spec:
        s["serviceAccountName"] = spec["serviceAccountName"]
    if "containers" in spec:
        s["containers"] = [_slim_container(c) for c in spec["containers"] or ()]
    if spec.get("initContainers"):
        s["initContainers"] = [_slim_container(c) for c in spec["initContainers"]]
    status = obj.get("status") or {}
    st = {k: status[k] for k in _POD_STATUS if k in status}
    out = {"metadata": m, "spec": s, "status": st}
    if "kind" in obj:
        out["kind"] = obj["kind"]
    if "apiVersion" in obj:
        out["apiVersion"] = obj["apiVersion"]
    return out


def slim_secret(obj: dict) -> dict:
    """Secrets: keys only. Values never reach the store, so no pane can show them by mistake."""
    out = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
    out["metadata"] = slim_meta(obj.get("metadata"))
    keys = list((obj.get("data") or {}).keys()) + list((obj.get("stringData") or {}).keys())
    out["data"] = {k: None for k in keys}
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