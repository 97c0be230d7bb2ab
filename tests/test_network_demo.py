"""Every network finding from the demo cluster's own stories: canary-no-traffic, bluegreen-switch, network-faults,
and manifests loaded with --manifests. Played on a hand-moved clock; the DNS and churn tests cover the wire."""

from __future__ import annotations

import textwrap

from tui.demo.sim import ManualClock, Simulation
from tui.demo.state import ClusterState
from tui.network.findings import NetworkHistory, network_findings
from tui.network.scope import NetworkScope, scope_from_store
from tui.network.split import traffic_split

NS = "demo"
KINDS = ("pods", "services", "endpointslices", "ingresses", "networkpolicies", "httproutes", "virtualservices",
         "deployments", "replicasets", "rollouts")


async def play(scenario: str, seconds: float, step: float = 0.5):
    state = ClusterState()
    sim = Simulation(state, scenario=scenario, seed=5, speed=1.0, clock=ManualClock())
    await sim.start(background=False)
    advance(sim, seconds, step)
    return sim, state


def advance(sim, seconds: float, step: float = 0.5) -> None:
    t = 0.0
    while t < seconds - 1e-9:
        sim.advance(step)
        t += step


def scope_of(state, app: str | None = None) -> NetworkScope:
    objs = {k: {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in state.list(k, NS)[0]}
            for k in KINDS if k in _kinds()}
    flt = (lambda p: (p["metadata"].get("labels") or {}).get("app") == app) if app else None
    return scope_from_store(objs, NS, pod_filter=flt, app=app)


def _kinds():
    from tui.demo.state import KINDS as K
    return K


def found(sc: NetworkScope, now: float, history=None) -> dict:
    return {(f.code, f.track): f for f in network_findings(sc, now, history)}


async def test_canary_no_traffic_template_then_pods():
    sim, state = await play("canary-no-traffic", 1)
    f = found(scope_of(state), sim.t)
    # before the canary has a pod, its Deployment's template already misses tier=web
    assert "pod template of Deployment/checkout-canary" in f[("track-not-selected", "canary")].summary
    advance(sim, 29)
    f = found(scope_of(state), sim.t)
    tns = f[("track-not-selected", "canary")]
    assert tns.severity == "critical" and dict(tns.evidence)["label"] == "tier"
    assert "stable pods have tier=web" in tns.summary
    assert ("service-selects-no-pods", "canary") in f  # checkout-canary wants tier=web too
    assert f[("weights-disagree", "canary")].severity == "warning"  # 20 % of pods, 0 % of endpoints
    assert ("readiness-probe-missing", "stable") in f
    assert ("track-not-selected", "stable") not in f  # the stable pods are right


async def test_bluegreen_switch_endpoints_lag_then_follow():
    sim, state = await play("bluegreen-switch", 24)
    h = NetworkHistory(grace=1.0)
    assert ("endpoints-lag", "blue") not in found(scope_of(state), sim.t, h)
    advance(sim, 1.5)  # the switch happened at 25 s; endpoints follow 3 s later
    found(scope_of(state), sim.t, h)
    advance(sim, 1.5)
    lag = found(scope_of(state), sim.t, h)[("endpoints-lag", "green")]
    assert lag.severity == "warning" and "blue" in lag.summary and "no longer selects" in lag.summary
    advance(sim, 2)
    done = found(scope_of(state), sim.t, h)[("endpoints-lag", "green")]
    assert done.severity == "info" and "followed its selector change after" in done.summary


async def test_network_faults_every_layer():
    sim, state = await play("network-faults", 20)
    sc = scope_of(state, "checkout")
    f = found(sc, sim.t)
    assert f[("target-port-not-exposed", "canary")].severity == "critical"
    assert "health" in f[("probe-port-not-exposed", "canary")].summary
    assert ("probes-identical", "stable") in f
    assert f[("no-ready-endpoints", "canary")].summary.startswith("Service checkout-canary")
    np = f[("networkpolicy-excludes-track", "canary")]
    assert "allow-checkout-web" in np.summary and "deployment=stable" in np.summary
    assert "checkout-metrics" in f[("networkpolicy-excludes-track", None)].summary  # selects no pods
    routes = [x for x in network_findings(sc, sim.t) if x.code == "route-backend-missing"]
    text = " ".join(x.summary + " ".join(v for _, v in x.evidence) for x in routes)
    assert "checkout-canry" in text and "port 8080 of Service checkout-canary" in text
    layers = {l.layer: l for l in traffic_split(sc)}
    assert {"istio", "gateway", "nginx"} <= set(layers)
    assert layers["nginx"].weight("canary") == 20 and layers["gateway"].weight("canary") == 20
    w = f[("weights-disagree", "canary")]
    assert w.severity == "critical" and "0 ready endpoints" in w.summary
    pay = found(scope_of(state, "payments"), sim.t)
    assert "previewed by nobody" in pay[("preview-points-at-active", "green")].summary
    assert pay[("single-endpoint", "blue")].severity == "warning"


async def test_manifests_dir_produces_findings(tmp_path):
    """`lookout demo --manifests DIR`: the user's own objects are checked like the scenario's."""
    from tui.demo.cluster import start_demo_cluster

    (tmp_path / "app.yaml").write_text(textwrap.dedent("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: demo}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
                - name: web
                  image: registry.demo/web:1
                  ports: [{name: http, containerPort: 8080}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: demo}
        spec:
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: 9090}]
    """))
    c = await start_demo_cluster(scenario="healthy-canary", speed=1.0, port=0, manifests_dir=str(tmp_path))
    try:
        sc = scope_of(c.state, "web")
        f = found(sc, c.sim.t)
        assert f[("target-port-not-exposed", None)].severity == "warning"
        assert "port 9090" in f[("target-port-not-exposed", None)].summary
        assert ("readiness-probe-missing", None) in f
    finally:
        await c.stop()


async def test_network_faults_over_http_with_the_informers_the_lead_wires():
    """The Store filled by informers for tui.network.kinds.NETWORK_RESOURCES (CRDs served as custom resources)."""
    import asyncio

    from tui.demo.cluster import start_demo_cluster
    from tui.kube.client import KubeClient
    from tui.kube.config import load_target
    from tui.kube.informer import Informer
    from tui.kube.resources import DEPLOYMENTS, PODS
    from tui.kube.store import Store
    from tui.network.kinds import NETWORK_RESOURCES
    from tui.network.monitor import NetworkMonitor
    from tui.rollout.target import Target
    from tui.rollout.tracks import TrackResolver

    c = await start_demo_cluster(scenario="network-faults", speed=20, port=0)
    client = KubeClient(load_target(c.kubeconfig_path))
    store = Store()
    tasks = [asyncio.create_task(Informer(client, store, ref, namespace="demo", backoff_initial=0.05).run())
             for ref in (PODS, DEPLOYMENTS) + NETWORK_RESOURCES]
    try:
        crds = await client.get_json("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        assert {"httproutes.gateway.networking.k8s.io", "virtualservices.networking.istio.io"} <= {
            i["metadata"]["name"] for i in crds["items"]}
        mon = NetworkMonitor()
        target = Target("Label", "checkout", "demo", "app=checkout")
        loop = asyncio.get_running_loop()
        end = loop.time() + 10
        while True:
            view, fs = mon.evaluate(store, target, TrackResolver())
            codes = {f.code for f in fs}
            if {"route-backend-missing", "weights-disagree", "networkpolicy-excludes-track"} <= codes:
                break
            assert loop.time() < end, codes
            await asyncio.sleep(0.05)
        assert {l.layer for l in view.split} >= {"istio", "gateway", "nginx"}
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()
        await c.stop()
