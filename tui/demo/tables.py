"""Server-side printing: ``meta.k8s.io/v1`` Tables as kube-apiserver builds them.

kubectl asks for lists, gets and watches with
``Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json``
and prints the Table it gets back: the column definitions (``priority`` 0 for the default columns,
1 for those shown only with ``-o wide``) and one row of cells per object.  kube-apiserver always
fills every column (the "wide" ones included); kubectl hides the priority-1 ones.  The cells below
follow k8s.io/kubernetes pkg/printers/internalversion/printers.go, the CRD printer columns of Argo
Rollouts, and apimachinery's ``duration.HumanDuration`` for ages.

Use from the server::

    wants_table(request.headers["Accept"])           -> "v1" | "v1beta1" | None
    to_table(res, objs, list_meta, now, include_object=...)           # list / get (objs=[obj])
    to_table_row_event(res, event_type, obj, now, include_headers=...)  # one watch frame

``include_object`` is the request's ``includeObject`` query parameter: "Metadata" (default:
a PartialObjectMetadata), "Object" (the whole object) or "None".
"""
from __future__ import annotations

import ipaddress
import json
import time
from datetime import datetime, timezone
from typing import Any, Callable

from tui.kube.timestamps import parse_time as _parse_ts

__all__ = [
    "TABLE_ACCEPT",
    "wants_table",
    "table_content_type",
    "human_duration",
    "translate_timestamp_since",
    "to_table",
    "to_table_row_event",
    "columns_for",
    "row_cells",
]

TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
                "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")

# ObjectMeta's documentation, as kube-apiserver puts it in the Name / Age column descriptions
_NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, although some "
              "resources may allow a client to request the generation of an appropriate name automatically. Name "
              "is primarily intended for creation idempotence and configuration definition. Cannot be updated. "
              "More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
_AGE_DESC = ("CreationTimestamp is a timestamp representing the server time when this object was created. It is "
             "not guaranteed to be set in happens-before order across separate operations. Clients may not set "
             "this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. "
             "Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/"
             "api-conventions.md#metadata")


# --------------------------------------------------------------------------------------------
# content negotiation
# --------------------------------------------------------------------------------------------
def wants_table(accept: str | None) -> str | None:
    """The Table version ("v1" or "v1beta1") the Accept header asks for first, else ``None``.

    kube-apiserver honours the first acceptable media range; kubectl puts the Table ones first."""
    if not accept:
        return None
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        params = {}
        for f in fields[1:]:
            if "=" in f:
                k, v = f.split("=", 1)
                params[k.strip().lower()] = v.strip()
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            if fields[0] in ("application/json", "*/*", "application/*"):
                return params["v"]
            continue   # a Table in a media type we do not speak (protobuf, yaml): try the next range
        if fields[0] in ("application/json", "*/*", "application/*", "application/yaml"):
            return None
    return None


def table_content_type(version: str = "v1") -> str:
    return f"application/json;as=Table;v={version};g=meta.k8s.io"


# --------------------------------------------------------------------------------------------
# time
# --------------------------------------------------------------------------------------------
def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)          # Go: int(d.Seconds()) truncates toward zero
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        sec = s % 60
        return f"{minutes}m" if sec == 0 else f"{minutes}m{sec}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def translate_timestamp_since(ts: Any, now: float | None = None) -> str:
    """printers.translateTimestampSince: "<unknown>" for a missing time, else a HumanDuration."""
    t = _parse_ts(ts)
    if t is None:
        return "<unknown>"
    return human_duration((time.time() if now is None else now) - t)


# --------------------------------------------------------------------------------------------
# helpers shared by the printers
# --------------------------------------------------------------------------------------------
def _col(name: str, typ: str = "string", desc: str = "", priority: int = 0, fmt: str = "") -> dict:
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": priority}


def _name_col() -> dict:
    return _col("Name", "string", _NAME_DESC, 0, "name")


def _age_col() -> dict:
    return _col("Age", "string", _AGE_DESC)


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _age(obj: dict, now: float) -> str:
    return translate_timestamp_since(_meta(obj).get("creationTimestamp"), now)


def format_labels(labels: dict | None) -> str:
    """labels.FormatLabels: sorted k=v joined by commas, "<none>" when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def label_selector_string(sel: dict | None) -> str:
    """metav1.LabelSelectorAsSelector(sel).String()."""
    if sel is None:
        return ""       # labels.Nothing()
    reqs: list[tuple[str, str]] = []
    for k, v in (sel.get("matchLabels") or {}).items():
        reqs.append((k, f"{k}={v}"))
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key", ""), e.get("operator", ""), sorted(e.get("values") or [])
        if op == "In":
            reqs.append((k, f"{k} in ({','.join(vals)})"))
        elif op == "NotIn":
            reqs.append((k, f"{k} notin ({','.join(vals)})"))
        elif op == "Exists":
            reqs.append((k, k))
        elif op == "DoesNotExist":
            reqs.append((k, f"!{k}"))
        else:
            return "<invalid>"
    reqs.sort(key=lambda r: r[0])
    return ",".join(r[1] for r in reqs)


def _containers_images(pod_spec: dict | None) -> tuple[str, str]:
    cs = (pod_spec or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _join_host_port(ip: str, port: Any) -> str:
    try:
        if isinstance(ipaddress.ip_address(ip), ipaddress.IPv6Address):
            return f"[{ip}]:{port}"
    except ValueError:
        pass
    return f"{ip}:{port}"


def _int(v: Any) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


# --------------------------------------------------------------------------------------------
# pods
# --------------------------------------------------------------------------------------------
_POD_COLUMNS = [
    _name_col(),
    _col("Ready", desc="The aggregate readiness state of this pod for accepting traffic."),
    _col("Status", desc="The aggregate status of the containers in this pod."),
    _col("Restarts", desc="The number of times the containers in this pod have been restarted and when the last "
                          "container in this pod has restarted."),
    _age_col(),
    _col("IP", desc="podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet "
                    "allocated.", priority=1),
    _col("Node", desc="NodeName indicates in which node this pod is scheduled.", priority=1),
    _col("Nominated Node", desc="nominatedNodeName is set only when this pod preempts other pods on the node, but "
                                "it cannot be scheduled right away as preemption victims receive their graceful "
                                "termination periods.", priority=1),
    _col("Readiness Gates", desc="If specified, all readiness gates will be evaluated for pod readiness. A pod is "
                                 "ready when all its containers are ready AND all conditions specified in the "
                                 "readiness gates have status equal to \"True\" More info: "
                                 "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
         priority=1),
]


def _restartable_init(c: dict | None) -> bool:
    return bool(c) and c.get("restartPolicy") == "Always"


def _terminated_finished(cs: dict) -> float | None:
    term = ((cs.get("lastState") or {}).get("terminated")) or None
    if term:
        return _parse_ts(term.get("finishedAt"))
    return None


def pod_status_reason(pod: dict) -> tuple[str, int, int, int, float | None]:
    """(STATUS, ready containers, total containers, restarts, last restart time) as printPod computes them."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    meta = _meta(pod)
    containers = spec.get("containers") or []
    init_specs = spec.get("initContainers") or []
    total = len(containers)
    ready = 0
    restarts = 0
    restartable_init_restarts = 0
    last_restart: float | None = None
    last_restartable_init_restart: float | None = None

    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_by_name = {c.get("name"): c for c in init_specs}
    total += sum(1 for c in init_specs if _restartable_init(c))

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += _int(cs.get("restartCount"))
        fin = _terminated_finished(cs)
        if fin is not None and (last_restart is None or fin > last_restart):
            last_restart = fin
        restartable = _restartable_init(init_by_name.get(cs.get("name")))
        if restartable:
            restartable_init_restarts += _int(cs.get("restartCount"))
            if fin is not None and (last_restartable_init_restart is None or fin > last_restartable_init_restart):
                last_restartable_init_restart = fin
        state = cs.get("state") or {}
        term = state.get("terminated")
        waiting = state.get("waiting")
        if term is not None and _int(term.get("exitCode")) == 0:
            continue
        if restartable and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if term is not None:
            if not term.get("reason"):
                if _int(term.get("signal")) != 0:
                    reason = f"Init:Signal:{_int(term.get('signal'))}"
                else:
                    reason = f"Init:ExitCode:{_int(term.get('exitCode'))}"
            else:
                reason = "Init:" + term["reason"]
            initializing = True
        elif waiting is not None and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = "Init:" + waiting["reason"]
            initializing = True
        else:
            reason = f"Init:{i}/{len(init_specs)}"
            initializing = True
        break

    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True"
                      for c in status.get("conditions") or [])
    if not initializing or initialized:
        restarts = restartable_init_restarts
        last_restart = last_restartable_init_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += _int(cs.get("restartCount"))
            fin = _terminated_finished(cs)
            if fin is not None and (last_restart is None or fin > last_restart):
                last_restart = fin
            state = cs.get("state") or {}
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None and term.get("reason"):
                reason = term["reason"]
            elif term is not None:
                if _int(term.get("signal")) != 0:
                    reason = f"Signal:{_int(term.get('signal'))}"
                else:
                    reason = f"ExitCode:{_int(term.get('exitCode'))}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in status.get("conditions") or [])
            reason = "Running" if pod_ready else "NotReady"

    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason, ready, total, restarts, last_restart


def _pod_row(pod: dict, now: float) -> tuple[list, list | None]:
    reason, ready, total, restarts, last_restart = pod_status_reason(pod)
    restarts_str = str(restarts)
    if restarts != 0 and last_restart is not None:
        restarts_str = f"{restarts} ({human_duration(now - last_restart)} ago)"
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    pod_ip = ((status.get("podIPs") or [{}])[0] or {}).get("ip") or status.get("podIP") or "<none>"
    gates = spec.get("readinessGates") or []
    gates_str = "<none>"
    if gates:
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        true = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
        gates_str = f"{true}/{len(gates)}"
    cells = [_meta(pod).get("name", ""), f"{ready}/{total}", reason, restarts_str, _age(pod, now),
             pod_ip, spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gates_str]
    conditions = None
    phase = status.get("phase")
    if phase == "Succeeded":
        conditions = [{"type": "Completed", "status": "True", "reason": "Succeeded",
                       "message": "The pod has completed successfully."}]
    elif phase == "Failed":
        conditions = [{"type": "Completed", "status": "True", "reason": "Failed",
                       "message": "The pod failed."}]
    return cells, conditions


# --------------------------------------------------------------------------------------------
# events
# --------------------------------------------------------------------------------------------
_EVENT_COLUMNS = [
    _col("Last Seen", desc="Time when this Event was last observed. Deprecated: use series.lastObservedTime"),
    _col("Type", desc="Type of this event (Normal, Warning), new types could be added in the future"),
    _col("Reason", desc="This should be a short, machine understandable string that gives the reason for the "
                        "transition into the object's current status."),
    _col("Object", desc="The object that this event is about."),
    _col("Subobject", desc="If the reference is to an object's component (a container of a pod), the field path "
                           "of that component.", priority=1),
    _col("Source", desc="The component reporting this event. Should be a short machine understandable string.",
         priority=1),
    _col("Message", desc="A human-readable description of the status of this operation."),
    _col("First Seen", desc="The time at which the event was first recorded. (Time of server receipt is in "
                            "TypeMeta.)", priority=1),
    _col("Count", desc="The number of times this event has occurred.", priority=1),
    _col("Name", desc=_NAME_DESC, priority=1, fmt="name"),
]


def _event_fields(ev: dict) -> dict:
    """Normalise a core/v1 or an events.k8s.io/v1 Event to the core/v1 field names."""
    if (ev.get("apiVersion") or "").startswith("events.k8s.io"):
        src = ev.get("deprecatedSource") or {}
        return {
            "firstTimestamp": ev.get("deprecatedFirstTimestamp"), "lastTimestamp": ev.get("deprecatedLastTimestamp"),
            "eventTime": ev.get("eventTime"), "count": ev.get("deprecatedCount"), "series": ev.get("series"),
            "involvedObject": ev.get("regarding") or {}, "type": ev.get("type"), "reason": ev.get("reason"),
            "message": ev.get("note"), "source": src, "reportingComponent": ev.get("reportingController"),
            "reportingInstance": ev.get("reportingInstance"),
        }
    return ev


def _event_row(ev_in: dict, now: float) -> list:
    ev = _event_fields(ev_in)
    first = translate_timestamp_since(ev.get("firstTimestamp"), now)
    if _parse_ts(ev.get("firstTimestamp")) is None:
        first = translate_timestamp_since(ev.get("eventTime"), now)
    last = translate_timestamp_since(ev.get("lastTimestamp"), now)
    if _parse_ts(ev.get("lastTimestamp")) is None:
        last = first
    count = _int(ev.get("count"))
    series = ev.get("series")
    if series:
        last = translate_timestamp_since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1
    io = ev.get("involvedObject") or {}
    kind = (io.get("kind") or "").lower()
    target = f"{kind}/{io['name']}" if io.get("name") else kind
    src = ev.get("source") or {}
    component = src.get("component") or ev.get("reportingComponent") or ""
    host = src.get("host") or ev.get("reportingInstance") or ""
    source = "<unknown>" if not component else (component if not host else f"{component}, {host}")
    return [last, ev.get("type") or "", ev.get("reason") or "", target, io.get("fieldPath") or "", source,
            (ev.get("message") or "").strip(), first, count, _meta(ev_in).get("name", "")]


# --------------------------------------------------------------------------------------------
# services, endpoints, endpointslices
# --------------------------------------------------------------------------------------------
_SERVICE_COLUMNS = [
    _name_col(),
    _col("Type", desc="type determines how the Service is exposed. Defaults to ClusterIP."),
    _col("Cluster-IP", desc="clusterIP is the IP address of the service and is usually assigned randomly."),
    _col("External-IP", desc="externalIPs is a list of IP addresses for which nodes in the cluster will also "
                             "accept traffic for this service."),
    _col("Port(s)", desc="The list of ports that are exposed by this service."),
    _age_col(),
    _col("Selector", desc="Route service traffic to pods with label keys and values matching this selector.",
         priority=1),
]


def _lb_ingress(svc: dict, wide: bool) -> str:
    ingress = (((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")) or []
    result = []
    for i in ingress:
        if i.get("ip"):
            result.append(i["ip"])
        elif i.get("hostname"):
            result.append(i["hostname"])
    r = ",".join(result)
    if not wide and len(r) > 16:
        r = r[:13] + "..."
    return r


def _service_external_ip(svc: dict, wide: bool = True) -> str:
    spec = svc.get("spec") or {}
    typ = spec.get("type") or "ClusterIP"
    ext = spec.get("externalIPs") or []
    if typ in ("ClusterIP", "NodePort"):
        return ",".join(ext) if ext else "<none>"
    if typ == "LoadBalancer":
        lb = _lb_ingress(svc, wide)
        if ext:
            return ",".join(([*lb.split(",")] if lb else []) + ext)
        return lb or "<pending>"
    if typ == "ExternalName":
        return spec.get("externalName") or ""
    return "<unknown>"


def _port_string(ports: list[dict]) -> str:
    pieces = []
    for p in ports or []:
        proto = p.get("protocol") or "TCP"
        if _int(p.get("nodePort")) > 0:
            pieces.append(f"{p.get('port')}:{p.get('nodePort')}/{proto}")
        else:
            pieces.append(f"{p.get('port')}/{proto}")
    return ",".join(pieces)


def _service_row(svc: dict, now: float) -> list:
    spec = svc.get("spec") or {}
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    ports = _port_string(spec.get("ports") or []) or "<none>"
    return [_meta(svc).get("name", ""), spec.get("type") or "ClusterIP", ips[0] if ips else "<none>",
            _service_external_ip(svc, wide=False), ports, _age(svc, now), format_labels(spec.get("selector"))]


_ENDPOINTS_COLUMNS = [_name_col(), _col("Endpoints", desc="Endpoints of the Service"), _age_col()]


def format_endpoints(ep: dict) -> str:
    subsets = ep.get("subsets") or []
    if not subsets:
        return "<none>"
    out: list[str] = []
    max_n, more, count = 3, False, 0
    for ss in subsets:
        addrs = ss.get("addresses") or []
        ports = ss.get("ports") or []
        if not ports:
            count += len(addrs)
            for a in addrs:
                if len(out) == max_n:
                    more = True
                    break
                out.append(a.get("ip", ""))
            continue
        for port in ports:
            count += len(addrs)
            for a in addrs:
                if len(out) == max_n:
                    more = True
                    break
                out.append(_join_host_port(a.get("ip", ""), port.get("port")))
    ret = ",".join(out)
    if more:
        return f"{ret} + {count - max_n} more..."
    return ret


_SLICE_COLUMNS = [
    _name_col(),
    _col("AddressType", desc="addressType specifies the type of address carried by this EndpointSlice."),
    _col("Ports", desc="ports specifies the list of network ports exposed by each endpoint in this slice."),
    _col("Endpoints", desc="endpoints is a list of unique endpoints in this slice."),
    _age_col(),
]


def _list_with_more(items: list[str], more: bool, count: int, max_n: int) -> str:
    ret = ",".join(items)
    if more:
        return f"{ret} + {count - max_n} more..."
    return ret or "<unset>"


def _slice_row(es: dict, now: float) -> list:
    ports, more, count = [], False, 0
    for p in es.get("ports") or []:
        if len(ports) < 3:
            if p.get("port") is not None:
                ports.append(str(p["port"]))
            elif p.get("name") is not None:
                ports.append(p["name"])
            else:
                ports.append("*")
        elif len(ports) == 3:
            more = True
        count += 1
    ports_s = _list_with_more(ports, more, count, 3)
    eps = es.get("endpoints") or []
    if not eps:
        eps_s = "<unset>"
    else:
        addrs, more2, count2 = [], False, 0
        for e in eps:
            for a in e.get("addresses") or []:
                if len(addrs) < 3:
                    addrs.append(a)
                elif len(addrs) == 3:
                    more2 = True
                count2 += 1
        eps_s = _list_with_more(addrs, more2, count2, 3)
    return [_meta(es).get("name", ""), es.get("addressType") or "", ports_s, eps_s, _age(es, now)]


# --------------------------------------------------------------------------------------------
# workloads
# --------------------------------------------------------------------------------------------
_DEPLOYMENT_COLUMNS = [
    _name_col(),
    _col("Ready", desc="Number of the pod with ready state"),
    _col("Up-to-date", "integer", "Total number of non-terminated pods targeted by this deployment that have the "
                                  "desired template spec."),
    _col("Available", "integer", "Total number of available pods (ready for at least minReadySeconds) targeted by "
                                 "this deployment."),
    _age_col(),
    _col("Containers", desc="Names of each container in the template.", priority=1),
    _col("Images", desc="Images referenced by each container in the template.", priority=1),
    _col("Selector", desc="Label selector for pods. Existing ReplicaSets whose pods are selected by this will be "
                          "the ones affected by this deployment.", priority=1),
]


def _replicas(spec: dict) -> int:
    r = spec.get("replicas")
    return 1 if r is None else _int(r)


def _deployment_row(d: dict, now: float) -> list:
    spec, st = d.get("spec") or {}, d.get("status") or {}
    names, images = _containers_images(((spec.get("template") or {}).get("spec")))
    return [_meta(d).get("name", ""), f"{_int(st.get('readyReplicas'))}/{_replicas(spec)}",
            _int(st.get("updatedReplicas")), _int(st.get("availableReplicas")), _age(d, now),
            names, images, label_selector_string(spec.get("selector"))]


_REPLICASET_COLUMNS = [
    _name_col(),
    _col("Desired", "integer", "Replicas is the number of desired replicas. This is a pointer to distinguish "
                               "between explicit zero and unspecified. Defaults to 1."),
    _col("Current", "integer", "Replicas is the most recently observed number of replicas."),
    _col("Ready", "integer", "The number of ready replicas for this replica set."),
    _age_col(),
    _col("Containers", desc="Names of each container in the template.", priority=1),
    _col("Images", desc="Images referenced by each container in the template.", priority=1),
    _col("Selector", desc="Selector is a label query over pods that should match the replica count.", priority=1),
]


def _replicaset_row(rs: dict, now: float) -> list:
    spec, st = rs.get("spec") or {}, rs.get("status") or {}
    names, images = _containers_images(((spec.get("template") or {}).get("spec")))
    return [_meta(rs).get("name", ""), _replicas(spec), _int(st.get("replicas")), _int(st.get("readyReplicas")),
            _age(rs, now), names, images, label_selector_string(spec.get("selector"))]


# --------------------------------------------------------------------------------------------
# config, namespaces, nodes, networking, CRDs
# --------------------------------------------------------------------------------------------
_CONFIGMAP_COLUMNS = [_name_col(), _col("Data", "integer", "Data contains the configuration data."), _age_col()]
_SECRET_COLUMNS = [_name_col(), _col("Type", desc="The type of the secret"),
                   _col("Data", "integer", "The number of data items in the secret"), _age_col()]
_NAMESPACE_COLUMNS = [_name_col(), _col("Status", desc="The status of the namespace"), _age_col()]
_NODE_COLUMNS = [
    _name_col(),
    _col("Status", desc="The status of the node"),
    _col("Roles", desc="The roles of the node"),
    _age_col(),
    _col("Version", desc="Kubelet Version reported by the node."),
    _col("Internal-IP", desc="List of addresses reachable to the node.", priority=1),
    _col("External-IP", desc="List of addresses reachable to the node.", priority=1),
    _col("OS-Image", desc="OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
         priority=1),
    _col("Kernel-Version", desc="Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
         priority=1),
    _col("Container-Runtime", desc="ContainerRuntime Version reported by the node through runtime remote API "
                                   "(e.g. containerd://1.4.2).", priority=1),
]


def _node_row(n: dict, now: float) -> list:
    st, spec = n.get("status") or {}, n.get("spec") or {}
    conds = {c.get("type"): c for c in st.get("conditions") or []}
    status = []
    if "Ready" in conds:
        status.append("Ready" if conds["Ready"].get("status") == "True" else "NotReady")
    if not status:
        status.append("Unknown")
    if spec.get("unschedulable"):
        status.append("SchedulingDisabled")
    roles = set()
    for k, v in (_meta(n).get("labels") or {}).items():
        if k.startswith("node-role.kubernetes.io/"):
            role = k[len("node-role.kubernetes.io/"):]
            if role:
                roles.add(role)
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    info = st.get("nodeInfo") or {}

    def addr(t: str) -> str:
        for a in st.get("addresses") or []:
            if a.get("type") == t:
                return a.get("address") or "<none>"
        return "<none>"

    return [_meta(n).get("name", ""), ",".join(status), ",".join(sorted(roles)) or "<none>", _age(n, now),
            info.get("kubeletVersion") or "", addr("InternalIP"), addr("ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


_INGRESS_COLUMNS = [
    _name_col(),
    _col("Class", desc="The name of the IngressClass resource"),
    _col("Hosts", desc="Hosts that incoming requests are matched against before the ingress rule"),
    _col("Address", desc="Address is a list containing ingress points for the load-balancer"),
    _col("Ports", desc="Ports of TLS configurations that open"),
    _age_col(),
]


def _ingress_row(ing: dict, now: float) -> list:
    spec = ing.get("spec") or {}
    hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
    hosts_s = ",".join(hosts[:3]) + (f" + {len(hosts) - 3} more..." if len(hosts) > 3 else "")
    addrs = []
    for i in ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        addrs.append(i.get("ip") or i.get("hostname") or "")
    return [_meta(ing).get("name", ""), spec.get("ingressClassName") or "<none>", hosts_s or "*",
            ",".join(a for a in addrs if a), "80, 443" if spec.get("tls") else "80", _age(ing, now)]


_NETPOL_COLUMNS = [_name_col(), _col("Pod-Selector", desc="Selects the pods to which this NetworkPolicy object "
                                                          "applies."), _age_col()]
_CRD_COLUMNS = [_name_col(), _col("Created At", "date", _AGE_DESC)]


def _crd_row(crd: dict, now: float) -> list:
    ts = _meta(crd).get("creationTimestamp")
    t = _parse_ts(ts)
    created = (datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None
               else "0001-01-01T00:00:00Z")
    return [_meta(crd).get("name", ""), created]


# Argo Rollouts CRDs' additionalPrinterColumns, rendered as the CRD table convertor does
# (integer cells for integer columns, None for a missing value, HumanDuration for "date").
def _jsonpath(obj: dict, path: str) -> Any:
    cur: Any = obj
    for part in path.strip(".").split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _crd_printer(columns: list[tuple[str, str, str, str]]) -> tuple[list[dict], Callable[[dict, float], list]]:
    defs = [_name_col()] + [_col(name, typ, desc) for name, typ, _path, desc in columns]

    def row(obj: dict, now: float) -> list:
        cells: list[Any] = [_meta(obj).get("name", "")]
        for _name, typ, path, _desc in columns:
            v = _jsonpath(obj, path)
            if v is None:
                cells.append(None)
            elif typ == "date":
                t = _parse_ts(v)
                cells.append("<invalid>" if t is None else human_duration(now - t))
            elif typ == "integer":
                cells.append(_int(v) if not isinstance(v, bool) else v)
            elif typ == "string":
                cells.append(v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
                             if isinstance(v, (list, dict)) else str(v))
            else:
                cells.append(v)
        return cells

    return defs, row


_ROLLOUT_COLUMNS, _rollout_row = _crd_printer([
    ("Desired", "integer", ".spec.replicas", "Number of desired pods"),
    ("Current", "integer", ".status.replicas", "Total number of non-terminated pods targeted by this rollout"),
    ("Up-to-date", "integer", ".status.updatedReplicas", "Total number of non-terminated pods targeted by this "
                                                          "rollout that have the desired template spec"),
    ("Available", "integer", ".status.availableReplicas", "Total number of available pods (ready for at least "
                                                           "minReadySeconds) targeted by this rollout"),
    ("Age", "date", ".metadata.creationTimestamp", "Time since resource was created"),
])
_ANALYSISRUN_COLUMNS, _analysisrun_row = _crd_printer([
    ("Status", "string", ".status.phase", "AnalysisRun status"),
    ("Age", "date", ".metadata.creationTimestamp", "Time since resource was created"),
])
_EXPERIMENT_COLUMNS, _experiment_row = _crd_printer([
    ("Status", "string", ".status.phase", "Experiment status"),
    ("Age", "date", ".metadata.creationTimestamp", "Time since resource was created"),
])
_CR_DEFAULT_COLUMNS, _cr_default_row = _crd_printer([
    ("Age", "date", ".metadata.creationTimestamp", "Time since resource was created")])
_GENERIC_COLUMNS = [_name_col(), _age_col()]


def _generic_row(obj: dict, now: float) -> list:
    return [_meta(obj).get("name", ""), _age(obj, now)]


# ------------------------------------------------------------- more built-in kinds (kubectl's printers)
def _n(v: Any) -> int:
    return _int(v) if v is not None else 0


_SA_COLUMNS = [_name_col(), _col("Secrets", "integer", "Secrets is a list of the secrets in the same namespace that "
                                                      "pods running using this ServiceAccount are allowed to use."),
               _age_col()]
_STS_COLUMNS = [_name_col(), _col("Ready", desc="Number of the pod with ready state"), _age_col(),
                _col("Containers", desc="Names of each container in the template.", priority=1),
                _col("Images", desc="Images referenced by each container in the template.", priority=1)]


def _sts_row(o: dict, now: float) -> list:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    names, images = _containers_images(((spec.get("template") or {}).get("spec")))
    return [_meta(o).get("name", ""), f"{_n(st.get('readyReplicas'))}/{_replicas(spec)}", _age(o, now), names, images]


_DS_COLUMNS = [_name_col()] + [_col(n, "integer", d) for n, d in (
    ("Desired", "The desired number of nodes that should be running the daemon pod."),
    ("Current", "The number of nodes that are running at least 1 daemon pod."),
    ("Ready", "The number of nodes that should be running the daemon pod and have one or more ready."),
    ("Up-to-date", "The total number of nodes that are running updated daemon pod"),
    ("Available", "The number of nodes that should be running the daemon pod and have one or more of the daemon "
                  "pod running and available."))] + [
    _col("Node Selector", desc="NodeSelector is a selector which must be true for the pod to fit on a node."),
    _age_col(), _col("Containers", desc="Names of each container in the template.", priority=1),
    _col("Images", desc="Images referenced by each container in the template.", priority=1)]


def _ds_row(o: dict, now: float) -> list:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    tspec = (spec.get("template") or {}).get("spec") or {}
    names, images = _containers_images(tspec)
    return [_meta(o).get("name", ""), _n(st.get("desiredNumberScheduled")), _n(st.get("currentNumberScheduled")),
            _n(st.get("numberReady")), _n(st.get("updatedNumberScheduled")), _n(st.get("numberAvailable")),
            format_labels(tspec.get("nodeSelector")) if tspec.get("nodeSelector") else "<none>", _age(o, now),
            names, images]


_JOB_COLUMNS = [_name_col(), _col("Status", desc="Status of the job."),
                _col("Completions", desc="The desired number of successfully finished pods the job should be run "
                                         "with."),
                _col("Duration", desc="Time required to complete the job."), _age_col(),
                _col("Containers", desc="Names of each container in the template.", priority=1),
                _col("Images", desc="Images referenced by each container in the template.", priority=1)]


def _job_status(o: dict) -> str:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in st.get("conditions") or () if isinstance(c, dict)}
    if conds.get("Complete") == "True":
        return "Complete"
    if conds.get("Failed") == "True":
        return "Failed"
    if conds.get("Suspended") == "True" or spec.get("suspend") is True:
        return "Suspended"
    return "Running"


def _job_row(o: dict, now: float) -> list:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    comp = spec.get("completions")
    completions = f"{_n(st.get('succeeded'))}/{_int(comp)}" if comp is not None else (
        f"{_n(st.get('succeeded'))}/1 of {_n(spec.get('parallelism'))}")
    start, end = _parse_ts(st.get("startTime")), _parse_ts(st.get("completionTime"))
    duration = "" if start is None else human_duration((end if end is not None else now) - start)
    names, images = _containers_images(((spec.get("template") or {}).get("spec")))
    return [_meta(o).get("name", ""), _job_status(o), completions, duration, _age(o, now), names, images]


_CRONJOB_COLUMNS = [_name_col(), _col("Schedule", desc="The schedule in Cron format"),
                    _col("Timezone", desc="The time zone name for the given schedule"),
                    _col("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions."),
                    _col("Active", "integer", "A list of pointers to currently running jobs."),
                    _col("Last Schedule", desc="Information when was the last time the job was successfully "
                                               "scheduled."), _age_col()]


def _cronjob_row(o: dict, now: float) -> list:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    last = _parse_ts(st.get("lastScheduleTime"))
    return [_meta(o).get("name", ""), spec.get("schedule") or "", spec.get("timeZone") or "<none>",
            "True" if spec.get("suspend") is True else "False", len(st.get("active") or ()),
            "<none>" if last is None else human_duration(now - last), _age(o, now)]


_ACCESS = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
_PVC_COLUMNS = [_name_col(), _col("Status"), _col("Volume"), _col("Capacity"), _col("Access Modes"),
                _col("StorageClass"), _col("VolumeAttributesClass"), _age_col(),
                _col("VolumeMode", priority=1)]


def _pvc_row(o: dict, now: float) -> list:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    modes = ",".join(_ACCESS.get(m, m) for m in st.get("accessModes") or () if isinstance(m, str))
    return [_meta(o).get("name", ""), st.get("phase") or "Pending", spec.get("volumeName") or "",
            (st.get("capacity") or {}).get("storage") or "", modes, spec.get("storageClassName") or "",
            spec.get("volumeAttributesClassName") or "<unset>", _age(o, now), spec.get("volumeMode") or "<unset>"]


_HPA_COLUMNS = [_name_col(), _col("Reference", desc="reference to the target resource"),
                _col("Targets", desc="the current and target metrics"),
                _col("MinPods", desc="the minimum number of replicas"),
                _col("MaxPods", "integer", "the maximum number of replicas"),
                _col("Replicas", "integer", "the current number of replicas"), _age_col()]


def _hpa_targets(o: dict) -> str:
    out = []
    for m in (o.get("spec") or {}).get("metrics") or ():
        if not isinstance(m, dict):
            continue
        src = m.get(("containerResource" if m.get("type") == "ContainerResource" else "resource")) or {}
        target = src.get("target") or {}
        if m.get("type") in ("Resource", "ContainerResource") and src.get("name"):
            want = (f"{target['averageUtilization']}%" if "averageUtilization" in target
                    else str(target.get("averageValue") or target.get("value") or "<unset>"))
            out.append(f"{src['name']}: <unknown>/{want}")
        else:
            out.append("<unknown>/<unset>")
    return ", ".join(out) if out else "<none>"


def _hpa_row(o: dict, now: float) -> list:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    return [_meta(o).get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}", _hpa_targets(o),
            str(spec.get("minReplicas")) if spec.get("minReplicas") is not None else "<unset>",
            _n(spec.get("maxReplicas")), _n(st.get("currentReplicas")), _age(o, now)]


_PDB_COLUMNS = [_name_col(), _col("Min Available"), _col("Max Unavailable"),
                _col("Allowed Disruptions", "integer"), _age_col()]


def _pdb_row(o: dict, now: float) -> list:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    mn, mx = spec.get("minAvailable"), spec.get("maxUnavailable")
    return [_meta(o).get("name", ""), "N/A" if mn is None else str(mn), "N/A" if mx is None else str(mx),
            _n(st.get("disruptionsAllowed")), _age(o, now)]


_ROLEBINDING_COLUMNS = [_name_col(), _col("Role"), _age_col(), _col("Users", priority=1),
                        _col("Groups", priority=1), _col("ServiceAccounts", priority=1)]


def _rolebinding_row(o: dict, now: float) -> list:
    ref = o.get("roleRef") or {}
    subs = [x for x in o.get("subjects") or () if isinstance(x, dict)]
    users = ", ".join(x.get("name", "") for x in subs if x.get("kind") == "User")
    groups = ", ".join(x.get("name", "") for x in subs if x.get("kind") == "Group")
    sas = ", ".join(f"{x.get('namespace', '')}/{x.get('name', '')}" for x in subs if x.get("kind") == "ServiceAccount")
    return [_meta(o).get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}", _age(o, now), users, groups, sas]


_PRINTERS: dict[str, tuple[list[dict], Callable[[dict, float], list]]] = {
    "events": (_EVENT_COLUMNS, _event_row),
    "services": (_SERVICE_COLUMNS, _service_row),
    "endpoints": (_ENDPOINTS_COLUMNS, lambda o, now: [_meta(o).get("name", ""), format_endpoints(o), _age(o, now)]),
    "endpointslices": (_SLICE_COLUMNS, _slice_row),
    "deployments": (_DEPLOYMENT_COLUMNS, _deployment_row),
    "replicasets": (_REPLICASET_COLUMNS, _replicaset_row),
    "configmaps": (_CONFIGMAP_COLUMNS, lambda o, now: [
        _meta(o).get("name", ""), len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o, now)]),
    "secrets": (_SECRET_COLUMNS, lambda o, now: [
        _meta(o).get("name", ""), o.get("type") or "", len(o.get("data") or {}), _age(o, now)]),
    "namespaces": (_NAMESPACE_COLUMNS, lambda o, now: [
        _meta(o).get("name", ""), (o.get("status") or {}).get("phase") or "", _age(o, now)]),
    "nodes": (_NODE_COLUMNS, _node_row),
    "ingresses": (_INGRESS_COLUMNS, _ingress_row),
    "networkpolicies": (_NETPOL_COLUMNS, lambda o, now: [
        _meta(o).get("name", ""), label_selector_string((o.get("spec") or {}).get("podSelector") or {}) or "<none>",
        _age(o, now)]),
    "customresourcedefinitions": (_CRD_COLUMNS, _crd_row),
    "serviceaccounts": (_SA_COLUMNS, lambda o, now: [_meta(o).get("name", ""), len(o.get("secrets") or ()),
                                                     _age(o, now)]),
    "statefulsets": (_STS_COLUMNS, _sts_row),
    "daemonsets": (_DS_COLUMNS, _ds_row),
    "jobs": (_JOB_COLUMNS, _job_row),
    "cronjobs": (_CRONJOB_COLUMNS, _cronjob_row),
    "persistentvolumeclaims": (_PVC_COLUMNS, _pvc_row),
    "horizontalpodautoscalers": (_HPA_COLUMNS, _hpa_row),
    "poddisruptionbudgets": (_PDB_COLUMNS, _pdb_row),
    "roles": (_CRD_COLUMNS, _crd_row),
    "clusterroles": (_CRD_COLUMNS, _crd_row),
    "rolebindings": (_ROLEBINDING_COLUMNS, _rolebinding_row),
    "clusterrolebindings": (_ROLEBINDING_COLUMNS, _rolebinding_row),
    "rollouts": (_ROLLOUT_COLUMNS, _rollout_row),
    "analysisruns": (_ANALYSISRUN_COLUMNS, _analysisrun_row),
    "experiments": (_EXPERIMENT_COLUMNS, _experiment_row),
    "analysistemplates": (_CR_DEFAULT_COLUMNS, _cr_default_row),
    "clusteranalysistemplates": (_CR_DEFAULT_COLUMNS, _cr_default_row),
}


def _res_key(res: str) -> str:
    """"pods", "events.k8s.io/events", "apps/v1/deployments", "deployments.apps" -> the plural."""
    r = res.rsplit("/", 1)[-1]
    return r.split(".", 1)[0]


def columns_for(res: str) -> list[dict]:
    key = _res_key(res)
    if key == "pods":
        return [dict(c) for c in _POD_COLUMNS]
    cols, _ = _PRINTERS.get(key, (_GENERIC_COLUMNS, _generic_row))
    return [dict(c) for c in cols]


def row_cells(res: str, obj: dict, now: float) -> tuple[list, list | None]:
    """(cells, row conditions) for one object."""
    key = _res_key(res)
    if key == "pods":
        return _pod_row(obj, now)
    _, fn = _PRINTERS.get(key, (_GENERIC_COLUMNS, _generic_row))
    return fn(obj, now), None


def _partial(obj: dict) -> dict:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": _meta(obj)}


def crd_printer(columns: list[dict]) -> tuple[list[dict], Callable[[dict, float], list]]:
    """Column definitions and a row function from a CRD's additionalPrinterColumns (dicts with name, type,
    jsonPath, description, priority), as kube-apiserver's CRD table convertor renders them."""
    spec = [(str(c.get("name", "")), str(c.get("type", "string")), str(c.get("jsonPath", "")),
             str(c.get("description", ""))) for c in columns]
    defs, row = _crd_printer(spec)
    for d, c in zip(defs[1:], columns):
        if isinstance(c.get("priority"), int):
            d["priority"] = c["priority"]
    return defs, row


def _row(res: str, obj: dict, now: float, include_object: str | None, printer=None) -> dict:
    cells, conditions = (printer[1](obj, now), None) if printer else row_cells(res, obj, now)
    row: dict[str, Any] = {"cells": cells}
    if conditions:
        row["conditions"] = conditions
    mode = (include_object or "Metadata")
    if mode == "Object":
        row["object"] = obj
    elif mode != "None":
        row["object"] = _partial(obj)
    return row


def to_table(res: str, objs: list[dict], list_meta: dict | None, now: float | None = None, *,
             include_object: str | None = "Metadata", no_headers: bool = False,
             api_version: str = "meta.k8s.io/v1", columns: list[dict] | None = None) -> dict:
    """A Table for a list (``objs``) or a single get (``objs=[obj]``, ``list_meta`` with its resourceVersion).

    ``res`` is the resource's plural ("pods", "deployments", "rollouts"; "apps/deployments" works too),
    ``list_meta`` goes to the Table's metadata (resourceVersion, continue, remainingItemCount),
    ``include_object`` is the includeObject query parameter ("Metadata" default, "Object", "None"),
    ``no_headers`` leaves the column definitions out (watch frames after the first); ``columns``: a CRD's
    additionalPrinterColumns, for a kind served from a CRD."""
    now = time.time() if now is None else now
    printer = crd_printer(columns) if columns else None
    table: dict[str, Any] = {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": dict(list_meta or {}),
        "columnDefinitions": [] if no_headers else (printer[0] if printer else columns_for(res)),
        "rows": [_row(res, o, now, include_object, printer) for o in objs],
    }
    return table


def to_table_row_event(res: str, event_type: str, obj: dict, now: float | None = None, *,
                       include_headers: bool = False, include_object: str | None = "Metadata",
                       api_version: str = "meta.k8s.io/v1", columns: list[dict] | None = None) -> dict:
    """One watch frame for a Table watch: ``{"type": ..., "object": Table with one row}``.

    kube-apiserver sends the column definitions with the first event of a watch only
    (``include_headers=True`` for it).  ERROR events carry a Status and BOOKMARK events a bare object
    with only its resourceVersion: pass those through untouched, do not call this for them."""
    rv = _meta(obj).get("resourceVersion")
    table = to_table(res, [obj], {"resourceVersion": rv} if rv else {}, now,
                     include_object=include_object, no_headers=not include_headers, api_version=api_version,
                     columns=columns)
    return {"type": event_type, "object": table}
