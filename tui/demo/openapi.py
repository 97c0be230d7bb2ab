"""OpenAPI documents for the demo cluster (what kubectl needs to validate, apply and explain).

kube-apiserver publishes its schemas twice:

* ``GET /openapi/v2``: one Swagger 2.0 document.  client-go asks for it with
  ``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and decodes the body as
  protobuf (gnostic ``openapi.v2.Document``) *without looking at the Content-Type*, so a JSON
  answer breaks ``kubectl apply``/``create`` validation.  :func:`openapi_v2_protobuf` encodes the
  same document in that wire format (a small hand-written encoder: no protobuf dependency).
* ``GET /openapi/v3`` (an index) and ``GET /openapi/v3/<group-version>`` (one OpenAPI 3.0 document
  per group version).  kubectl >= 1.27 reads them to decide that the server validates fields itself
  (a ``fieldValidation`` query parameter on the PATCH operation of the kind), to build strategic
  merge patches for ``kubectl apply`` and for ``kubectl explain``.

The schemas are generated from the ``kubernetes`` package's model classes (``openapi_types`` and
``attribute_map`` on every model; descriptions and required fields where the models carry them),
plus hand-written ones for metrics.k8s.io and the Argo Rollouts custom resources.  Importing the
models costs ~0.3 s and generating ~0.5 s, so nothing happens at import time: the first call does
the work (``warm_up()`` runs it on a background thread) and every result is cached.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from typing import Any, Iterable

def _once(fn):
    """lru_cache(maxsize=1) for a no-argument function, computed once even when threads race."""
    lock = threading.RLock()
    box: list = []

    def wrapper():
        if box:
            return box[0]
        with lock:
            if not box:
                box.append(fn())
        return box[0]

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    wrapper.cache_clear = box.clear  # type: ignore[attr-defined]
    return wrapper


__all__ = [
    "OPENAPI_V2_PROTOBUF",
    "OPENAPI_V2_PROTOBUF_CONTENT_TYPE",
    "Resource",
    "RESOURCES",
    "openapi_v2",
    "openapi_v2_bytes",
    "openapi_v2_protobuf",
    "openapi_v2_response",
    "openapi_v3_index",
    "openapi_v3_doc",
    "openapi_v3_response",
    "definition_for",
    "warm_up",
]

OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"   # what clients ask for
# what kube-apiserver answers with: Go's mime parser rejects the "@" form, and client-go's REST
# client parses the response Content-Type (a 1.27/1.28 kubectl fails on the "@" form).
OPENAPI_V2_PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
OPENAPI_V3_PROTOBUF = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
TIME = f"{META}.Time"
MICROTIME = f"{META}.MicroTime"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
FIELDS_V1 = f"{META}.FieldsV1"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"


# --------------------------------------------------------------------------------------------
# What is served
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    definition: str                      # OpenAPI definition name of the kind
    subresources: tuple[str, ...] = ()   # "status", "scale"
    read_only: bool = False              # metrics.k8s.io
    custom: bool = False                 # CRD-backed: no strategic merge patch

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def v3_key(self) -> str:
        return f"apis/{self.group}/{self.version}" if self.group else f"api/{self.version}"

    @property
    def prefix(self) -> str:
        return "/" + self.v3_key


def _core(kind, plural, namespaced=True, sub=()):
    return Resource("", "v1", kind, plural, namespaced, f"io.k8s.api.core.v1.{kind}", tuple(sub))


ARGO = "argoproj.io"
RESOURCES: tuple[Resource, ...] = (
    _core("Namespace", "namespaces", False, ("status",)),
    _core("Node", "nodes", False, ("status",)),
    _core("Pod", "pods", True, ("status",)),
    _core("Event", "events"),
    _core("Service", "services", True, ("status",)),
    _core("Endpoints", "endpoints"),
    _core("ConfigMap", "configmaps"),
    _core("Secret", "secrets"),
    Resource("events.k8s.io", "v1", "Event", "events", True, "io.k8s.api.events.v1.Event"),
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True,
             "io.k8s.api.discovery.v1.EndpointSlice"),
    Resource("apps", "v1", "Deployment", "deployments", True, "io.k8s.api.apps.v1.Deployment",
             ("status", "scale")),
    Resource("apps", "v1", "ReplicaSet", "replicasets", True, "io.k8s.api.apps.v1.ReplicaSet",
             ("status", "scale")),
    Resource("networking.k8s.io", "v1", "Ingress", "ingresses", True, "io.k8s.api.networking.v1.Ingress",
             ("status",)),
    Resource("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True,
             "io.k8s.api.networking.v1.NetworkPolicy"),
    _core("ServiceAccount", "serviceaccounts"),
    _core("PersistentVolumeClaim", "persistentvolumeclaims", True, ("status",)),
    Resource("apps", "v1", "StatefulSet", "statefulsets", True, "io.k8s.api.apps.v1.StatefulSet", ("status", "scale")),
    Resource("apps", "v1", "DaemonSet", "daemonsets", True, "io.k8s.api.apps.v1.DaemonSet", ("status",)),
    Resource("batch", "v1", "Job", "jobs", True, "io.k8s.api.batch.v1.Job", ("status",)),
    Resource("batch", "v1", "CronJob", "cronjobs", True, "io.k8s.api.batch.v1.CronJob", ("status",)),
    Resource("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True,
             "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler", ("status",)),
    Resource("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True,
             "io.k8s.api.policy.v1.PodDisruptionBudget", ("status",)),
    Resource("rbac.authorization.k8s.io", "v1", "Role", "roles", True, "io.k8s.api.rbac.v1.Role"),
    Resource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, "io.k8s.api.rbac.v1.RoleBinding"),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, "io.k8s.api.rbac.v1.ClusterRole"),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False,
             "io.k8s.api.rbac.v1.ClusterRoleBinding"),
    Resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
             "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition", ("status",)),
    Resource("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", True,
             "io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics", read_only=True),
    Resource("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", False,
             "io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics", read_only=True),
    Resource(ARGO, "v1alpha1", "Rollout", "rollouts", True, "io.argoproj.v1alpha1.Rollout",
             ("status", "scale"), custom=True),
    Resource(ARGO, "v1alpha1", "AnalysisRun", "analysisruns", True, "io.argoproj.v1alpha1.AnalysisRun",
             ("status",), custom=True),
    Resource(ARGO, "v1alpha1", "AnalysisTemplate", "analysistemplates", True,
             "io.argoproj.v1alpha1.AnalysisTemplate", custom=True),
    Resource(ARGO, "v1alpha1", "ClusterAnalysisTemplate", "clusteranalysistemplates", False,
             "io.argoproj.v1alpha1.ClusterAnalysisTemplate", custom=True),
    Resource(ARGO, "v1alpha1", "Experiment", "experiments", True, "io.argoproj.v1alpha1.Experiment",
             ("status",), custom=True),
    Resource("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", True,
             "io.k8s.networking.gateway.v1.HTTPRoute", ("status",), custom=True),
    Resource("networking.istio.io", "v1beta1", "VirtualService", "virtualservices", True,
             "io.istio.networking.v1beta1.VirtualService", custom=True),
)

# Model classes of the kubernetes package, walked per API group.  A class reached first from a
# group's roots belongs to that group (V1PodTemplateSpec is reached from core's PodTemplate before
# apps' Deployment reaches it), unless its name says otherwise (CoreV1EndpointPort, EventsV1Event).
_GROUP_PACKAGES = {
    "meta": META,
    "core": "io.k8s.api.core.v1",
    "autoscaling": "io.k8s.api.autoscaling.v1",
    "apps": "io.k8s.api.apps.v1",
    "discovery": "io.k8s.api.discovery.v1",
    "networking": "io.k8s.api.networking.v1",
    "events": "io.k8s.api.events.v1",
    "apiextensions": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1",
    "batch": "io.k8s.api.batch.v1",
    "policy": "io.k8s.api.policy.v1",
    "rbac": "io.k8s.api.rbac.v1",
}
_META_CLASSES = (
    "V1ObjectMeta", "V1ListMeta", "V1LabelSelector", "V1LabelSelectorRequirement", "V1OwnerReference",
    "V1ManagedFieldsEntry", "V1Status", "V1StatusDetails", "V1StatusCause", "V1DeleteOptions",
    "V1Preconditions", "V1Condition", "V1APIResource", "V1APIResourceList", "V1APIGroup", "V1APIGroupList",
    "V1APIVersions", "V1GroupVersionForDiscovery", "V1ServerAddressByClientCIDR", "V1WatchEvent",
)
_GROUP_ROOTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("meta", _META_CLASSES),
    ("core", ("V1Pod", "V1PodList", "V1Namespace", "V1NamespaceList", "V1Node", "V1NodeList",
              "CoreV1Event", "CoreV1EventList", "V1Service", "V1ServiceList", "V1Endpoints", "V1EndpointsList",
              "V1ConfigMap", "V1ConfigMapList", "V1Secret", "V1SecretList", "V1PodTemplate",
              "V1PersistentVolumeClaim", "V1PersistentVolumeClaimList", "V1ServiceAccount",
              "V1ServiceAccountList")),
    ("autoscaling", ("V1Scale", "V2HorizontalPodAutoscaler", "V2HorizontalPodAutoscalerList")),
    ("apps", ("V1Deployment", "V1DeploymentList", "V1ReplicaSet", "V1ReplicaSetList", "V1StatefulSet",
              "V1StatefulSetList", "V1DaemonSet", "V1DaemonSetList")),
    ("batch", ("V1Job", "V1JobList", "V1CronJob", "V1CronJobList")),
    ("policy", ("V1PodDisruptionBudget", "V1PodDisruptionBudgetList")),
    ("rbac", ("V1Role", "V1RoleList", "V1RoleBinding", "V1RoleBindingList", "V1ClusterRole", "V1ClusterRoleList",
              "V1ClusterRoleBinding", "V1ClusterRoleBindingList")),
    ("discovery", ("V1EndpointSlice", "V1EndpointSliceList")),
    ("networking", ("V1Ingress", "V1IngressList", "V1NetworkPolicy", "V1NetworkPolicyList")),
    ("events", ("EventsV1Event", "EventsV1EventList")),
    ("apiextensions", ("V1CustomResourceDefinition", "V1CustomResourceDefinitionList")),
)
# group name as it appears in x-kubernetes-group-version-kind
_API_GROUP = {"core": "", "autoscaling": "autoscaling", "apps": "apps", "discovery": "discovery.k8s.io",
              "networking": "networking.k8s.io", "events": "events.k8s.io",
              "apiextensions": "apiextensions.k8s.io", "batch": "batch", "policy": "policy",
              "rbac": "rbac.authorization.k8s.io"}
_CLASS_RE = re.compile(r"^(?P<prefix>[A-Z][a-z]+)?(?P<version>V\d+(?:alpha\d+|beta\d+)?)(?P<kind>[A-Z].*)$")

# `object` in the models is IntOrString for these attributes, FieldsV1 / RawExtension for those.
_INT_OR_STRING_ATTRS = {"target_port", "max_surge", "max_unavailable", "min_available", "port"}
_MICROTIME_ATTRS = {("CoreV1Event", "event_time"), ("EventsV1Event", "event_time"),
                    ("CoreV1EventSeries", "last_observed_time"), ("EventsV1EventSeries", "last_observed_time")}
_QUANTITY_MAPS = {"limits", "requests", "capacity", "allocatable", "allocated_resources", "hard", "used"}
_QUANTITY_ATTRS = {"size_limit"}
_INT64_HINTS = ("seconds", "generation", "run_as_user", "run_as_group", "fs_group", "count", "resource_version",
                "supplemental_groups", "limit", "remaining_item_count", "expiration")

# strategic merge patch directives (the Go struct tags of k8s.io/api), by (class, attribute)
_PATCH: dict[tuple[str, str], tuple[str, str | None]] = {
    ("V1PodSpec", "containers"): ("merge", "name"),
    ("V1PodSpec", "init_containers"): ("merge", "name"),
    ("V1PodSpec", "ephemeral_containers"): ("merge", "name"),
    ("V1PodSpec", "volumes"): ("merge,retainKeys", "name"),
    ("V1PodSpec", "image_pull_secrets"): ("merge", "name"),
    ("V1PodSpec", "host_aliases"): ("merge", "ip"),
    ("V1PodSpec", "topology_spread_constraints"): ("merge", "topologyKey"),
    ("V1PodSpec", "resource_claims"): ("merge,retainKeys", "name"),
    ("V1PodSpec", "scheduling_gates"): ("merge", "name"),
    ("V1Container", "ports"): ("merge", "containerPort"),
    ("V1Container", "env"): ("merge", "name"),
    ("V1Container", "volume_mounts"): ("merge", "mountPath"),
    ("V1Container", "volume_devices"): ("merge", "devicePath"),
    ("V1EphemeralContainer", "env"): ("merge", "name"),
    ("V1EphemeralContainer", "volume_mounts"): ("merge", "mountPath"),
    ("V1EphemeralContainer", "volume_devices"): ("merge", "devicePath"),
    ("V1PodStatus", "conditions"): ("merge", "type"),
    ("V1PodStatus", "pod_i_ps"): ("merge", "ip"),
    ("V1PodStatus", "host_i_ps"): ("merge", "ip"),
    ("V1ObjectMeta", "owner_references"): ("merge", "uid"),
    ("V1ObjectMeta", "finalizers"): ("merge", None),
    ("V1ServiceSpec", "ports"): ("merge", "port"),
    ("V1ServiceStatus", "conditions"): ("merge", "type"),
    ("V1NodeStatus", "conditions"): ("merge", "type"),
    ("V1NodeStatus", "addresses"): ("merge", "type"),
    ("V1NodeSpec", "pod_cid_rs"): ("merge", None),
    ("V1NamespaceStatus", "conditions"): ("merge", "type"),
    ("V1DeploymentSpec", "strategy"): ("retainKeys", None),
    ("V1DeploymentStatus", "conditions"): ("merge", "type"),
    ("V1ReplicaSetStatus", "conditions"): ("merge", "type"),
    ("V1PersistentVolumeClaimStatus", "conditions"): ("merge", "type"),
}
# x-kubernetes-list-type / list-map-keys (server-side apply; shown by kubectl explain)
_LIST_MAP: dict[tuple[str, str], tuple[str, ...]] = {
    ("V1PodSpec", "containers"): ("name",), ("V1PodSpec", "init_containers"): ("name",),
    ("V1PodSpec", "ephemeral_containers"): ("name",), ("V1PodSpec", "volumes"): ("name",),
    ("V1PodSpec", "image_pull_secrets"): ("name",), ("V1PodSpec", "host_aliases"): ("ip",),
    ("V1PodSpec", "topology_spread_constraints"): ("topologyKey", "whenUnsatisfiable"),
    ("V1Container", "ports"): ("containerPort", "protocol"), ("V1Container", "env"): ("name",),
    ("V1Container", "volume_mounts"): ("mountPath",),
    ("V1ServiceSpec", "ports"): ("port", "protocol"),
    ("V1PodStatus", "conditions"): ("type",), ("V1DeploymentStatus", "conditions"): ("type",),
    ("V1ReplicaSetStatus", "conditions"): ("type",), ("V1NodeStatus", "conditions"): ("type",),
}


# --------------------------------------------------------------------------------------------
# Schema generation from the kubernetes model classes
# --------------------------------------------------------------------------------------------
def _ref2(name: str) -> str:
    return f"#/definitions/{name}"


class _Builder:
    """Builds Swagger 2.0 definitions (refs as ``#/definitions/NAME``)."""

    def __init__(self) -> None:
        import kubernetes.client.models as models  # slow import: only when OpenAPI is first wanted

        self.models = models
        self.group_of: dict[str, str] = {}      # class name -> group key
        self.defs: dict[str, dict] = {}
        self._assign_groups()

    # -- groups ------------------------------------------------------------------------------
    def _cls(self, name: str):
        return getattr(self.models, name, None)

    @staticmethod
    def _inner_types(type_str: str) -> Iterable[str]:
        for tok in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", type_str):
            if tok[0].isupper() and tok not in ("List", "Dict"):
                yield tok

    def _assign_groups(self) -> None:
        for group, roots in _GROUP_ROOTS:
            stack = [r for r in roots if self._cls(r) is not None]
            while stack:
                name = stack.pop()
                if name in self.group_of:
                    continue
                cls = self._cls(name)
                if cls is None or not hasattr(cls, "openapi_types"):
                    continue
                m = _CLASS_RE.match(name)
                prefix = (m.group("prefix") or "").lower() if m else ""
                self.group_of[name] = prefix if prefix in _GROUP_PACKAGES else group
                for t in cls.openapi_types.values():
                    stack.extend(self._inner_types(t))

    def def_name(self, cls_name: str) -> str:
        m = _CLASS_RE.match(cls_name)
        if not m:
            raise ValueError(cls_name)
        group = self.group_of.get(cls_name, "core")
        pkg = _GROUP_PACKAGES[group]
        version = m.group("version").lower()
        pkg = pkg.rsplit(".", 1)[0] + "." + version
        return f"{pkg}.{m.group('kind')}"

    # -- fields ------------------------------------------------------------------------------
    @staticmethod
    def _field_info(cls, attr: str) -> tuple[str, bool]:
        """(description, required) of one attribute, from pydantic fields or the old setters."""
        fields = getattr(cls, "model_fields", None)
        if fields is not None and attr in fields:
            f = fields[attr]
            return (f.description or ""), bool(f.is_required())
        prop = cls.__dict__.get(attr)
        desc, required = "", False
        if isinstance(prop, property):
            doc = prop.fget.__doc__ or "" if prop.fget else ""
            lines = [ln.strip() for ln in doc.splitlines()]
            body = [ln for ln in lines[1:] if ln and not ln.startswith(":") and "noqa" not in ln]
            desc = " ".join(body).strip()
            if prop.fset is not None:
                required = any(isinstance(c, str) and "must not be `None`" in c
                               for c in prop.fset.__code__.co_consts)
        return desc, required

    @staticmethod
    def _class_description(cls) -> str:
        doc = cls.__doc__ or ""
        desc = doc.split("Attributes:")[0]
        desc = desc.replace("NOTE: This class is auto generated by OpenAPI Generator.", "")
        desc = desc.replace("Ref: https://openapi-generator.tech", "").replace("Do not edit the class manually.", "")
        return " ".join(desc.split()).strip()

    def _int_format(self, attr: str) -> str:
        return "int64" if any(h in attr for h in _INT64_HINTS) else "int32"

    def type_schema(self, type_str: str, cls_name: str, attr: str) -> dict:
        t = type_str.strip()
        low = t.lower()
        if low.startswith("list["):
            return {"type": "array", "items": self.type_schema(t[5:-1], cls_name, attr)}
        if low.startswith("dict(") or low.startswith("dict["):
            inner = t[5:-1].split(",", 1)[1].strip()
            if inner == "str" and attr in _QUANTITY_MAPS:
                return {"type": "object", "additionalProperties": {"$ref": _ref2(QUANTITY)}}
            return {"type": "object", "additionalProperties": self.type_schema(inner, cls_name, attr)}
        if t == "str":
            if attr in _QUANTITY_ATTRS:
                return {"$ref": _ref2(QUANTITY)}
            return {"type": "string"}
        if t == "int":
            return {"type": "integer", "format": self._int_format(attr)}
        if t == "float":
            return {"type": "number", "format": "double"}
        if t == "bool":
            return {"type": "boolean"}
        if t == "datetime":
            return {"$ref": _ref2(MICROTIME if (cls_name, attr) in _MICROTIME_ATTRS else TIME)}
        if t == "date":
            return {"type": "string", "format": "date"}
        if t == "bytearray":
            return {"type": "string", "format": "byte"}
        if t == "object":
            if attr in _INT_OR_STRING_ATTRS:
                return {"$ref": _ref2(INT_OR_STRING)}
            if attr == "fields_v1":
                return {"$ref": _ref2(FIELDS_V1)}
            if cls_name in ("V1WatchEvent",) or attr in ("raw", "data") and cls_name.endswith("Revision"):
                return {"$ref": _ref2(RAW_EXTENSION)}
            return {}
        if self._cls(t) is not None:
            return {"$ref": _ref2(self.add_class(t))}
        return {}

    def add_class(self, cls_name: str) -> str:
        name = self.def_name(cls_name)
        if name in self.defs:
            return name
        cls = self._cls(cls_name)
        schema: dict[str, Any] = {"type": "object"}
        self.defs[name] = schema               # placeholder first: recursive types (JSONSchemaProps)
        desc = self._class_description(cls)
        if desc:
            schema["description"] = desc
        props: dict[str, dict] = {}
        required: list[str] = []
        for attr, t in cls.openapi_types.items():
            json_name = cls.attribute_map.get(attr, attr)
            prop = dict(self.type_schema(t, cls_name, attr))
            fdesc, req = self._field_info(cls, attr)
            if fdesc:
                prop["description"] = fdesc
            if req:
                required.append(json_name)
            patch = _PATCH.get((cls_name, attr))
            if patch:
                strategy, key = patch
                if key:
                    prop["x-kubernetes-patch-merge-key"] = key
                prop["x-kubernetes-patch-strategy"] = strategy
            keys = _LIST_MAP.get((cls_name, attr))
            if keys:
                prop["x-kubernetes-list-type"] = "map"
                prop["x-kubernetes-list-map-keys"] = list(keys)
            props[json_name] = prop
        schema["properties"] = props
        if required:
            schema["required"] = required
        return name


def _gvk(group: str, version: str, kind: str) -> dict:
    return {"group": group, "kind": kind, "version": version}


def _handwritten(defs: dict[str, dict]) -> None:
    """apimachinery primitives, metrics.k8s.io and the Argo Rollouts CRDs."""
    defs[TIME] = {"description": "Time is a wrapper around time.Time which supports correct marshaling to YAML "
                                 "and JSON.  Wrappers are provided for many of the factory methods that the time "
                                 "package offers.", "type": "string", "format": "date-time"}
    defs[MICROTIME] = {"description": "MicroTime is version of Time with microsecond level precision.",
                       "type": "string", "format": "date-time"}
    defs[INT_OR_STRING] = {"description": "IntOrString is a type that can hold an int32 or a string.  When used in "
                                          "JSON or YAML marshalling and unmarshalling, it produces or consumes the "
                                          "inner type.  This allows you to have, for example, a JSON field that can "
                                          "accept a name or number.", "type": "string", "format": "int-or-string"}
    defs[QUANTITY] = {"description": "Quantity is a fixed-point representation of a number. It provides convenient "
                                     "marshaling/unmarshaling in JSON and YAML, in addition to String() and "
                                     "AsInt64() accessors. The serialization format is: <quantity> ::= "
                                     "<signedNumber><suffix>", "type": "string"}
    defs[FIELDS_V1] = {"description": "FieldsV1 stores a set of fields in a data structure like a Trie, in JSON "
                                      "format.", "type": "object"}
    defs[RAW_EXTENSION] = {"description": "RawExtension is used to hold extensions in external versions.",
                           "type": "object"}
    defs[f"{META}.Patch"] = {"description": "Patch is provided to give a concrete name and type to the Kubernetes "
                                            "PATCH request body.", "type": "object"}
    defs[f"{META}.Duration"] = {"description": "Duration is a wrapper around time.Duration which supports correct "
                                               "marshaling to YAML and JSON.", "type": "string"}
    om = {"$ref": _ref2(f"{META}.ObjectMeta"),
          "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/"
                         "devel/sig-architecture/api-conventions.md#metadata"}
    lm = {"$ref": _ref2(f"{META}.ListMeta"), "description": "Standard list metadata."}
    api_version = {"type": "string", "description": "APIVersion defines the versioned schema of this "
                   "representation of an object. Servers should convert recognized schemas to the latest internal "
                   "value, and may reject unrecognized values."}
    kind = {"type": "string", "description": "Kind is a string value representing the REST resource this object "
            "represents. Servers may infer this from the endpoint the client submits requests to. In CamelCase."}

    # metrics.k8s.io/v1beta1 (metrics-server)
    mpkg = "io.k8s.metrics.pkg.apis.metrics.v1beta1"
    usage = {"type": "object", "additionalProperties": {"$ref": _ref2(QUANTITY)},
             "description": "The memory and CPU usage."}
    defs[f"{mpkg}.ContainerMetrics"] = {
        "description": "ContainerMetrics sets resource usage metrics of a container.", "type": "object",
        "required": ["name", "usage"],
        "properties": {"name": {"type": "string", "description": "Container name corresponding to the one from "
                                "pod.spec.containers."}, "usage": usage}}
    for k, extra in (("PodMetrics", {"containers": {
            "type": "array", "items": {"$ref": _ref2(f"{mpkg}.ContainerMetrics")},
            "description": "Metrics for all containers are collected within the same time window.",
            "x-kubernetes-list-type": "atomic"}}), ("NodeMetrics", {"usage": usage})):
        defs[f"{mpkg}.{k}"] = {
            "description": f"{k[:-7]}Metrics sets resource usage metrics of a {k[:-7].lower()}.", "type": "object",
            "required": ["timestamp", "window"] + list(extra),
            "properties": {"apiVersion": api_version, "kind": kind, "metadata": om,
                           "timestamp": {"$ref": _ref2(TIME), "description": "The following fields define time "
                                         "interval from which metrics were collected from the interval "
                                         "[Timestamp-Window, Timestamp]."},
                           "window": {"$ref": _ref2(f"{META}.Duration")}, **extra},
            "x-kubernetes-group-version-kind": [_gvk("metrics.k8s.io", "v1beta1", k)]}
        defs[f"{mpkg}.{k}List"] = {
            "description": f"{k}List is a list of {k}.", "type": "object", "required": ["items"],
            "properties": {"apiVersion": api_version, "kind": kind, "metadata": lm,
                           "items": {"type": "array", "items": {"$ref": _ref2(f"{mpkg}.{k}")},
                                     "description": f"List of {k.lower()}."}},
            "x-kubernetes-group-version-kind": [_gvk("metrics.k8s.io", "v1beta1", f"{k}List")]}

    # Argo Rollouts custom resources: structural schemas that keep unknown fields, as their CRDs do
    # when installed without the full validation schema.
    for res in RESOURCES:
        if not res.custom:
            continue
        base = res.definition
        props = {"apiVersion": api_version, "kind": kind, "metadata": om,
                 "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                          "description": f"{res.kind} spec (kept as is by the demo cluster)."}}
        if "status" in res.subresources or res.kind in ("Rollout", "AnalysisRun", "Experiment"):
            props["status"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        defs[base] = {"description": f"{res.kind} is a custom resource ({res.group}).",
                      "type": "object", "properties": props,
                      "x-kubernetes-group-version-kind": [_gvk(res.group, res.version, res.kind)]}
        if res.kind in ("Rollout", "AnalysisRun", "Experiment"):
            defs[base]["required"] = ["spec"]
        defs[base + "List"] = {
            "description": f"{res.kind}List is a list of {res.kind}", "type": "object", "required": ["items"],
            "properties": {"apiVersion": api_version, "kind": kind, "metadata": lm,
                           "items": {"type": "array", "items": {"$ref": _ref2(base)},
                                     "description": f"List of {res.plural}. More info: "
                                                    "https://kubernetes.io/docs/reference/using-api/"
                                                    "api-concepts/#collections"}},
            "x-kubernetes-group-version-kind": [_gvk(res.group, res.version, res.kind + "List")]}


def _add_gvks(builder: _Builder, defs: dict[str, dict]) -> None:
    for res in RESOURCES:
        if res.custom or res.group == "metrics.k8s.io":
            continue
        for suffix in ("", "List"):
            d = defs.get(res.definition + suffix)
            if d is not None:
                d["x-kubernetes-group-version-kind"] = [_gvk(res.group, res.version, res.kind + suffix)]
    scale = defs.get("io.k8s.api.autoscaling.v1.Scale")
    if scale is not None:
        scale["x-kubernetes-group-version-kind"] = [_gvk("autoscaling", "v1", "Scale")]
    gvs = sorted({(r.group, r.version) for r in RESOURCES} | {("autoscaling", "v1")})
    for kind in ("DeleteOptions", "WatchEvent"):
        d = defs.get(f"{META}.{kind}")
        if d is not None:
            d["x-kubernetes-group-version-kind"] = [_gvk(g, v, kind) for g, v in gvs]
    status = defs.get(f"{META}.Status")
    if status is not None:
        status["x-kubernetes-group-version-kind"] = [_gvk("", "v1", "Status")]


_CLASS_FOR_DEF = {
    "io.k8s.api.core.v1.Event": "CoreV1Event", "io.k8s.api.core.v1.EventList": "CoreV1EventList",
    "io.k8s.api.events.v1.Event": "EventsV1Event", "io.k8s.api.events.v1.EventList": "EventsV1EventList",
}


@_once
def _definitions() -> dict[str, dict]:
    b = _Builder()
    for _group, roots in _GROUP_ROOTS:
        for r in roots:
            if b._cls(r) is not None:
                b.add_class(r)
    defs = b.defs
    _handwritten(defs)
    _add_gvks(b, defs)
    return dict(sorted(defs.items()))


def definition_for(group: str, version: str, kind: str) -> str | None:
    """Definition name carrying this GVK (``None`` when not served)."""
    for name, d in _definitions().items():
        for gvk in d.get("x-kubernetes-group-version-kind", ()):
            if (gvk["group"], gvk["version"], gvk["kind"]) == (group, version, kind):
                return name
    return None


# --------------------------------------------------------------------------------------------
# Paths (operations), shared by v2 and v3
# --------------------------------------------------------------------------------------------
_Q = {  # query parameters, as kube-apiserver names and documents them
    "pretty": "If 'true', then the output is pretty printed.",
    "dryRun": "When present, indicates that modifications should not be persisted. An invalid or unrecognized "
              "dryRun directive will result in an error response and no further processing of the request. Valid "
              "values are: - All: all dry run stages will be processed",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is making these changes.",
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) "
                       "containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
    "force": "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by "
             "other people. Force flag must be unset for non-apply patch requests.",
    "gracePeriodSeconds": "The duration in seconds before the object should be deleted.",
    "propagationPolicy": "Whether and how garbage collection will be performed.",
    "labelSelector": "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
    "fieldSelector": "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
    "limit": "limit is a maximum number of responses to return for a list call.",
    "continue": "The continue option should be set when retrieving more results from the server.",
    "resourceVersion": "resourceVersion sets a constraint on what resource versions a request may be served from.",
    "timeoutSeconds": "Timeout for the list/watch call.",
    "watch": "Watch for changes to the described resources and return them as a stream of add, update, and remove "
             "notifications.",
    "allowWatchBookmarks": "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
}
_Q_TYPES = {"gracePeriodSeconds": "integer", "limit": "integer", "timeoutSeconds": "integer", "watch": "boolean",
            "allowWatchBookmarks": "boolean", "force": "boolean"}
_WRITE_Q = ("dryRun", "fieldManager", "fieldValidation")
_LIST_Q = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
           "timeoutSeconds", "watch")
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json", "application/apply-patch+yaml")


@dataclass
class _Op:
    method: str
    action: str
    description: str
    operation_id: str
    gvk: dict
    query: tuple[str, ...]
    body: str | None          # definition name of the request body
    response: str             # definition name of the 200 response
    patch_types: tuple[str, ...] = ()


def _camel(s: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[.\-/]", s) if p)


def _group_tag(res: Resource) -> str:
    g = res.group.split(".")[0] if res.group else "core"
    return _camel(g) + _camel(res.version)


def _paths() -> dict[str, dict]:
    """path -> {"params": [...path param names], "ops": [_Op], "gv": Resource}"""
    out: dict[str, dict] = {}
    for res in RESOURCES:
        tag = _group_tag(res)
        kind = res.kind
        gvk = _gvk(res.group, res.version, kind)
        ns = "Namespaced" if res.namespaced else ""
        coll = (f"{res.prefix}/namespaces/{{namespace}}/{res.plural}" if res.namespaced
                else f"{res.prefix}/{res.plural}")
        item = coll + "/{name}"
        base_params = ["namespace"] if res.namespaced else []
        patch_types = tuple(p for p in _PATCH_TYPES if not (res.custom and "strategic" in p))
        d = res.definition
        ops = [_Op("get", "list", f"list or watch objects of kind {kind}", f"list{tag}{ns}{kind}", gvk, _LIST_Q,
                   None, d + "List")]
        if not res.read_only:
            ops.append(_Op("post", "post", f"create a {kind}", f"create{tag}{ns}{kind}", gvk, _WRITE_Q, d, d))
            ops.append(_Op("delete", "deletecollection", f"delete collection of {kind}",
                           f"deleteCollection{tag}{ns}{kind}", gvk,
                           ("dryRun", "gracePeriodSeconds", "labelSelector", "fieldSelector", "propagationPolicy"),
                           f"{META}.DeleteOptions", f"{META}.Status"))
        out[coll] = {"params": base_params, "ops": ops, "res": res}
        ops = [_Op("get", "get", f"read the specified {kind}", f"read{tag}{ns}{kind}", gvk, (), None, d)]
        if not res.read_only:
            ops += [
                _Op("put", "put", f"replace the specified {kind}", f"replace{tag}{ns}{kind}", gvk, _WRITE_Q, d, d),
                _Op("delete", "delete", f"delete a {kind}", f"delete{tag}{ns}{kind}", gvk,
                    ("dryRun", "gracePeriodSeconds", "propagationPolicy"), f"{META}.DeleteOptions", f"{META}.Status"),
                _Op("patch", "patch", f"partially update the specified {kind}", f"patch{tag}{ns}{kind}", gvk,
                    _WRITE_Q + ("force",), f"{META}.Patch", d, patch_types),
            ]
        out[item] = {"params": base_params + ["name"], "ops": ops, "res": res}
        for sub in res.subresources:
            if sub == "status":
                sgvk, sdef, label = gvk, d, f"{kind}Status"
            else:
                sgvk, sdef, label = _gvk("autoscaling", "v1", "Scale"), "io.k8s.api.autoscaling.v1.Scale", f"{kind}Scale"
                if res.custom:
                    sdef = "io.k8s.api.autoscaling.v1.Scale"
            out[f"{item}/{sub}"] = {"params": base_params + ["name"], "res": res, "ops": [
                _Op("get", "get", f"read {sub} of the specified {kind}", f"read{tag}{ns}{label}", sgvk, (), None, sdef),
                _Op("put", "put", f"replace {sub} of the specified {kind}", f"replace{tag}{ns}{label}", sgvk,
                    _WRITE_Q, sdef, sdef),
                _Op("patch", "patch", f"partially update {sub} of the specified {kind}", f"patch{tag}{ns}{label}",
                    sgvk, _WRITE_Q + ("force",), f"{META}.Patch", sdef, patch_types),
            ]}
        if res.namespaced:
            out[f"{res.prefix}/{res.plural}"] = {"params": [], "res": res, "ops": [
                _Op("get", "list", f"list or watch objects of kind {kind}", f"list{tag}{kind}ForAllNamespaces", gvk,
                    _LIST_Q, None, d + "List")]}
    return out


_PATH_PARAM_DESC = {"namespace": "object name and auth scope, such as for teams and projects",
                    "name": "name of the resource"}


# --------------------------------------------------------------------------------------------
# v2 document
# --------------------------------------------------------------------------------------------
_server_version = {"value": "v1.33.1"}


def _v2_op(op: _Op) -> dict:
    params: list[dict] = []
    if op.body:
        params.append({"name": "body", "in": "body", "required": True, "schema": {"$ref": _ref2(op.body)}})
    for q in op.query:
        p = {"uniqueItems": True, "type": _Q_TYPES.get(q, "string"), "description": _Q[q], "name": q, "in": "query"}
        params.append(p)
    d: dict[str, Any] = {
        "description": op.description,
        "consumes": list(op.patch_types) if op.method == "patch" else ["*/*"],
        "produces": ["application/json", "application/yaml"],
        "schemes": ["https"],
        "operationId": op.operation_id,
        "parameters": params,
        "responses": {"200": {"description": "OK", "schema": {"$ref": _ref2(op.response)}},
                      "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": op.gvk,
    }
    if op.method == "post":
        d["responses"]["201"] = {"description": "Created", "schema": {"$ref": _ref2(op.response)}}
    return d


@_once
def openapi_v2() -> dict:
    """The Swagger 2.0 document as a dict (cached: do not mutate)."""
    paths: dict[str, dict] = {}
    for path, info in sorted(_paths().items()):
        item: dict[str, Any] = {}
        for op in info["ops"]:
            item[op.method] = _v2_op(op)
        item["parameters"] = [
            {"uniqueItems": True, "type": "string", "description": _PATH_PARAM_DESC[p], "name": p, "in": "path",
             "required": True} for p in info["params"]] + [
            {"uniqueItems": True, "type": "string", "description": _Q["pretty"], "name": "pretty", "in": "query"}]
        paths[path] = item
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": _server_version["value"]},
        "paths": paths,
        "definitions": _definitions(),
        "securityDefinitions": {"BearerToken": {"description": "Bearer Token authentication", "type": "apiKey",
                                                "name": "authorization", "in": "header"}},
        "security": [{"BearerToken": []}],
    }


@_once
def openapi_v2_bytes() -> bytes:
    """``GET /openapi/v2`` with ``Accept: application/json``."""
    return json.dumps(openapi_v2(), separators=(",", ":")).encode()


# -- protobuf (gnostic openapi.v2.Document) ---------------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


def _ld(field: int, payload: bytes) -> bytes:          # length-delimited
    return _key(field, 2) + _varint(len(payload)) + payload


def _s(field: int, value: str | None) -> bytes:
    if not value:
        return b""
    return _ld(field, value.encode())


def _b(field: int, value: bool | None) -> bytes:
    return _key(field, 0) + b"\x01" if value else b""


def _i(field: int, value: int | None) -> bytes:
    return _key(field, 0) + _varint(int(value)) if value else b""


def _d(field: int, value: float | None) -> bytes:
    import struct
    return _key(field, 1) + struct.pack("<d", float(value)) if value is not None else b""


def _any(value: Any) -> bytes:                         # openapi.v2.Any {yaml = 2}
    return _s(2, json.dumps(value))


def _named_any(field: int, name: str, value: Any) -> bytes:
    return _ld(field, _s(1, name) + _ld(2, _any(value)))


def _vendor(field: int, d: dict) -> bytes:
    return b"".join(_named_any(field, k, v) for k, v in d.items() if k.startswith("x-"))


def _pb_schema(s: dict) -> bytes:
    out = [_s(1, s.get("$ref")), _s(2, s.get("format")), _s(3, s.get("title")), _s(4, s.get("description"))]
    if "default" in s:
        out.append(_ld(5, _any(s["default"])))
    for f, k in ((11, "maxLength"), (12, "minLength"), (14, "maxItems"), (15, "minItems")):
        out.append(_i(f, s.get(k)))
    for k, f in (("maximum", 7), ("minimum", 9)):
        if k in s:
            out.append(_d(f, s[k]))
    out.append(_s(13, s.get("pattern")))
    out.append(_b(16, s.get("uniqueItems")))
    for r in s.get("required", ()):
        out.append(_s(19, r))
    for e in s.get("enum", ()):
        out.append(_ld(20, _any(e)))
    ap = s.get("additionalProperties")
    if isinstance(ap, dict):
        out.append(_ld(21, _ld(1, _pb_schema(ap))))
    elif isinstance(ap, bool):
        out.append(_ld(21, _key(2, 0) + (b"\x01" if ap else b"\x00")))
    t = s.get("type")
    if t:
        out.append(_ld(22, b"".join(_s(1, x) for x in ([t] if isinstance(t, str) else t))))
    items = s.get("items")
    if isinstance(items, dict):
        out.append(_ld(23, _ld(1, _pb_schema(items))))
    for sub in s.get("allOf", ()):
        out.append(_ld(24, _pb_schema(sub)))
    props = s.get("properties")
    if props is not None:
        out.append(_ld(25, b"".join(_ld(1, _s(1, k) + _ld(2, _pb_schema(v))) for k, v in props.items())))
    out.append(_b(27, s.get("readOnly")))
    out.append(_vendor(31, s))
    return b"".join(out)


def _pb_param(p: dict) -> bytes:
    """openapi.v2.ParametersItem{parameter=1: Parameter{body_parameter=1 | non_body_parameter=2}}"""
    if p.get("in") == "body":
        body = (_s(1, p.get("description")) + _s(2, p["name"]) + _s(3, "body") + _b(4, p.get("required"))
                + _ld(5, _pb_schema(p.get("schema", {}))))
        return _ld(1, _ld(1, body))
    if p["in"] == "path":
        sub = (_b(1, p.get("required")) + _s(2, "path") + _s(3, p.get("description")) + _s(4, p["name"])
               + _s(5, p.get("type")) + _s(6, p.get("format")) + _b(19, p.get("uniqueItems")))
        nb = _ld(4, sub)
    else:  # query
        sub = (_b(1, p.get("required")) + _s(2, "query") + _s(3, p.get("description")) + _s(4, p["name"])
               + _s(6, p.get("type")) + _s(7, p.get("format")) + _b(20, p.get("uniqueItems")))
        nb = _ld(3, sub)
    return _ld(1, _ld(2, nb))


def _pb_operation(op: dict) -> bytes:
    out = [b"".join(_s(1, t) for t in op.get("tags", ())), _s(3, op.get("description")),
           _s(5, op.get("operationId"))]
    out += [_s(6, x) for x in op.get("produces", ())]
    out += [_s(7, x) for x in op.get("consumes", ())]
    out += [_ld(8, _pb_param(p)) for p in op.get("parameters", ())]
    responses = b""
    for code, r in op.get("responses", {}).items():
        resp = _s(1, r.get("description"))
        if "schema" in r:
            resp += _ld(2, _ld(1, _pb_schema(r["schema"])))       # SchemaItem{schema=1}
        responses += _ld(1, _s(1, code) + _ld(2, _ld(1, resp)))  # NamedResponseValue{name, ResponseValue{response=1}}
    out.append(_ld(9, responses))
    out += [_s(10, x) for x in op.get("schemes", ())]
    out.append(_vendor(13, op))
    return b"".join(out)


_PATH_ITEM_FIELDS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


@_once
def openapi_v2_protobuf() -> bytes:
    """``GET /openapi/v2`` with ``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf``."""
    doc = openapi_v2()
    out = [_s(1, doc["swagger"]), _ld(2, _s(1, doc["info"]["title"]) + _s(2, doc["info"]["version"]))]
    paths = b""
    for path, item in doc["paths"].items():
        pi = b"".join(_ld(_PATH_ITEM_FIELDS[m], _pb_operation(op)) for m, op in item.items() if m in _PATH_ITEM_FIELDS)
        pi += b"".join(_ld(9, _pb_param(p)) for p in item.get("parameters", ()))
        paths += _ld(2, _s(1, path) + _ld(2, pi))
    out.append(_ld(8, paths))
    out.append(_ld(9, b"".join(_ld(1, _s(1, name) + _ld(2, _pb_schema(s))) for name, s in doc["definitions"].items())))
    for req in doc.get("security", ()):
        out.append(_ld(12, b"".join(_ld(1, _s(1, k) + _ld(2, b"".join(_s(1, x) for x in v))) for k, v in req.items())))
    sec = b""
    for name, d in doc.get("securityDefinitions", {}).items():
        api_key = _s(1, d["type"]) + _s(2, d["name"]) + _s(3, d["in"]) + _s(4, d.get("description"))
        sec += _ld(1, _s(1, name) + _ld(2, _ld(2, api_key)))
    out.append(_ld(13, sec))
    return b"".join(out)


def openapi_v2_response(accept: str | None) -> tuple[bytes, str]:
    """(body, content type) for ``GET /openapi/v2`` given the request's Accept header.

    client-go asks for protobuf and decodes the body as protobuf whatever the Content-Type says."""
    if accept and "protobuf" in accept and "spec.v2" in accept:
        return openapi_v2_protobuf(), OPENAPI_V2_PROTOBUF_CONTENT_TYPE
    return openapi_v2_bytes(), "application/json"


# --------------------------------------------------------------------------------------------
# v3 documents
# --------------------------------------------------------------------------------------------
def _to_v3(s: Any) -> Any:
    """Swagger 2.0 schema -> OpenAPI 3.0 schema (refs to components; $ref siblings via allOf)."""
    if isinstance(s, list):
        return [_to_v3(x) for x in s]
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k == "$ref" or k.startswith("x-kubernetes-group-version-kind"):
            out[k] = v
        elif k == "properties":
            out[k] = {name: _to_v3(sub) for name, sub in v.items()}
        elif k in ("default", "enum", "example"):
            out[k] = v
        else:
            out[k] = _to_v3(v)
    out.pop("$ref", None)
    if "$ref" in s:
        ref = s["$ref"].replace("#/definitions/", "#/components/schemas/")
        if len(out) == 0:
            return {"$ref": ref}
        out["allOf"] = [{"$ref": ref}]
        out.setdefault("default", {})
    return out


def _v3_def(name: str, d: dict) -> dict:
    if name == INT_OR_STRING:
        return {"description": d["description"], "x-kubernetes-int-or-string": True,
                "anyOf": [{"type": "integer"}, {"type": "string"}]}
    if name == QUANTITY:
        return {"description": d["description"], "oneOf": [{"type": "string"}, {"type": "number"}]}
    return _to_v3(d)


def _refs(s: Any, acc: set[str]) -> None:
    if isinstance(s, dict):
        r = s.get("$ref")
        if isinstance(r, str):
            acc.add(r.rsplit("/", 1)[1])
        for v in s.values():
            _refs(v, acc)
    elif isinstance(s, list):
        for v in s:
            _refs(v, acc)


def _closure(names: Iterable[str]) -> list[str]:
    defs = _definitions()
    seen: set[str] = set()
    stack = list(names)
    while stack:
        n = stack.pop()
        if n in seen or n not in defs:
            continue
        seen.add(n)
        acc: set[str] = set()
        _refs(defs[n], acc)
        stack.extend(acc - seen)
    return sorted(seen)


def _v3_op(op: _Op) -> dict:
    d: dict[str, Any] = {"tags": [], "description": op.description, "operationId": op.operation_id}
    d["parameters"] = [{"name": q, "in": "query", "description": _Q[q],
                        "schema": {"type": _Q_TYPES.get(q, "string"), "uniqueItems": True}} for q in op.query]
    if op.body:
        ref = {"schema": {"$ref": f"#/components/schemas/{op.body}"}}
        types = op.patch_types if op.method == "patch" else ("*/*",)
        d["requestBody"] = {"content": {t: ref for t in types}, "required": True}
    resp_ref = {"schema": {"$ref": f"#/components/schemas/{op.response}"}}
    d["responses"] = {"200": {"description": "OK", "content": {"application/json": resp_ref,
                                                                "application/yaml": resp_ref}},
                      "401": {"description": "Unauthorized"}}
    if op.method == "post":
        d["responses"]["201"] = {"description": "Created", "content": {"application/json": resp_ref}}
    d["x-kubernetes-action"] = op.action
    d["x-kubernetes-group-version-kind"] = op.gvk
    return d


@_once
def _v3_docs() -> dict[str, bytes]:
    by_gv: dict[str, dict[str, dict]] = {}
    for path, info in _paths().items():
        by_gv.setdefault(info["res"].v3_key, {})[path] = info
    docs: dict[str, bytes] = {}
    defs = _definitions()
    for key, paths in sorted(by_gv.items()):
        wanted: set[str] = {f"{META}.Status", f"{META}.DeleteOptions", f"{META}.Patch", f"{META}.WatchEvent"}
        out_paths: dict[str, dict] = {}
        for path, info in sorted(paths.items()):
            item: dict[str, Any] = {}
            for op in info["ops"]:
                item[op.method] = _v3_op(op)
                wanted.add(op.response)
                if op.body:
                    wanted.add(op.body)
            item["parameters"] = [{"name": p, "in": "path", "description": _PATH_PARAM_DESC[p], "required": True,
                                   "schema": {"type": "string", "uniqueItems": True}} for p in info["params"]] + [
                {"name": "pretty", "in": "query", "description": _Q["pretty"],
                 "schema": {"type": "string", "uniqueItems": True}}]
            out_paths[path] = item
        schemas = {n: _v3_def(n, defs[n]) for n in _closure(wanted)}
        doc = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": _server_version["value"]},
               "paths": out_paths,
               "components": {"schemas": schemas,
                              "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token "
                                                                  "authentication", "name": "authorization",
                                                                  "in": "header"}}}}
        docs[key] = json.dumps(doc, separators=(",", ":")).encode()
    return docs


def _hash(b: bytes) -> str:
    return hashlib.sha512(b).hexdigest().upper()


@_once
def _v3_hashes() -> dict[str, str]:
    return {k: _hash(v) for k, v in _v3_docs().items()}


def openapi_v3_index(base_url: str = "") -> dict:
    """``GET /openapi/v3``: {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}, ...}}.

    ``base_url`` is accepted for symmetry with the server and ignored: the URLs are server-relative."""
    return {"paths": {k: {"serverRelativeURL": f"/openapi/v3/{k}?hash={h}"} for k, h in _v3_hashes().items()}}


def openapi_v3_doc(path: str) -> bytes | None:
    """``GET /openapi/v3/<path>`` (``path`` like "api/v1" or "apis/apps/v1"; a leading slash, the
    "/openapi/v3/" prefix and any query string are tolerated); ``None`` for an unknown group version."""
    p = path.split("?", 1)[0].strip("/")
    if p.startswith("openapi/v3/"):
        p = p[len("openapi/v3/"):]
    return _v3_docs().get(p)


def openapi_v3_response(path: str) -> tuple[bytes, str, str] | None:
    """(body, content type, etag) for ``GET /openapi/v3/<path>``, or ``None`` (404).

    Serve with ``Cache-Control: public, immutable`` when the request carries the hash (as kube-apiserver does),
    else ``no-cache``; the ETag is the quoted hash."""
    body = openapi_v3_doc(path)
    if body is None:
        return None
    return body, "application/json", '"' + _v3_hashes()[path.split("?", 1)[0].strip("/").removeprefix("openapi/v3/")] + '"'


def set_server_version(git_version: str) -> None:
    """Version shown in the documents' ``info.version`` (call before the first generation)."""
    _server_version["value"] = git_version


_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None


def _generate_all() -> None:
    openapi_v2_bytes()
    openapi_v2_protobuf()
    _v3_hashes()


def warm_up(background: bool = True) -> threading.Thread | None:
    """Generate (and cache) every document, on a daemon thread by default.  Idempotent."""
    global _warm_thread
    if not background:
        _generate_all()
        return None
    with _warm_lock:
        if _warm_thread is None:
            _warm_thread = threading.Thread(target=_generate_all, name="openapi-warm-up", daemon=True)
            _warm_thread.start()
        return _warm_thread


# --------------------------------------------------------------------------------------------
# server-side field validation (fieldValidation=Strict|Warn, which kubectl >= 1.27 sends)
# --------------------------------------------------------------------------------------------
def unknown_fields(obj: Any, group: str, version: str, kind: str, limit: int = 20) -> list[str]:
    """Fields of ``obj`` that the schema of group/version/kind does not know, as kube-apiserver names
    them in a strict decoding error: ``spec.containers[0].imagez``.  Empty when the kind is unknown.

    A server answers ``fieldValidation=Strict`` with 400 BadRequest, message
    ``<Kind> in version "<version>" cannot be handled as a <Kind>: strict decoding error: unknown field
    "<path>", unknown field "<path>"``; ``Warn`` with one ``Warning: 299 - "unknown field \\"<path>\\""``
    header per field; ``Ignore`` (or no parameter) with nothing."""
    name = definition_for(group, version, kind)
    if name is None:
        return []
    defs = _definitions()
    out: list[str] = []

    def resolve(s: dict) -> dict:
        seen = 0
        while "$ref" in s and seen < 50:
            s = defs.get(s["$ref"].rsplit("/", 1)[1], {})
            seen += 1
        return s

    def walk(value: Any, schema: dict, path: str) -> None:
        if len(out) >= limit:
            return
        schema = resolve(schema)
        if not schema or schema.get("x-kubernetes-preserve-unknown-fields"):
            return
        if isinstance(value, dict):
            props = schema.get("properties")
            if props is not None:
                for k, v in value.items():
                    sub = f"{path}.{k}" if path else k
                    if k in props:
                        walk(v, props[k], sub)
                    else:
                        out.append(sub)
            elif isinstance(schema.get("additionalProperties"), dict):
                for k, v in value.items():
                    walk(v, schema["additionalProperties"], f"{path}[{k}]" if path else k)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for i, v in enumerate(value):
                walk(v, schema["items"], f"{path}[{i}]")

    walk(obj, {"$ref": _ref2(name)}, "")
    return out
