"""Defaulting, as kube-apiserver does it on create and replace (and therefore on apply and patch).

Only what users and kubectl see: `kubectl get svc` shows a CLUSTER-IP, `kubectl describe pod` shows
`8080/TCP`, `kubectl get deploy -o yaml` shows the rolling-update strategy. Custom resources (Argo Rollouts)
are not defaulted, as a real server does not default inside a CRD without a schema; the ReplicaSets their
controller creates are, and so are the pods of those.

Every function is idempotent and cheap on an object that already carries its defaults (the simulation's
pods do): a handful of dict lookups, no copies.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Iterable

from tui.demo.errors import Invalid

# Service CIDR 10.96.0.0/12: 10.96.0.0 .. 10.111.255.255; .0 is the network, 10.96.0.1 the `kubernetes`
# service, 10.96.0.10 kube-dns by convention: allocate from the rest.
_CIDR_BASE = (10 << 24) | (96 << 16)
_CIDR_SIZE = 1 << 20
_RESERVED = {0, 1, 10, _CIDR_SIZE - 1}
NODE_PORT_RANGE = (30000, 32767)


def _ip_str(n: int) -> str:
    return f"{n >> 24 & 255}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def _stable(key: str, size: int) -> int:
    return int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big") % size


def allocate_cluster_ip(namespace: str, name: str, used: set[str]) -> str:
    """The same address for the same service every time (a recreated one comes back where it was),
    probing past addresses already taken."""
    off = _stable(f"{namespace}/{name}", _CIDR_SIZE)
    for _ in range(_CIDR_SIZE):
        if off not in _RESERVED:
            ip = _ip_str(_CIDR_BASE + off)
            if ip not in used:
                return ip
        off = (off + 1) % _CIDR_SIZE
    raise RuntimeError("service CIDR exhausted")


def allocate_node_port(namespace: str, name: str, port_key: str, used: set[int]) -> int:
    lo, hi = NODE_PORT_RANGE
    size = hi - lo + 1
    off = _stable(f"{namespace}/{name}/{port_key}", size)
    for _ in range(size):
        p = lo + off
        if p not in used:
            return p
        off = (off + 1) % size
    raise RuntimeError("node port range exhausted")


# ---------------------------------------------------------------------------------------------- pods

_POD_SPEC_SCALARS = (("restartPolicy", "Always"), ("dnsPolicy", "ClusterFirst"),
                     ("schedulerName", "default-scheduler"), ("terminationGracePeriodSeconds", 30))
# a Pod (not a template) also gets these from admission and defaulting
_POD_ONLY_SCALARS = (("enableServiceLinks", True), ("preemptionPolicy", "PreemptLowerPriority"), ("priority", 0))
_PROBE_SCALARS = (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3))


def pull_policy(image: Any) -> str:
    """Always for `:latest` or no tag, IfNotPresent for any other tag or a digest."""
    image = image if isinstance(image, str) else ""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


_POD_SPEC_KEYS = frozenset(k for k, _ in _POD_SPEC_SCALARS) | {"securityContext"}
_POD_ONLY_KEYS = _POD_SPEC_KEYS | {k for k, _ in _POD_ONLY_SCALARS} | {"serviceAccountName", "serviceAccount"}
_CONTAINER_KEYS = frozenset(("imagePullPolicy", "terminationMessagePath", "terminationMessagePolicy", "resources"))
_PROBE_KEYS = frozenset(k for k, _ in _PROBE_SCALARS)


def _default_probe(p: Any) -> None:
    if type(p) is not dict:
        return
    if not p.keys() >= _PROBE_KEYS:
        for k, v in _PROBE_SCALARS:
            if k not in p:
                p[k] = v
    hg = p.get("httpGet")
    if type(hg) is dict and "scheme" not in hg:
        hg["scheme"] = "HTTP"
    grpc = p.get("grpc")
    if type(grpc) is dict and grpc.get("service") is None:
        grpc["service"] = ""  # kubectl describe dereferences it: never null, as kube-apiserver defaults it


def _default_container(c: Any) -> None:
    if type(c) is not dict:
        return
    if not c.keys() >= _CONTAINER_KEYS:  # (already defaulted, as the simulation's pods are: skip)
        if "imagePullPolicy" not in c:
            c["imagePullPolicy"] = pull_policy(c.get("image"))
        if "terminationMessagePath" not in c:
            c["terminationMessagePath"] = "/dev/termination-log"
        if "terminationMessagePolicy" not in c:
            c["terminationMessagePolicy"] = "File"
        if "resources" not in c:
            c["resources"] = {}
    ports = c.get("ports")
    if ports:
        for p in ports:
            if type(p) is dict and "protocol" not in p:
                p["protocol"] = "TCP"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if probe in c:
            _default_probe(c[probe])


def default_pod_spec(spec: Any, *, pod: bool = False) -> None:
    if type(spec) is not dict:
        return
    if not spec.keys() >= (_POD_ONLY_KEYS if pod else _POD_SPEC_KEYS):
        for k, v in _POD_SPEC_SCALARS:
            if k not in spec:
                spec[k] = v
        if "securityContext" not in spec:
            spec["securityContext"] = {}
        if pod:
            for k, v in _POD_ONLY_SCALARS:
                if k not in spec:
                    spec[k] = v
            if "serviceAccountName" not in spec:
                spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
            if "serviceAccount" not in spec:
                spec["serviceAccount"] = spec["serviceAccountName"]
    for c in spec.get("containers") or ():
        _default_container(c)
    for c in spec.get("initContainers") or ():
        _default_container(c)


def default_pod(obj: dict, state: Any = None, old: dict | None = None) -> None:
    default_pod_spec(obj.get("spec"), pod=True)


def _default_template(spec: dict) -> None:
    tmpl = spec.get("template")
    if type(tmpl) is dict:
        default_pod_spec(tmpl.get("spec"))


def default_replicaset(obj: dict, state: Any = None, old: dict | None = None) -> None:
    spec = obj.get("spec")
    if type(spec) is not dict:
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _default_template(spec)


def default_deployment(obj: dict, state: Any = None, old: dict | None = None) -> None:
    spec = obj.get("spec")
    if type(spec) is not dict:
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = spec.get("strategy")
    if type(strategy) is not dict:
        strategy = spec["strategy"] = {}
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if type(ru) is not dict:
            ru = strategy["rollingUpdate"] = {}
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _default_template(spec)


# ------------------------------------------------------------------------------------------ services

def default_service(obj: dict, state: Any = None, old: dict | None = None) -> None:
    """Type, cluster IP (kept from `old` on replace, as kube-apiserver patches allocated values back),
    IP families, affinity, traffic policy, ports' protocol and targetPort, node ports."""
    spec = obj.get("spec")
    if type(spec) is not dict:
        spec = obj["spec"] = {}
    ospec = ((old or {}).get("spec") or {}) if old is not None else {}
    stype = spec.get("type") or "ClusterIP"
    spec["type"] = stype
    if "sessionAffinity" not in spec:
        spec["sessionAffinity"] = "None"
    ports = spec.get("ports") or ()
    for p in ports:
        if type(p) is not dict:
            continue
        if "protocol" not in p:
            p["protocol"] = "TCP"
        if "targetPort" not in p and "port" in p:
            p["targetPort"] = p["port"]
    if stype == "ExternalName":
        return
    if "internalTrafficPolicy" not in spec:
        spec["internalTrafficPolicy"] = "Cluster"
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace") or "", meta.get("name") or ""
    new_ip = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
    if new_ip and ospec.get("clusterIP") and new_ip != ospec["clusterIP"]:
        msg = f'spec.clusterIPs[0]: Invalid value: []string{{"{new_ip}"}}: may not change once set'
        raise Invalid(f'Service "{name}" is invalid: {msg}', res="services", name=name,
                      causes=[{"reason": "FieldValueInvalid", "message": msg.split(": ", 1)[1],
                               "field": "spec.clusterIPs[0]"}])
    if not spec.get("clusterIP") and not spec.get("clusterIPs"):
        if ospec.get("clusterIP"):
            spec["clusterIP"] = ospec["clusterIP"]
            spec["clusterIPs"] = list(ospec.get("clusterIPs") or [ospec["clusterIP"]])
        else:
            used = _used_cluster_ips(state, ns, name) if state is not None else set()
            spec["clusterIP"] = allocate_cluster_ip(ns, name, used)
    elif not spec.get("clusterIP"):
        spec["clusterIP"] = spec["clusterIPs"][0]
    if not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    if "ipFamilies" not in spec:
        spec["ipFamilies"] = list(ospec.get("ipFamilies") or ["IPv4"])
    if "ipFamilyPolicy" not in spec:
        spec["ipFamilyPolicy"] = ospec.get("ipFamilyPolicy") or "SingleStack"
    if stype in ("NodePort", "LoadBalancer"):
        if "externalTrafficPolicy" not in spec:
            spec["externalTrafficPolicy"] = "Cluster"
        if stype == "LoadBalancer" and "allocateLoadBalancerNodePorts" not in spec:
            spec["allocateLoadBalancerNodePorts"] = True
        old_ports = {(p.get("port"), p.get("protocol") or "TCP"): p.get("nodePort")
                     for p in ospec.get("ports") or () if type(p) is dict and p.get("nodePort")}
        used: set[int] | None = None
        for p in ports:
            if type(p) is not dict or p.get("nodePort"):
                continue
            kept = old_ports.get((p.get("port"), p.get("protocol")))
            if kept:
                p["nodePort"] = kept
                continue
            if used is None:
                used = _used_node_ports(state) if state is not None else set()
                used.update(q.get("nodePort") for q in ports if type(q) is dict and q.get("nodePort"))
            p["nodePort"] = allocate_node_port(ns, name, f"{p.get('port')}/{p.get('protocol')}", used)
            used.add(p["nodePort"])


def _services(state: Any) -> Iterable[dict]:
    return state.list("services")[0]


def _used_cluster_ips(state: Any, ns: str, name: str) -> set[str]:
    used = set()
    for s in _services(state):
        m = s.get("metadata") or {}
        if (m.get("namespace") or "", m.get("name")) == (ns, name):
            continue
        for ip in (s.get("spec") or {}).get("clusterIPs") or ():
            used.add(ip)
    return used


def _used_node_ports(state: Any) -> set[int]:
    return {p.get("nodePort") for s in _services(state) for p in (s.get("spec") or {}).get("ports") or ()
            if type(p) is dict and p.get("nodePort")}


def _spec(obj: dict) -> dict | None:
    spec = obj.get("spec")
    return spec if type(spec) is dict else None


def _setdefaults(d: dict, **kw: Any) -> None:
    for k, v in kw.items():
        if d.get(k) is None:
            d[k] = v


def default_namespace(obj: dict, state: Any = None, old: dict | None = None) -> None:
    meta = obj.setdefault("metadata", {})
    if type(meta) is dict and meta.get("name"):
        labels = meta.get("labels") if type(meta.get("labels")) is dict else {}
        labels["kubernetes.io/metadata.name"] = meta["name"]
        meta["labels"] = labels
    spec = obj.setdefault("spec", {})
    if type(spec) is dict and "finalizers" not in spec:
        spec["finalizers"] = ["kubernetes"]
    status = obj.get("status") if type(obj.get("status")) is dict else {}
    if old is not None and type(old.get("status")) is dict:
        status = dict(old["status"], **status)
    status.setdefault("phase", "Active")
    obj["status"] = status


def default_statefulset(obj: dict, state: Any = None, old: dict | None = None) -> None:
    spec = _spec(obj)
    if spec is None:
        return
    _setdefaults(spec, replicas=1, podManagementPolicy="OrderedReady", revisionHistoryLimit=10,
                 updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                 persistentVolumeClaimRetentionPolicy={"whenDeleted": "Retain", "whenScaled": "Retain"})
    _default_template(spec)


def default_daemonset(obj: dict, state: Any = None, old: dict | None = None) -> None:
    spec = _spec(obj)
    if spec is None:
        return
    _setdefaults(spec, revisionHistoryLimit=10,
                 updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
    _default_template(spec)


def _default_job_spec(spec: Any) -> None:
    if type(spec) is not dict:
        return
    _setdefaults(spec, backoffLimit=6, completionMode="NonIndexed", suspend=False,
                 podReplacementPolicy="TerminatingOrFailed")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    _setdefaults(spec, parallelism=1)
    _default_template(spec)


def default_job(obj: dict, state: Any = None, old: dict | None = None) -> None:
    _default_job_spec(_spec(obj))


def default_cronjob(obj: dict, state: Any = None, old: dict | None = None) -> None:
    spec = _spec(obj)
    if spec is None:
        return
    _setdefaults(spec, concurrencyPolicy="Allow", suspend=False, successfulJobsHistoryLimit=3,
                 failedJobsHistoryLimit=1)
    tmpl = spec.get("jobTemplate")
    if type(tmpl) is dict:
        _default_job_spec(tmpl.get("spec"))


def default_hpa(obj: dict, state: Any = None, old: dict | None = None) -> None:
    spec = _spec(obj)
    if spec is not None:
        _setdefaults(spec, minReplicas=1)


def default_pvc(obj: dict, state: Any = None, old: dict | None = None) -> None:
    """The demo has a provisioner that binds at once: a new claim is Bound to a volume of its requested size."""
    spec = _spec(obj)
    if spec is None:
        return
    name = (obj.get("metadata") or {}).get("name") or ""
    ns = (obj.get("metadata") or {}).get("namespace") or ""
    _setdefaults(spec, volumeMode="Filesystem", storageClassName="standard",
                 volumeName="pvc-" + hashlib.sha1(f"{ns}/{name}".encode()).hexdigest()[:8] + "-demo")
    if old is not None and type(old.get("status")) is dict:
        obj["status"] = old["status"]
        return
    requests = (spec.get("resources") or {}).get("requests") if type(spec.get("resources")) is dict else None
    obj["status"] = {"phase": "Bound", "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                     "capacity": {"storage": (requests or {}).get("storage") or "1Gi"}}


def default_crd(obj: dict, state: Any = None, old: dict | None = None) -> None:
    """What apiextensions-apiserver fills in: names, the None conversion, and a status saying the names are
    accepted and the CRD is Established (so `kubectl wait --for condition=established` returns)."""
    spec = _spec(obj)
    if spec is None:
        return
    names = spec.get("names") if type(spec.get("names")) is dict else None
    if names is None or not isinstance(names.get("kind"), str):
        return
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    if type(spec.get("conversion")) is not dict:
        spec["conversion"] = {"strategy": "None"}
    storage = [v.get("name") for v in spec.get("versions") or () if type(v) is dict and v.get("storage")]
    prev = ((old or {}).get("status") or {})
    stored = list(prev.get("storedVersions") or [])
    for v in storage:
        if isinstance(v, str) and v not in stored:
            stored.append(v)
    conds = {c.get("type"): c for c in prev.get("conditions") or () if type(c) is dict}
    now = state.now() if state is not None and hasattr(state, "now") else _now_rfc3339()
    obj["status"] = {
        "acceptedNames": {k: v for k, v in names.items() if k in ("kind", "listKind", "plural", "singular",
                                                                  "shortNames", "categories")},
        "conditions": [
            conds.get("NamesAccepted") or {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                                           "message": "no conflicts found", "lastTransitionTime": now},
            conds.get("Established") or {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                                         "message": "the initial names have been accepted",
                                         "lastTransitionTime": now}],
        "storedVersions": stored}


def _now_rfc3339() -> str:
    import datetime as _dt

    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


DEFAULTERS: dict[str, Callable[[dict, Any, "dict | None"], None]] = {
    "customresourcedefinitions": default_crd,
    "pods": default_pod,
    "services": default_service,
    "deployments": default_deployment,
    "replicasets": default_replicaset,
    "namespaces": default_namespace,
    "statefulsets": default_statefulset,
    "daemonsets": default_daemonset,
    "jobs": default_job,
    "cronjobs": default_cronjob,
    "horizontalpodautoscalers": default_hpa,
    "persistentvolumeclaims": default_pvc,
}


def apply_defaults(res: str, obj: dict, state: Any = None, old: dict | None = None) -> None:
    """Fill in what kube-apiserver would, in place. `old` is the stored object on a replace."""
    fn = DEFAULTERS.get(res)
    if fn is not None:
        fn(obj, state, old)
