"""Argo Rollouts' own examples through the real kubectl: the demo's Argo controller reaches the replica counts,
router weights and status Argo's controller would (argo-rollouts 9f8d111d; each test names the source it follows).

The manifests under tests/fixtures/argo-rollouts/ are vendored unchanged from argo-rollouts' examples/ and
docs/getting-started/ (their source URL on the first line). An update is the image patch `kubectl argo rollouts
set image` makes; a promotion clears status.pauseConditions as `kubectl argo rollouts promote` does.
"""
from __future__ import annotations

import json
import os
import time

import pytest
import yaml

from kubectl_support import Kubectl, cluster, on_loop, state, versioned_kubectl  # noqa: F401

pytestmark = pytest.mark.kubectl
CLUSTER_KWARGS = {"speed": 10.0}   # pods start in ~0.3 s of wall time; a 30 s scale-down delay takes 3 s
FIX = os.path.join(os.path.dirname(__file__), "fixtures", "argo-rollouts")
HASH = "rollouts-pod-template-hash"
NGINX = "nginx.ingress.kubernetes.io/"


def fixture(*parts: str) -> str:
    return os.path.join(FIX, *parts)


def kubectl_ns(cluster, tmp_path_factory, ns: str) -> Kubectl:
    k = Kubectl(versioned_kubectl("1.33"), cluster.kubeconfig_path, str(tmp_path_factory.mktemp(f"home-{ns}")),
                namespace=ns)
    k.run("create", "namespace", ns, check=False, namespace=None)
    return k


def get(cluster, res: str, ns: str | None, name: str) -> dict | None:
    return on_loop(cluster, lambda: state(cluster).get(res, ns, name))


def listed(cluster, res: str, ns: str) -> list[dict]:
    return on_loop(cluster, lambda: state(cluster).list(res, ns)[0])


def wait_for(fn, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s (last: {v!r})")
        time.sleep(0.1)


def status(cluster, ns: str, name: str) -> dict:
    return (get(cluster, "rollouts", ns, name) or {}).get("status") or {}


def rs_by_hash(cluster, ns: str) -> dict[str, tuple[int, int]]:
    """{pod-template hash: (spec.replicas, status.availableReplicas)} of the namespace's ReplicaSets."""
    return {r["metadata"]["labels"][HASH]: (r["spec"]["replicas"], (r.get("status") or {}).get("availableReplicas", 0))
            for r in listed(cluster, "replicasets", ns) if HASH in r["metadata"]["labels"]}


def healthy(cluster, ns, name):
    st = status(cluster, ns, name)
    return st.get("phase") == "Healthy" and st


def set_image(k: Kubectl, name: str, image: str, container: int = 0) -> None:
    patch = [{"op": "replace", "path": f"/spec/template/spec/containers/{container}/image", "value": image}]
    k.run("patch", "rollout", name, "--type", "json", "-p", json.dumps(patch))


def paused_at(cluster, ns, name, step):
    st = status(cluster, ns, name)
    return st.get("currentStepIndex") == step and st.get("phase") == "Paused" and st


def reasons(cluster, ns: str) -> list[tuple[str, str]]:
    return [(e["reason"], e["message"]) for e in listed(cluster, "events", ns)
            if e["involvedObject"]["kind"] == "Rollout"]


def test_nginx_getting_started_canary_ingress_and_replica_counts(cluster, tmp_path_factory):
    """docs/getting-started/nginx (rollout.yaml, services.yaml, ingress.yaml), as Argo's controller runs it:
    rollout/trafficrouting/nginx/nginx.go SetWeightPerIngress + buildCanaryIngress (the
    `<rollout>-<stableIngress>-canary` Ingress, canary "true", canary-weight, ingress.class kept, stable backend
    swapped for the canary Service, owned by the Rollout); utils/replicaset/canary.go
    CalculateReplicaCountsForTrafficRoutedCanary (stable stays at spec.replicas: TestCalculateReplicaCountsForCanary
    TrafficRouting); rollout/trafficrouting.go calculateWeightStatus (status.canary.weights)."""
    ns = "argo-nginx"
    k = kubectl_ns(cluster, tmp_path_factory, ns)
    gs = ("getting-started", "nginx")
    k.run("apply", "-f", fixture(*gs, "services.yaml"), "-f", fixture(*gs, "ingress.yaml"),
          "-f", fixture(*gs, "rollout.yaml"))
    first = wait_for(lambda: healthy(cluster, ns, "rollouts-demo"), what="first revision Healthy")
    old = first["stableRS"]
    cname = "rollouts-demo-rollouts-demo-stable-canary"
    ing = wait_for(lambda: get(cluster, "ingresses", ns, cname), what="canary Ingress")
    ann = ing["metadata"]["annotations"]
    assert ann == {NGINX + "canary": "true", NGINX + "canary-weight": "0", "kubernetes.io/ingress.class": "nginx"}
    assert ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"] == {
        "name": "rollouts-demo-canary", "port": {"number": 80}}
    ref = ing["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"]) == ("Rollout", "rollouts-demo", True)

    set_image(k, "rollouts-demo", "argoproj/rollouts-demo:yellow")
    st = wait_for(lambda: paused_at(cluster, ns, "rollouts-demo", 1), what="paused after setWeight 5")
    new = st["currentPodHash"]
    assert new != old and st["stableRS"] == old
    assert rs_by_hash(cluster, ns) == {old: (1, 1), new: (1, 1)}  # not stable 0 / canary 1 (basic arithmetic)
    assert st["canary"]["weights"] == {
        "canary": {"weight": 5, "podTemplateHash": new, "serviceName": "rollouts-demo-canary"},
        "stable": {"weight": 95, "podTemplateHash": old, "serviceName": "rollouts-demo-stable"}}
    assert "verified" not in st["canary"]["weights"]  # NGINX's VerifyWeight returns nil
    assert get(cluster, "ingresses", ns, cname)["metadata"]["annotations"][NGINX + "canary-weight"] == "5"
    sel = {s: get(cluster, "services", ns, s)["spec"]["selector"].get(HASH)
           for s in ("rollouts-demo-canary", "rollouts-demo-stable")}
    assert sel == {"rollouts-demo-canary": new, "rollouts-demo-stable": old}
    r = k.run("get", "ingress", cname, "-o",
              "jsonpath={.metadata.annotations.nginx\\.ingress\\.kubernetes\\.io/canary-weight}")
    assert r.out == "5", r
    ev = reasons(cluster, ns)
    assert ("CreatingCanaryIngress", f"Creating canary ingress `{cname}` with weight `0`") in ev
    assert ("PatchingCanaryIngress", f"Updating Ingress `{cname}` to desiredWeight '5'") in ev
    assert ("TrafficWeightUpdated", "Traffic weight updated from 0 to 5") in ev

    # promote (as `kubectl argo rollouts promote`): weight 100 then the new revision is stable, weight 0, and the
    # old ReplicaSet goes after scaleDownDelaySeconds (30 s)
    k.run("patch", "rollout", "rollouts-demo", "--subresource=status", "--type", "merge",
          "-p", '{"status":{"pauseConditions":null}}')
    st = wait_for(lambda: status(cluster, ns, "rollouts-demo").get("stableRS") == new
                  and status(cluster, ns, "rollouts-demo"), what="promoted")
    assert st["canary"]["weights"]["canary"]["weight"] == 0
    assert get(cluster, "ingresses", ns, cname)["metadata"]["annotations"][NGINX + "canary-weight"] == "0"
    assert get(cluster, "services", ns, "rollouts-demo-stable")["spec"]["selector"][HASH] == new
    old_rs = next(r for r in listed(cluster, "replicasets", ns) if r["metadata"]["labels"][HASH] == old)
    assert "argo-rollouts.argoproj.io/scale-down-deadline" in old_rs["metadata"]["annotations"]
    wait_for(lambda: rs_by_hash(cluster, ns) == {old: (0, 0), new: (1, 1)}, what="old ReplicaSet scaled down")
    wait_for(lambda: healthy(cluster, ns, "rollouts-demo"), what="Healthy after promotion")


def test_istio_host_split_getting_started_writes_both_virtual_services(cluster, tmp_path_factory):
    """docs/getting-started/istio (rollout.yaml with virtualServices vsvc1/vsvc2, multipleVirtualsvc.yaml,
    services.yaml): rollout/trafficrouting/istio/istio.go SetWeight + processRoutes (host-level split: canaryService
    gets the weight, stableService the rest, in each named http route; tls routes the Rollout does not list are left
    alone); the stable ReplicaSet stays at spec.replicas (CalculateReplicaCountsForTrafficRoutedCanary)."""
    ns = "argo-istio-host"
    k = kubectl_ns(cluster, tmp_path_factory, ns)
    gs = ("getting-started", "istio")
    k.run("apply", "-f", fixture(*gs, "gateway.yaml"), "-f", fixture(*gs, "services.yaml"),
          "-f", fixture(*gs, "multipleVirtualsvc.yaml"), "-f", fixture(*gs, "rollout.yaml"))
    old = wait_for(lambda: healthy(cluster, ns, "rollouts-demo"), what="Healthy")["stableRS"]
    set_image(k, "rollouts-demo", "argoproj/rollouts-demo:yellow")
    st = wait_for(lambda: paused_at(cluster, ns, "rollouts-demo", 1), what="paused after setWeight 5")
    new = st["currentPodHash"]
    assert rs_by_hash(cluster, ns) == {old: (1, 1), new: (1, 1)}

    def weights(vs, kind):
        spec = get(cluster, "virtualservices", ns, vs)["spec"]
        return [(d["destination"]["host"], d["weight"]) for d in spec[kind][0]["route"]]
    for vs in ("rollouts-demo-vsvc1", "rollouts-demo-vsvc2"):
        assert weights(vs, "http") == [("rollouts-demo-stable", 95), ("rollouts-demo-canary", 5)], vs
        assert weights(vs, "tls") == [("rollouts-demo-stable", 100), ("rollouts-demo-canary", 0)], vs
    assert st["canary"]["weights"]["canary"] == {"weight": 5, "podTemplateHash": new,
                                                 "serviceName": "rollouts-demo-canary"}
    ev = reasons(cluster, ns)
    assert ("Updated VirtualService", "VirtualService `rollouts-demo-vsvc1` set to desiredWeight '5'") in ev
    assert ("Updated VirtualService", "VirtualService `rollouts-demo-vsvc2` set to desiredWeight '5'") in ev
    r = k.run("get", "virtualservice", "rollouts-demo-vsvc1", "-o", "jsonpath={.spec.http[0].route[1].weight}")
    assert r.out == "5", r


def test_istio_subset_split_example_labels_destination_rule_subsets(cluster, tmp_path_factory):
    """examples/istio/istio-subset-split.yaml: istio.go UpdateHash (the DestinationRule's canary and stable subsets
    get the rollouts-pod-template-hash labels and the managed-by-rollouts annotation; an UpdatedDestinationRule
    event) and processRoutes (subset-level split: canarySubsetName 10, stableSubsetName 90)."""
    ns = "argo-istio-subset"
    k = kubectl_ns(cluster, tmp_path_factory, ns)
    k.run("apply", "-f", fixture("istio-subset-split.yaml"))
    old = wait_for(lambda: healthy(cluster, ns, "istio-subset-split"), what="Healthy")["stableRS"]

    def subsets():
        dr = get(cluster, "destinationrules.networking.istio.io", ns, "istio-subset-split-destrule")
        return {s["name"]: s["labels"].get(HASH) for s in dr["spec"]["subsets"]}
    wait_for(lambda: subsets() == {"stable": old, "canary": old}, what="both subsets on the stable hash")
    set_image(k, "istio-subset-split", "nginx:1.20-alpine")
    st = wait_for(lambda: paused_at(cluster, ns, "istio-subset-split", 1), what="paused after setWeight 10")
    new = st["currentPodHash"]
    assert subsets() == {"stable": old, "canary": new}
    dr = get(cluster, "destinationrules.networking.istio.io", ns, "istio-subset-split-destrule")
    assert dr["metadata"]["annotations"]["argo-rollouts.argoproj.io/managed-by-rollouts"] == "istio-subset-split"
    vs = get(cluster, "virtualservices", ns, "istio-subset-split-vsvc")
    assert [(d["destination"]["subset"], d["weight"]) for d in vs["spec"]["http"][0]["route"]] == [
        ("stable", 90), ("canary", 10)]
    assert rs_by_hash(cluster, ns) == {old: (1, 1), new: (1, 1)}  # spec.replicas defaults to 1; stable stays
    assert st["canary"]["weights"] == {"canary": {"weight": 10, "podTemplateHash": new},
                                       "stable": {"weight": 90, "podTemplateHash": old}}
    assert ("UpdatedDestinationRule", f"DestinationRule istio-subset-split-destrule subset updated "
            f"(canary: {new}, stable: {old})") in reasons(cluster, ns)


def test_smi_getting_started_creates_the_traffic_split(cluster, tmp_path_factory):
    """docs/getting-started/smi (rollout.yaml with smi: {}, services.yaml): rollout/trafficrouting/smi/smi.go
    SetWeight + trafficSplitV1Alpha1 (Argo's default SMI API version: a TrafficSplit named after the Rollout,
    root Service = stableService, backends canary then stable with resource.Quantity weights; TrafficSplitCreated)."""
    ns = "argo-smi"
    k = kubectl_ns(cluster, tmp_path_factory, ns)
    gs = ("getting-started", "smi")
    k.run("apply", "-f", fixture(*gs, "services.yaml"), "-f", fixture(*gs, "rollout.yaml"))
    wait_for(lambda: healthy(cluster, ns, "rollouts-demo"), what="Healthy")
    ts = wait_for(lambda: get(cluster, "trafficsplits.split.smi-spec.io", ns, "rollouts-demo"), what="TrafficSplit")
    r = k.run("get", "trafficsplits.v1alpha1.split.smi-spec.io", "rollouts-demo", "-o", "jsonpath={.apiVersion}")
    assert r.out == "split.smi-spec.io/v1alpha1", r  # created as v1alpha1; stored in the CRD's storage version
    assert ts["spec"] == {"service": "rollouts-demo-stable", "backends": [
        {"service": "rollouts-demo-canary", "weight": "0"}, {"service": "rollouts-demo-stable", "weight": "100"}]}
    set_image(k, "rollouts-demo", "argoproj/rollouts-demo:yellow")
    wait_for(lambda: paused_at(cluster, ns, "rollouts-demo", 1), what="paused after setWeight 5")
    ts = get(cluster, "trafficsplits.split.smi-spec.io", ns, "rollouts-demo")
    assert [(b["service"], b["weight"]) for b in ts["spec"]["backends"]] == [
        ("rollouts-demo-canary", "5"), ("rollouts-demo-stable", "95")]
    assert ts["metadata"]["ownerReferences"][0]["kind"] == "Rollout"
    assert ("TrafficSplitCreated", "TrafficSplit `rollouts-demo` created") in reasons(cluster, ns)
    r = k.run("get", "trafficsplits", "rollouts-demo", "-o", "jsonpath={.spec.backends[0].weight}")
    assert r.out == "5", r


def test_workload_ref_example_runs_the_deployments_template(cluster, tmp_path_factory):
    """examples/workload-ref/workload-ref.yaml: rollout/templateref.go (the pod template and selector come from
    the referenced Deployment); the default scaleDown `never` leaves the Deployment at its 0 replicas."""
    ns = "argo-workload-ref"
    k = kubectl_ns(cluster, tmp_path_factory, ns)
    k.run("apply", "-f", fixture("workload-ref.yaml"))
    st = wait_for(lambda: healthy(cluster, ns, "rollout-ref-deployment"), what="Healthy")
    assert st["availableReplicas"] == 5 and st["workloadObservedGeneration"] == "1"
    pods = [p for p in listed(cluster, "pods", ns) if not p["metadata"].get("deletionTimestamp")]
    assert len(pods) == 5
    for p in pods:
        assert [c["image"] for c in p["spec"]["containers"]] == ["argoproj/rollouts-demo:blue"]
        assert p["metadata"]["labels"]["app"] == "rollout-ref-deployment" and HASH in p["metadata"]["labels"]
        assert p["status"]["phase"] == "Running"
    r = k.run("get", "pods", "-l", "app=rollout-ref-deployment", "--no-headers")
    assert r.out.count("1/1") == 5 and "Pending" not in r.out, r
    assert get(cluster, "deployments", ns, "rollout-ref-deployment")["spec"]["replicas"] == 0
    # a new template in the Deployment is a new revision of the Rollout (setWeight 20 of 5: canary 1, stable 4)
    patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
              "value": "argoproj/rollouts-demo:green"}]
    k.run("patch", "deployment", "rollout-ref-deployment", "--type", "json", "-p", json.dumps(patch))
    st = wait_for(lambda: status(cluster, ns, "rollout-ref-deployment").get("currentPodHash") != st["stableRS"]
                  and status(cluster, ns, "rollout-ref-deployment"), what="new revision")
    wait_for(lambda: sorted(rs_by_hash(cluster, ns).values()) == [(1, 1), (4, 4)], what="canary 1, stable 4")


@pytest.mark.parametrize("mode", ["onsuccess", "progressively"])
def test_workload_ref_scale_down_scales_the_deployment_to_zero(cluster, tmp_path_factory, mode):
    """workloadRef.scaleDown: rollout/sync.go (ScaleDownOnSuccess: the Deployment goes to 0 once the first
    revision is Healthy) and rollout/replicaset.go reconcileNewReplicaSet (ScaleDownProgressively: 0 once Healthy)."""
    ns = f"argo-wref-{mode}"
    k = kubectl_ns(cluster, tmp_path_factory, ns)
    docs = [d for d in yaml.safe_load_all(open(fixture("workload-ref.yaml"))) if d]
    docs[0]["spec"]["replicas"] = 3
    docs[1]["spec"]["workloadRef"]["scaleDown"] = mode
    path = tmp_path_factory.mktemp(f"wref-{mode}") / "wref.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    k.run("apply", "-f", str(path))
    wait_for(lambda: healthy(cluster, ns, "rollout-ref-deployment"), what="Healthy")
    wait_for(lambda: get(cluster, "deployments", ns, "rollout-ref-deployment")["spec"]["replicas"] == 0,
             what="Deployment scaled to 0")


def test_basic_canary_example_uses_argo_surge_arithmetic(cluster, tmp_path_factory):
    """examples/rollout-canary.yaml (replicas 5, setWeight 20, no trafficRouting): CalculateReplicaCountsForBasic
    Canary with the default maxSurge/maxUnavailable 25 % ends at canary 1, stable 4 (approximateWeightedCanary
    StableReplicaCounts(5, 20) = 1/4), and the rollout pauses at step 1."""
    ns = "argo-basic"
    k = kubectl_ns(cluster, tmp_path_factory, ns)
    k.run("apply", "-f", fixture("rollout-canary.yaml"))
    old = wait_for(lambda: healthy(cluster, ns, "rollout-canary"), what="Healthy")["stableRS"]
    set_image(k, "rollout-canary", "argoproj/rollouts-demo:yellow")
    st = wait_for(lambda: paused_at(cluster, ns, "rollout-canary", 1), what="paused after setWeight 20")
    assert rs_by_hash(cluster, ns) == {old: (4, 4), st["currentPodHash"]: (1, 1)}


def _selector(cluster, ns: str, svc: str) -> dict:
    return ((get(cluster, "services", ns, svc) or {}).get("spec") or {}).get("selector") or {}


def test_bluegreen_example_preview_then_promotion_switches_the_active_service(cluster, tmp_path_factory):
    """examples/rollout-bluegreen.yaml (replicas 2, autoPromotionEnabled: false), as rollout/bluegreen.go and
    rollout/service.go do it: the active and preview Services get the stable hash in their selectors; after an
    update the preview Service selects the new ReplicaSet at once (reconcilePreviewService) while the active keeps
    the old, the Rollout pauses before promotion (BlueGreenPause), and `kubectl argo rollouts promote` (the pause
    conditions cleared) switches the active Service to the new hash and makes it stable."""
    ns = "argo-bg"
    k = kubectl_ns(cluster, tmp_path_factory, ns)
    k.run("apply", "-f", fixture("rollout-bluegreen.yaml"))
    old = wait_for(lambda: healthy(cluster, ns, "rollout-bluegreen"), what="Healthy")["stableRS"]
    assert _selector(cluster, ns, "rollout-bluegreen-active").get(HASH) == old
    set_image(k, "rollout-bluegreen", "argoproj/rollouts-demo:green")
    st = wait_for(lambda: (lambda s: s.get("phase") == "Paused" and s.get("pauseConditions") and s)(
        status(cluster, ns, "rollout-bluegreen")), what="paused before promotion")
    new = st["currentPodHash"]
    assert new != old and st["pauseConditions"][0]["reason"] == "BlueGreenPause"
    assert _selector(cluster, ns, "rollout-bluegreen-preview").get(HASH) == new
    assert _selector(cluster, ns, "rollout-bluegreen-active").get(HASH) == old
    assert rs_by_hash(cluster, ns) == {old: (2, 2), new: (2, 2)}
    k.run("patch", "rollout", "rollout-bluegreen", "--subresource=status", "--type", "merge",
          "-p", json.dumps({"status": {"pauseConditions": None}}))
    wait_for(lambda: _selector(cluster, ns, "rollout-bluegreen-active").get(HASH) == new, what="active switched")
    st = wait_for(lambda: (lambda s: s.get("stableRS") == new and s)(status(cluster, ns, "rollout-bluegreen")),
                  what="new ReplicaSet stable")
    assert st["currentPodHash"] == new
