"""Realistic Kubernetes objects for the network tests: pods, Services, EndpointSlices, routes and policies."""

from __future__ import annotations

import copy

NS = "shop"
T0 = "2026-11-23T10:00:00Z"
T1 = "2026-11-23T11:00:00Z"


def container(name="app", port_name="http", port=8080, readiness=True, liveness=None, **extra):
    c = {"name": name, "image": "registry.example/checkout:1.4.2",
         "ports": [{"name": port_name, "containerPort": port, "protocol": "TCP"}] if port else []}
    if readiness is True:
        c["readinessProbe"] = {"httpGet": {"path": "/ready", "port": port_name}, "periodSeconds": 5}
    elif readiness:
        c["readinessProbe"] = readiness
    if liveness:
        c["livenessProbe"] = liveness
    c.update(extra)
    return c


def pod(name, labels, ip, *, ready=True, containers=None, created=T0, terminating=False, ns=NS):
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "namespace": ns, "labels": dict(labels), "uid": f"uid-{name}",
                      "creationTimestamp": created},
         "spec": {"containers": containers or [container()], "nodeName": "node-1"},
         "status": {"phase": "Running", "podIP": ip,
                    "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                    "containerStatuses": [{"name": "app", "ready": ready, "restartCount": 0,
                                           "state": {"running": {"startedAt": created}}}]}}
    if terminating:
        p["metadata"]["deletionTimestamp"] = T1
    return p


def service(name, selector, *, port=80, target="http", labels=None, ns=NS, annotations=None, **spec):
    s = {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": "checkout"}},
         "spec": {"type": "ClusterIP", "clusterIP": f"10.96.0.{len(name)}", "selector": dict(selector) if selector else None,
                  "ports": [{"name": "http", "port": port, "targetPort": target, "protocol": "TCP"}], **spec}}
    if annotations:
        s["metadata"]["annotations"] = annotations
    if selector is None:
        del s["spec"]["selector"]
    return s


def slice_for(svc, pods, *, name=None, port=8080, ready=None):
    """The EndpointSlice the controller would write for `svc` over `pods` (ready from the pods unless given)."""
    sname = name or f"{svc['metadata']['name']}-abcde"
    eps = []
    for p in pods:
        r = ready if ready is not None else any(c["type"] == "Ready" and c["status"] == "True"
                                               for c in p["status"]["conditions"])
        term = bool(p["metadata"].get("deletionTimestamp"))
        eps.append({"addresses": [p["status"]["podIP"]],
                    "conditions": {"ready": r and not term, "serving": r, "terminating": term},
                    "targetRef": {"kind": "Pod", "namespace": p["metadata"]["namespace"], "name": p["metadata"]["name"]},
                    "nodeName": "node-1", "zone": "zone-a"})
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": sname, "namespace": svc["metadata"]["namespace"],
                         "labels": {"kubernetes.io/service-name": svc["metadata"]["name"]}},
            "addressType": "IPv4", "endpoints": eps,
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}


def deployment(name, labels, replicas=1, containers=None, ns=NS):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": containers or [container()]}}}}


def stable_pods(n=4, labels=None, **kw):
    labels = labels or {"app": "checkout", "deployment": "stable", "tier": "web"}
    return [pod(f"checkout-stable-{i}", labels, f"10.244.1.{i + 1}", **kw) for i in range(n)]


def canary_pods(n=1, labels=None, **kw):
    labels = labels or {"app": "checkout", "deployment": "canary", "tier": "web"}
    return [pod(f"checkout-canary-{i}", labels, f"10.244.2.{i + 1}", created=T1, **kw) for i in range(n)]


def ingress(name, backends, host="shop.example.com", annotations=None, ns=NS):
    paths = [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": svc, "port": port}}}
             for svc, port in backends]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns, "annotations": annotations or {}},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": paths}}]}}


def httproute(name, backends, hostnames=("shop.example.com",), ns=NS):
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"parentRefs": [{"name": "public"}], "hostnames": list(hostnames),
                     "rules": [{"backendRefs": [dict(name=n, port=p, **({"weight": w} if w is not None else {}))
                                                for n, p, w in backends]}]}}


def virtualservice(name, dests, hosts=("checkout",), ns=NS, gateways=None):
    spec = {"hosts": list(hosts),
            "http": [{"name": "primary", "route": [
                dict(destination=dict(host=h, **({"port": {"number": p}} if p else {})),
                     **({"weight": w} if w is not None else {})) for h, p, w in dests]}]}
    if gateways:
        spec["gateways"] = list(gateways)
    return {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def netpol(name, match_labels, ingress_rules, ns=NS):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"podSelector": {"matchLabels": dict(match_labels)} if match_labels is not None else {},
                     "policyTypes": ["Ingress"], "ingress": ingress_rules}}


def canary_rollout(weight=None, step=1, traffic_routing=None, ns=NS):
    ro = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
          "metadata": {"name": "checkout", "namespace": ns},
          "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "checkout"}},
                   "template": {"metadata": {"labels": {"app": "checkout"}}, "spec": {"containers": [container()]}},
                   "strategy": {"canary": {"stableService": "checkout-stable", "canaryService": "checkout-canary",
                                           "steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}]}}},
          "status": {"stableRS": "aaa", "currentPodHash": "bbb", "currentStepIndex": step}}
    if traffic_routing:
        ro["spec"]["strategy"]["canary"]["trafficRouting"] = traffic_routing
    if weight is not None:
        ro["status"]["canary"] = {"weights": {"canary": {"weight": weight, "podTemplateHash": "bbb",
                                                         "serviceName": "checkout-canary"},
                                              "stable": {"weight": 100 - weight, "podTemplateHash": "aaa",
                                                         "serviceName": "checkout-stable"}}}
    return ro


def argo_pods(n_stable=3, n_canary=1, **kw):
    s = [pod(f"checkout-aaa-{i}", {"app": "checkout", "rollouts-pod-template-hash": "aaa"}, f"10.244.1.{i + 1}", **kw)
         for i in range(n_stable)]
    c = [pod(f"checkout-bbb-{i}", {"app": "checkout", "rollouts-pod-template-hash": "bbb"}, f"10.244.2.{i + 1}",
             created=T1, **kw) for i in range(n_canary)]
    return s, c


def clone(o):
    return copy.deepcopy(o)
