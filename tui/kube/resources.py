"""The kinds Lookout watches: API group/version/plural, scope, URL paths and how each is trimmed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import quote

from tui.kube.slim import slim_event, slim_generic, slim_pod, slim_secret


@dataclass(frozen=True)
class ResourceRef:
    """One API resource. `key` is the Store kind name (the plural, as in the demo cluster's KINDS)."""

    kind: str  # "Pod"
    group: str  # "" for core
    version: str  # "v1"
    plural: str  # "pods"
    namespaced: bool
    slim: Callable[[dict], dict] = field(default=slim_generic, compare=False, repr=False)

    @property
    def key(self) -> str:
        return self.plural

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version_path(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """`/api/v1/namespaces/ns/pods[/name[/log]]`; namespace None (or a cluster-scoped kind) = all of them."""
        p = self.group_version_path
        if self.namespaced and namespace:
            p += "/namespaces/" + quote(namespace, safe="")
        p += "/" + self.plural
        if name is not None:
            p += "/" + quote(name, safe="")
            if subresource:
                p += "/" + subresource
        return p


def _core(kind: str, plural: str, namespaced: bool = True, slim=slim_generic) -> ResourceRef:
    return ResourceRef(kind, "", "v1", plural, namespaced, slim)


PODS = _core("Pod", "pods", slim=slim_pod)
EVENTS = _core("Event", "events", slim=slim_event)
SERVICES = _core("Service", "services")
ENDPOINTS = _core("Endpoints", "endpoints")
CONFIGMAPS = _core("ConfigMap", "configmaps")
SECRETS = _core("Secret", "secrets", slim=slim_secret)
NAMESPACES = _core("Namespace", "namespaces", namespaced=False)
NODES = _core("Node", "nodes", namespaced=False)
ENDPOINTSLICES = ResourceRef("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", True)
DEPLOYMENTS = ResourceRef("Deployment", "apps", "v1", "deployments", True)
REPLICASETS = ResourceRef("ReplicaSet", "apps", "v1", "replicasets", True)
INGRESSES = ResourceRef("Ingress", "networking.k8s.io", "v1", "ingresses", True)
NETWORKPOLICIES = ResourceRef("NetworkPolicy", "networking.k8s.io", "v1", "networkpolicies", True)
ROLLOUTS = ResourceRef("Rollout", "argoproj.io", "v1alpha1", "rollouts", True)
ANALYSISRUNS = ResourceRef("AnalysisRun", "argoproj.io", "v1alpha1", "analysisruns", True)

RESOURCES: dict[str, ResourceRef] = {r.key: r for r in (
    PODS, EVENTS, SERVICES, ENDPOINTS, ENDPOINTSLICES, DEPLOYMENTS, REPLICASETS, CONFIGMAPS, SECRETS,
    ROLLOUTS, ANALYSISRUNS, NAMESPACES, NODES, INGRESSES, NETWORKPOLICIES,
)}


def ref(key: str) -> ResourceRef:
    """The ResourceRef for a store kind name ("pods", "rollouts", ...); KeyError names the known ones."""
    try:
        return RESOURCES[key]
    except KeyError:
        raise KeyError(f"unknown resource {key!r}; known: {', '.join(RESOURCES)}") from None
