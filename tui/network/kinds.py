"""The API resources the network views read beyond the core ones: Gateway API HTTPRoutes and Istio VirtualServices
(custom resources: a cluster without them answers 404, which an informer reports as "not installed")."""

from __future__ import annotations

from tui.kube.resources import ENDPOINTSLICES, INGRESSES, NETWORKPOLICIES, SERVICES, ResourceRef

HTTPROUTES = ResourceRef("HTTPRoute", "gateway.networking.k8s.io", "v1", "httproutes", True)
VIRTUALSERVICES = ResourceRef("VirtualService", "networking.istio.io", "v1beta1", "virtualservices", True)
# subsets a VirtualService route names (Argo's canarySubsetName/stableSubsetName), and SMI's weighted backends
DESTINATIONRULES = ResourceRef("DestinationRule", "networking.istio.io", "v1beta1", "destinationrules", True)
TRAFFICSPLITS = ResourceRef("TrafficSplit", "split.smi-spec.io", "v1alpha2", "trafficsplits", True)

# What the DNS/endpoints pane needs watched in the rollout's namespace (pods come from the session's pod informer).
NETWORK_RESOURCES: tuple[ResourceRef, ...] = (SERVICES, ENDPOINTSLICES, INGRESSES, NETWORKPOLICIES, HTTPROUTES,
                                              VIRTUALSERVICES)
