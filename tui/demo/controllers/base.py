"""Shared parts of the simulated controllers: names, hashes, selectors, conditions, times, the event recorder."""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import random
import re
from typing import TYPE_CHECKING

from tui.demo.state import StateError
from tui.kube.quantities import parse_quantity
from tui.kube.timestamps import parse_time as parse_ts  # noqa: F401 - the one parser, for sim.py
from tui.kube.selectors import SelectorError, selector_from_dict

if TYPE_CHECKING:  # pragma: no cover
    from tui.demo.sim import Simulation

ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
ARGO_HASH = "rollouts-pod-template-hash"
DEPLOY_HASH = "pod-template-hash"
CHANGED_AT = "lookout.dev/changed-at"
BEHAVIOUR_ANNOTATION = "demo.lookout.dev/behaviour"  # user manifests: ok | crash | imagepull | oom | notready
CRASH_MESSAGE_ANNOTATION = "demo.lookout.dev/crash-message"
NODES = (("demo-worker-1", "172.18.0.2", "demo-a"), ("demo-worker-2", "172.18.0.3", "demo-b"),
         ("demo-worker-3", "172.18.0.4", "demo-c"))
BACKOFF_START, BACKOFF_CAP = 10.0, 300.0
SLICE_MAX = 100
ENDPOINTS_MAX = 1000


def rfc3339(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def template_hash(template: dict, collision: int = 0) -> str:
    """A stable pod-template hash in the alphabet kube uses (same template, same hash)."""
    t = dict(template or {})
    meta = dict(t.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in (ARGO_HASH, DEPLOY_HASH)}
    meta["labels"] = labels
    t["metadata"] = meta
    import orjson  # noqa: PLC0415
    digest = hashlib.sha256(orjson.dumps(t, option=orjson.OPT_SORT_KEYS) + str(collision).encode()).digest()
    n = int.from_bytes(digest[:8], "big")
    out = []
    for _ in range(10):
        n, r = divmod(n, len(ALPHABET))
        out.append(ALPHABET[r])
    return "".join(out)


def suffix(rng: random.Random, n: int = 5) -> str:
    """A random name suffix in kube's alphabet (one draw, not one per letter: 10,000 pods start fast)."""
    x = rng.getrandbits(32)
    out = []
    for _ in range(n):
        x, r = divmod(x, 27)
        out.append(ALPHABET[r])
    return "".join(out)


def int_or_percent(v, total: int, default: str, round_up: bool) -> int:
    if v is None:
        v = default
    if isinstance(v, str) and v.endswith("%"):
        x = float(v[:-1]) * total / 100.0
        return int(math.ceil(x)) if round_up else int(math.floor(x))
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def parse_duration(v) -> float | None:
    if v is None or v == "":
        return None
    if isinstance(v, (int, float)):
        return float(v)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", str(v))
    if not m:
        return None
    x = float(m.group(1))
    return x * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def selector_matches(sel: dict | None, labels: dict | None) -> bool:
    if not sel:
        return False
    labels = labels or {}
    for k, v in sel.items():
        if labels.get(k) != v:
            return False
    return True


def label_selector_matches(sel: dict | None, labels: dict | None) -> bool:
    """metav1.LabelSelector (matchLabels + matchExpressions); no selector selects nothing."""
    if not sel:
        return False
    try:
        return selector_from_dict(sel).matches(labels)
    except SelectorError:  # an operator the API would have refused: select nothing, as controllers do
        return False


def selector_string(sel: dict | None) -> str:
    ml = (sel or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(ml.items()))


def owner_ref(obj: dict) -> dict:
    m = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": m["name"], "uid": m["uid"],
            "controller": True, "blockOwnerDeletion": True}


def controller_of(obj: dict) -> dict | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def set_condition(conds: list, ctype: str, status: str, reason: str, message: str, now: str,
                  *, update_time: bool = False, progress: bool = False) -> None:
    """Set one condition; lastTransitionTime changes only when the status does (as the apiserver's helpers do)."""
    for c in conds:
        if c.get("type") == ctype:
            if c.get("status") != status:
                c["lastTransitionTime"] = now
            if update_time and (c.get("reason") != reason or progress):
                c["lastUpdateTime"] = now
            c.update(status=status, reason=reason, message=message)
            return
    c = {"type": ctype, "status": status, "reason": reason, "message": message, "lastTransitionTime": now}
    if update_time:
        c["lastUpdateTime"] = now
    conds.append(c)


# ============================================================================================== events

class Recorder:
    """Core/v1 Events as components emit them; a repeat of the same event bumps its count."""

    def __init__(self, sim: "Simulation", limit: int = 5000):
        self.sim = sim
        self.limit = limit
        self._by_key: dict[tuple, tuple[str, str]] = {}
        self._order: list[tuple[str, str, tuple]] = []
        self._n = 0
        self.enabled = True

    def emit(self, obj: dict, reason: str, message: str, *, type: str = "Normal", component: str = "kubelet",
             host: str | None = None, field_path: str | None = None) -> None:
        if not self.enabled:
            return
        state = self.sim.state
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        now = self.sim.clock()
        ts = rfc3339(now)
        key = (meta.get("uid"), reason, message, component, field_path)
        have = self._by_key.get(key)
        if have is not None:
            def bump(e):
                e["count"] = int(e.get("count") or 1) + 1
                e["lastTimestamp"] = ts
            if state.mutate("events", have[0], have[1], bump) is not None:
                return
        self._n += 1
        name = "%s.%016x" % (meta.get("name") or "unknown", (int(now * 1e9) + self._n) & 0xFFFFFFFFFFFFFFFF)
        inv = {"kind": obj.get("kind"), "namespace": ns, "name": meta.get("name"), "uid": meta.get("uid"),
               "apiVersion": obj.get("apiVersion"), "resourceVersion": meta.get("resourceVersion")}
        if field_path:
            inv["fieldPath"] = field_path
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": name, "namespace": ns},
              "involvedObject": inv, "reason": reason, "message": message, "type": type,
              "source": {"component": component} | ({"host": host} if host else {}),
              "firstTimestamp": ts, "lastTimestamp": ts, "count": 1, "eventTime": None,
              "reportingComponent": component, "reportingInstance": host or ""}
        try:
            state.create(ev)
        except StateError:
            return
        self._by_key[key] = (ns, name)
        self._order.append((ns, name, key))
        if len(self._order) > self.limit:
            old_ns, old_name, old_key = self._order.pop(0)
            self._by_key.pop(old_key, None)
            try:
                state.delete("events", old_ns, old_name)
            except StateError:
                pass


# ============================================================================================== kubelet

def qos_class(spec: dict) -> str:
    reqs, lims, any_set, guaranteed = [], [], False, True
    for c in spec.get("containers") or ():
        r = (c.get("resources") or {})
        req, lim = r.get("requests") or {}, r.get("limits") or {}
        if req or lim:
            any_set = True
        for res in ("cpu", "memory"):
            if res not in lim or (res in req and parse_quantity(req[res]) != parse_quantity(lim[res])):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def iso_ts(ts: float) -> str:
    from tui.demo.logs import iso  # noqa: PLC0415
    return iso(ts)


def duration_text(s: float) -> str:
    s = int(s)
    return f"{s // 60}m{s % 60}s" if s >= 60 else f"{s}s"


def pod_spec(tspec: dict) -> dict:
    """A pod spec from a template spec, with the defaults the apiserver fills in."""
    import orjson  # noqa: PLC0415
    spec = orjson.loads(orjson.dumps(tspec))
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    spec.setdefault("tolerations", [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}])
    for c in spec.get("containers") or ():
        c.setdefault("imagePullPolicy", "Always" if str(c.get("image", "")).endswith(":latest") else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
    return spec


# ============================================================================================== controllers

def ip_key(ip: str):
    try:
        return tuple(int(x) for x in ip.split("."))
    except ValueError:
        return (999,)


def pod_ready(p: dict) -> bool:
    for c in (p.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def orjson_clone(x):
    import orjson  # noqa: PLC0415
    return orjson.loads(orjson.dumps(x))

