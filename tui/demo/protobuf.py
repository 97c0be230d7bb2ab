"""Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded to the JSON a client
would have sent, for the few kinds kubectl's generators send that way.

kubectl 1.32 and 1.33 send protobuf for imperative `create`. No maintained Python package carries the
upstream message definitions, so this decodes the wire format directly with the field numbers of
k8s.io/api's generated.proto for what kubectl's generators make: Namespace, ConfigMap, Secret, Deployment,
Service, Job, CronJob, ServiceAccount, Role, ClusterRole, RoleBinding, ClusterRoleBinding,
PodDisruptionBudget, Ingress (and the messages inside them that those generators fill: ObjectMeta, the pod
template's containers with ports, env, resources, rules, subjects, backends). A field outside those is skipped; any other kind is
refused with 415 and a sentence saying to send JSON.

The envelope (k8s.io/apimachinery runtime.Unknown): magic "k8s\\x00", then {1: typeMeta {1: apiVersion,
2: kind}, 2: raw (the object's message), 3: contentEncoding, 4: contentType}.

Go's generated code writes every non-pointer field, zero or not; JSON would leave those out (omitempty), so
empty strings, empty lists and maps, zero times, and zero numbers or false (except in the pointer fields
listed in KEEP_ZERO) are dropped.
"""
from __future__ import annotations

import base64
import datetime as _dt
from typing import Any

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    """The body cannot be decoded (or is a kind this decoder does not know)."""


# message -> {field number: (json name, type)}; type: "str", "bytes", "int", "bool", "strs" (repeated string),
# "map" (string->string), "bmap" (string->bytes, base64 in JSON), "qmap" (string->Quantity), "time",
# "intstr", a message name, or "[Message]" (repeated)
MESSAGES: dict[str, dict[int, tuple[str, str]]] = {
    "ObjectMeta": {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"), 5: ("uid", "str"),
                   6: ("resourceVersion", "str"), 7: ("generation", "int"), 8: ("creationTimestamp", "time"),
                   11: ("labels", "map"), 12: ("annotations", "map"), 13: ("ownerReferences", "[OwnerReference]"),
                   14: ("finalizers", "strs")},
    "OwnerReference": {1: ("kind", "str"), 3: ("name", "str"), 4: ("uid", "str"), 5: ("apiVersion", "str"),
                       6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")},
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "strs")},
    "ConfigMap": {1: ("metadata", "ObjectMeta"), 2: ("data", "map"), 3: ("binaryData", "bmap"),
                  4: ("immutable", "bool")},
    "Secret": {1: ("metadata", "ObjectMeta"), 2: ("data", "bmap"), 3: ("type", "str"), 4: ("stringData", "map"),
               5: ("immutable", "bool")},
    "Deployment": {1: ("metadata", "ObjectMeta"), 2: ("spec", "DeploymentSpec")},
    "DeploymentSpec": {1: ("replicas", "int"), 2: ("selector", "LabelSelector"), 3: ("template", "PodTemplateSpec"),
                       4: ("strategy", "DeploymentStrategy"), 5: ("minReadySeconds", "int"),
                       6: ("revisionHistoryLimit", "int"), 7: ("paused", "bool"), 9: ("progressDeadlineSeconds", "int")},
    "DeploymentStrategy": {1: ("type", "str"), 2: ("rollingUpdate", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "intstr"), 2: ("maxSurge", "intstr")},
    "LabelSelector": {1: ("matchLabels", "map"), 2: ("matchExpressions", "[LabelSelectorRequirement]")},
    "LabelSelectorRequirement": {1: ("key", "str"), 2: ("operator", "str"), 3: ("values", "strs")},
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodSpec")},
    "PodSpec": {2: ("containers", "[Container]"), 3: ("restartPolicy", "str"),
                4: ("terminationGracePeriodSeconds", "int"), 6: ("dnsPolicy", "str"), 7: ("nodeSelector", "map"),
                8: ("serviceAccountName", "str"), 10: ("nodeName", "str"), 20: ("initContainers", "[Container]")},
    "Container": {1: ("name", "str"), 2: ("image", "str"), 3: ("command", "strs"), 4: ("args", "strs"),
                  5: ("workingDir", "str"), 6: ("ports", "[ContainerPort]"), 7: ("env", "[EnvVar]"),
                  8: ("resources", "ResourceRequirements"), 13: ("terminationMessagePath", "str"),
                  14: ("imagePullPolicy", "str"), 16: ("stdin", "bool"), 17: ("stdinOnce", "bool"), 18: ("tty", "bool"),
                  20: ("terminationMessagePolicy", "str")},
    "ContainerPort": {1: ("name", "str"), 2: ("hostPort", "int"), 3: ("containerPort", "int"), 4: ("protocol", "str"),
                      5: ("hostIP", "str")},
    "EnvVar": {1: ("name", "str"), 2: ("value", "str")},
    "ResourceRequirements": {1: ("limits", "qmap"), 2: ("requests", "qmap")},
    "Service": {1: ("metadata", "ObjectMeta"), 2: ("spec", "ServiceSpec")},
    "ServiceSpec": {1: ("ports", "[ServicePort]"), 2: ("selector", "map"), 3: ("clusterIP", "str"), 4: ("type", "str"),
                    5: ("externalIPs", "strs"), 7: ("sessionAffinity", "str"), 8: ("loadBalancerIP", "str"),
                    10: ("externalName", "str"), 11: ("externalTrafficPolicy", "str"),
                    13: ("publishNotReadyAddresses", "bool"), 18: ("clusterIPs", "strs")},
    "ServicePort": {1: ("name", "str"), 2: ("protocol", "str"), 3: ("port", "int"), 4: ("targetPort", "intstr"),
                    5: ("nodePort", "int"), 6: ("appProtocol", "str")},
    "Job": {1: ("metadata", "ObjectMeta"), 2: ("spec", "JobSpec")},
    "JobSpec": {1: ("parallelism", "int"), 2: ("completions", "int"), 3: ("activeDeadlineSeconds", "int"),
                4: ("selector", "LabelSelector"), 5: ("manualSelector", "bool"), 6: ("template", "PodTemplateSpec"),
                7: ("backoffLimit", "int"), 8: ("ttlSecondsAfterFinished", "int"), 9: ("completionMode", "str"),
                10: ("suspend", "bool")},
    "ServiceAccount": {1: ("metadata", "ObjectMeta"), 2: ("secrets", "[ObjectReference]"),
                       3: ("imagePullSecrets", "[LocalObjectReference]"), 4: ("automountServiceAccountToken", "bool")},
    "ObjectReference": {1: ("kind", "str"), 2: ("namespace", "str"), 3: ("name", "str"), 4: ("uid", "str"),
                        5: ("apiVersion", "str"), 6: ("resourceVersion", "str"), 7: ("fieldPath", "str")},
    "LocalObjectReference": {1: ("name", "str")},
    "Role": {1: ("metadata", "ObjectMeta"), 2: ("rules", "[PolicyRule]")},
    "ClusterRole": {1: ("metadata", "ObjectMeta"), 2: ("rules", "[PolicyRule]"),
                    3: ("aggregationRule", "AggregationRule")},
    "AggregationRule": {1: ("clusterRoleSelectors", "[LabelSelector]")},
    "PolicyRule": {1: ("verbs", "strs"), 2: ("apiGroups", "strs"), 3: ("resources", "strs"),
                   4: ("resourceNames", "strs"), 5: ("nonResourceURLs", "strs")},
    "RoleBinding": {1: ("metadata", "ObjectMeta"), 2: ("subjects", "[Subject]"), 3: ("roleRef", "RoleRef")},
    "Subject": {1: ("kind", "str"), 2: ("apiGroup", "str"), 3: ("name", "str"), 4: ("namespace", "str")},
    "RoleRef": {1: ("apiGroup", "str"), 2: ("kind", "str"), 3: ("name", "str")},
    "CronJob": {1: ("metadata", "ObjectMeta"), 2: ("spec", "CronJobSpec")},
    "CronJobSpec": {1: ("schedule", "str"), 2: ("startingDeadlineSeconds", "int"), 3: ("concurrencyPolicy", "str"),
                    4: ("suspend", "bool"), 5: ("jobTemplate", "JobTemplateSpec"),
                    6: ("successfulJobsHistoryLimit", "int"), 7: ("failedJobsHistoryLimit", "int"),
                    8: ("timeZone", "str")},
    "JobTemplateSpec": {1: ("metadata", "ObjectMeta"), 2: ("spec", "JobSpec")},
    "PodDisruptionBudget": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodDisruptionBudgetSpec")},
    "PodDisruptionBudgetSpec": {1: ("minAvailable", "intstr"), 2: ("selector", "LabelSelector"),
                                3: ("maxUnavailable", "intstr"), 4: ("unhealthyPodEvictionPolicy", "str")},
    "Ingress": {1: ("metadata", "ObjectMeta"), 2: ("spec", "IngressSpec")},
    "IngressSpec": {1: ("defaultBackend", "IngressBackend"), 2: ("tls", "[IngressTLS]"), 3: ("rules", "[IngressRule]"),
                    4: ("ingressClassName", "str")},
    "IngressTLS": {1: ("hosts", "strs"), 2: ("secretName", "str")},
    # ingressRuleValue is inlined in JSON: its `http` sits on the rule itself
    "IngressRule": {1: ("host", "str"), 2: ("", "IngressRuleValue")},
    "IngressRuleValue": {1: ("http", "HTTPIngressRuleValue")},
    "HTTPIngressRuleValue": {1: ("paths", "[HTTPIngressPath]")},
    "HTTPIngressPath": {1: ("path", "str"), 2: ("backend", "IngressBackend"), 3: ("pathType", "str")},
    "IngressBackend": {3: ("resource", "TypedLocalObjectReference"), 4: ("service", "IngressServiceBackend")},
    "TypedLocalObjectReference": {1: ("apiGroup", "str"), 2: ("kind", "str"), 3: ("name", "str")},
    "IngressServiceBackend": {1: ("name", "str"), 2: ("port", "ServiceBackendPort")},
    "ServiceBackendPort": {1: ("name", "str"), 2: ("number", "int")},
}
# pointer fields in Go: written only when set, so a zero there was meant
KEEP_ZERO = {("DeploymentSpec", "replicas"), ("JobSpec", "parallelism"), ("JobSpec", "completions"),
             ("JobSpec", "backoffLimit"), ("JobSpec", "suspend"), ("CronJobSpec", "suspend"),
             ("CronJobSpec", "successfulJobsHistoryLimit"), ("CronJobSpec", "failedJobsHistoryLimit"),
             ("CronJobSpec", "startingDeadlineSeconds"), ("ServiceAccount", "automountServiceAccountToken"),
             ("PodDisruptionBudgetSpec", "minAvailable"), ("PodDisruptionBudgetSpec", "maxUnavailable"),
             ("ConfigMap", "immutable"), ("Secret", "immutable")}
TOP_LEVEL = {("v1", "Namespace"): "Namespace", ("v1", "ConfigMap"): "ConfigMap", ("v1", "Secret"): "Secret",
             ("apps/v1", "Deployment"): "Deployment", ("v1", "Service"): "Service", ("batch/v1", "Job"): "Job",
             ("v1", "ServiceAccount"): "ServiceAccount", ("batch/v1", "CronJob"): "CronJob",
             ("policy/v1", "PodDisruptionBudget"): "PodDisruptionBudget",
             ("networking.k8s.io/v1", "Ingress"): "Ingress",
             **{("rbac.authorization.k8s.io/v1", k): k for k in ("Role", "ClusterRole", "RoleBinding",
                                                                    "ClusterRoleBinding")}}
MESSAGES["ClusterRoleBinding"] = MESSAGES["RoleBinding"]


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 70:
            raise ProtobufError("varint too long")


def fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of one message: an int for varints, bytes otherwise."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ProtobufError("truncated field")
            v, i = buf[i:i + n], i + n
        elif wire == 1:
            v, i = buf[i:i + 8], i + 8
        elif wire == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((num, wire, v))
    return out


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _str(v: Any) -> str:
    if not isinstance(v, (bytes, bytearray)):
        raise ProtobufError("a string field is not length-delimited")
    return bytes(v).decode("utf-8", "replace")


def _entry(v: bytes) -> tuple[str, bytes]:
    key, val = "", b""
    for n, _w, x in fields(v):
        if n == 1:
            key = _str(x)
        elif n == 2:
            val = x
    return key, val


def _value(typ: str, wire: int, v: Any) -> Any:
    if typ == "str":
        return _str(v)
    if typ == "bytes":
        return base64.b64encode(v).decode()
    if typ == "int":
        if wire != 0:
            raise ProtobufError("an integer field is not a varint")
        return _signed(v)
    if typ == "bool":
        return bool(v)
    if typ == "time":
        secs = nanos = 0
        for n, _w, x in fields(v):
            if n == 1:
                secs = _signed(x)
            elif n == 2:
                nanos = x
        if secs == 0 and nanos == 0:
            return None
        return _dt.datetime.fromtimestamp(secs, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if typ == "intstr":
        kind, ival, sval = 0, 0, ""
        for n, _w, x in fields(v):
            if n == 1:
                kind = x
            elif n == 2:
                ival = _signed(x)
            elif n == 3:
                sval = _str(x)
        return sval if kind == 1 else ival
    return decode_message(v, typ)


def decode_message(buf: bytes, name: str) -> dict:
    spec = MESSAGES[name]
    out: dict[str, Any] = {}
    for num, wire, v in fields(buf):
        f = spec.get(num)
        if f is None:
            continue  # a field this decoder does not know: left out
        key, typ = f
        if typ in ("map", "bmap", "qmap"):
            k, raw = _entry(v)
            if typ == "map":
                val: Any = raw.decode("utf-8", "replace")
            elif typ == "bmap":
                val = base64.b64encode(raw).decode()
            else:  # Quantity {1: string}
                val = next((_str(x) for n, _w, x in fields(raw) if n == 1), "")
            out.setdefault(key, {})[k] = val
        elif typ == "strs":
            out.setdefault(key, []).append(_str(v))
        elif typ.startswith("["):
            out.setdefault(key, []).append(decode_message(v, typ[1:-1]))
        elif key == "":  # an inlined message: its fields belong to this object
            out.update(decode_message(v, typ))
        else:
            out[key] = _value(typ, wire, v)
    for key, val in list(out.items()):
        if val in ("", None) or val == {} or val == [] or (
                (val == 0 or val is False) and not isinstance(val, dict) and (name, key) not in KEEP_ZERO
                and not (name == "ServicePort" and key == "targetPort")):
            del out[key]
    return out


def decode(body: bytes) -> dict:
    """The object a protobuf request body carries, as JSON-shaped data; ProtobufError when it cannot be read."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf prefix")
    api_version = kind = ""
    raw = b""
    for num, _w, v in fields(body[len(MAGIC):]):
        if num == 1:
            for n, _w2, x in fields(v):
                if n == 1:
                    api_version = _str(x)
                elif n == 2:
                    kind = _str(x)
        elif num == 2:
            raw = v
    msg = TOP_LEVEL.get((api_version, kind))
    if msg is None:
        raise ProtobufError(f"the demo cluster reads protobuf bodies of {', '.join(m for m in TOP_LEVEL.values())} "
                            f"only, not {kind or 'this'} ({api_version or 'no apiVersion'}): send JSON "
                            "(kubectl: -o json | kubectl create -f -)")
    obj = decode_message(raw, msg)
    return {"apiVersion": api_version, "kind": kind, **obj}
