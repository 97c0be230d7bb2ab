"""The demo cluster's Flagger controller (tui/demo/controllers/flagger.py) against Flagger's own podinfo example.

The real kubectl applies Flagger's kustomize/podinfo (`kubectl apply -k`, vendored unchanged) and the Istio
tutorial's Canary (docs/gitbook/tutorials/istio-progressive-delivery.md, vendored unchanged), then drives the
tutorial's steps (`kubectl set image`, `kubectl annotate`); every check reads the cluster through the API
(kubectl -o json) or its state. Time is the simulation's: the cluster runs on a ManualClock and each test moves it
one analysis interval at a time (`Simulation.advance`), so a 1-minute interval costs no wall time.

Each test names the Flagger source it follows (fluxcd/flagger @ 15bd6ad, the commit the fixtures came from).
"""
from __future__ import annotations

import json
import os

import pytest

from kubectl_support import Kubectl, kubectl_binary, on_loop, start_cluster
from tui.demo.controllers.flagger import (go_duration_ms, histogram_quantile, max_weight, next_step_weight,
                                          compute_hash)
from tui.demo.scenario import TrafficProfile
from tui.demo.sim import ManualClock, Simulation
from tui.demo.state import ClusterState

HERE = os.path.dirname(__file__)
FIX = os.path.join(HERE, "fixtures", "flagger")
NS = "test"
CANARIES = "canaries.flagger.app"
INTERVAL = 60  # the tutorial Canary's analysis.interval (1m)

# the traffic model's view of the example: podinfo-primary's pods are "primary", podinfo's the "canary"
SCENARIO = """
name: flagger-kubectl
plays: "002 test"
app: podinfo
namespace: test
tracks:
  primary: {labels: {app: podinfo-primary}}
  canary: {labels: {app: podinfo}}
traffic:
  service: podinfo
  rps: 50
  tracks:
    primary: {error_rate: 0.0005, p50: 0.012, p99: 0.06}
    canary: {error_rate: 0.0008, p50: 0.013, p99: 0.07}
manifests:
  - {apiVersion: v1, kind: Namespace, metadata: {name: test}}
"""


# ------------------------------------------------------------------------------------------------ harness

@pytest.fixture
def fl(tmp_path):
    """A demo cluster on a ManualClock with Flagger's podinfo applied and initialised, and a kubectl for it."""
    kubectl_binary()
    path = tmp_path / "flagger-kubectl.yaml"
    path.write_text(SCENARIO)
    c = start_cluster(scenario=str(path), clock=ManualClock(), speed=1.0)
    try:
        k = Kubectl(kubectl_binary(), c.kubeconfig_path, str(tmp_path / "home"), namespace=NS)
        h = Harness(c, k)
        on_loop(c, h.sim.pause)  # only the test moves time (the background tick would replay each jump)
        r = k.run("apply", "-k", os.path.join(FIX, "podinfo"))
        assert "deployment.apps/podinfo created" in r.out, r
        h.advance(20)  # podinfo's pod runs and is ready
        r = k.run("apply", "-f", os.path.join(FIX, "podinfo-canary.yaml"))
        assert "canary.flagger.app/podinfo created" in r.out, r
        yield h
    finally:
        c.stop()


class Harness:
    def __init__(self, cluster, k: Kubectl):
        self.c = cluster
        self.k = k

    @property
    def sim(self) -> Simulation:
        return self.c.cluster.sim

    def advance(self, seconds: float) -> None:
        on_loop(self.c, lambda: self.sim.advance(seconds))

    def tick(self, n: int = 1) -> None:
        """n analysis intervals of scenario time (Flagger's CanaryJob ticker)."""
        for _ in range(n):
            self.advance(INTERVAL)

    def get(self, *args: str) -> dict:
        return json.loads(self.k.run("get", *args, "-o", "json").out)

    def canary(self) -> dict:
        return self.get("canary", "podinfo")

    def status(self) -> dict:
        return on_loop(self.c, lambda: dict(self.c.cluster.state.get(CANARIES, NS, "podinfo")["status"]))

    def weights(self) -> dict[str, int]:
        vs = on_loop(self.c, lambda: self.c.cluster.state.get("virtualservices", NS, "podinfo"))
        return {d["destination"]["host"]: d["weight"] for d in vs["spec"]["http"][0]["route"]}

    def canary_events(self) -> list[dict]:
        """The Canary's events through the API, oldest first."""
        items = self.get("events")["items"]
        evs = [e for e in items if e["involvedObject"]["kind"] == "Canary" and e["involvedObject"]["name"] == "podinfo"]
        return sorted(evs, key=lambda e: (e["firstTimestamp"], e["metadata"]["name"]))

    def messages(self) -> list[str]:
        return [e["message"] for e in self.canary_events()]

    def replicas(self, name: str) -> int:
        return on_loop(self.c, lambda: self.c.cluster.state.get("deployments", NS, name)["spec"]["replicas"])

    def set_canary_profile(self, **kw) -> None:
        def fn():
            tm = self.sim.traffic
            tm.set_profile("canary", tm.profile("canary").replace(**kw), self.sim.clock())
        on_loop(self.c, fn)

    def initialise(self) -> None:
        """Ticks until Flagger reports the Canary Initialized (the primary must be ready first)."""
        for _ in range(3):
            if self.status().get("phase") == "Initialized":
                return
            self.tick()
        assert self.status().get("phase") == "Initialized", self.status()


# ------------------------------------------------------------------------------------------------ kubectl

@pytest.mark.kubectl
def test_initialisation_creates_the_primary_its_services_and_istio_routes(fl):
    """scheduler.go advanceCanary's bootstrap, as TestScheduler_DeploymentInit: deployment_controller.go
    createPrimaryDeployment (NAME-primary, selector app=NAME-primary, template copied), kubernetes_default.go
    Initialize/Reconcile (NAME-canary selects app=NAME, NAME-primary and the apex NAME select app=NAME-primary),
    istio.go Reconcile (DestinationRules, VirtualService primary 100 / canary 0), ScaleToZero of the target,
    setPhaseInitialized ("Initialization done!") and status.go MakeStatusConditions (Promoted True, Initialized)."""
    first = fl.status()
    assert first["phase"] == "Initializing" and first["conditions"][0]["reason"] == "Initializing"
    assert any("podinfo-primary.test not ready: waiting for rollout to finish" in m for m in fl.messages())
    fl.initialise()
    primary = fl.get("deploy", "podinfo-primary")
    podinfo = fl.get("deploy", "podinfo")
    assert primary["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    assert primary["metadata"]["labels"] == {"app": "podinfo-primary"}
    assert primary["spec"]["template"]["metadata"]["labels"]["app"] == "podinfo-primary"
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/stefanprodan/podinfo:6.0.0"
    assert "flagger-id" in primary["spec"]["template"]["metadata"]["annotations"]
    assert primary["metadata"]["ownerReferences"][0]["kind"] == "Canary"
    assert primary["status"]["availableReplicas"] == 1
    assert podinfo["spec"]["replicas"] == 0
    hpa = fl.get("hpa", "podinfo-primary")  # hpa_reconciler.go reconcilePrimaryHpaV2
    assert hpa["spec"]["scaleTargetRef"]["name"] == "podinfo-primary" and hpa["spec"]["minReplicas"] == 2
    assert hpa["metadata"]["ownerReferences"][0]["kind"] == "Canary"
    svcs = {s["metadata"]["name"]: s for s in fl.get("svc")["items"]}
    assert {n: s["spec"]["selector"] for n, s in svcs.items()} == {
        "podinfo": {"app": "podinfo-primary"}, "podinfo-primary": {"app": "podinfo-primary"},
        "podinfo-canary": {"app": "podinfo"}}
    for s in svcs.values():
        assert s["spec"]["ports"][0] == {"name": "http", "protocol": "TCP", "port": 9898, "targetPort": 9898}
        assert s["metadata"]["ownerReferences"][0]["name"] == "podinfo"
    drs = fl.get("destinationrules.networking.istio.io")["items"]
    assert sorted((d["metadata"]["name"], d["spec"]["host"]) for d in drs) == [
        ("podinfo-canary", "podinfo-canary"), ("podinfo-primary", "podinfo-primary")]
    assert all(d["spec"]["trafficPolicy"] == {"tls": {"mode": "DISABLE"}} for d in drs)
    vs = fl.get("virtualservices.networking.istio.io", "podinfo")
    assert vs["spec"]["hosts"] == ["app.example.com", "podinfo"]
    assert vs["spec"]["gateways"] == ["istio-system/public-gateway"]
    assert fl.weights() == {"podinfo-primary": 100, "podinfo-canary": 0}
    st = fl.canary()["status"]
    assert (st["phase"], st["canaryWeight"], st["failedChecks"], st["iterations"]) == ("Initialized", 0, 0, 0)
    assert st["lastAppliedSpec"] == st["lastPromotedSpec"] and st["lastTransitionTime"]
    assert [(c["type"], c["status"], c["reason"], c["message"]) for c in st["conditions"]] == [
        ("Promoted", "True", "Initialized", "Deployment initialization completed.")]
    evs = fl.canary_events()
    assert {(e["reason"], e["source"]["component"]) for e in evs} == {("Synced", "flagger")}
    assert "Initialization done! podinfo.test" in fl.messages()
    r = fl.k.run("get", "canary")
    assert r.out.split()[4:7] == ["podinfo", "Initialized", "0"], r


@pytest.mark.kubectl
def test_new_revision_advances_by_step_weight_then_promotes(fl):
    """scheduler.go checkCanaryStatus ("New revision detected! Scaling up"), runCanary (canaryWeight += stepWeight
    up to maxWeight 50, "Advance podinfo.test canary weight N", the VirtualService split alongside), then the
    promotion phases of TestScheduler_DeploymentAnalysisPhases: "Copying ... template spec to podinfo-primary.test"
    (Promoting), runPromotionTrafficShift ("Routing all traffic to primary", Finalising), "Promotion completed!
    Scaling down podinfo.test" (Succeeded)."""
    fl.initialise()
    fl.k.run("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1")
    fl.tick()
    st = fl.status()
    assert (st["phase"], st["canaryWeight"]) == ("Progressing", 0)
    assert fl.replicas("podinfo") == 2  # ScaleFromZero: the autoscalerRef HPA's minReplicas (kustomize/podinfo)
    seen = []
    for _ in range(6):
        fl.tick()
        st = fl.status()
        if st["phase"] != "Progressing":
            break
        seen.append((st["canaryWeight"], fl.weights()))
    assert seen == [(w, {"podinfo-primary": 100 - w, "podinfo-canary": w}) for w in (10, 20, 30, 40, 50)]
    assert st["phase"] == "Promoting"
    primary = fl.get("deploy", "podinfo-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/stefanprodan/podinfo:6.0.1"
    fl.tick()
    assert fl.status()["phase"] == "Finalising" and fl.weights() == {"podinfo-primary": 100, "podinfo-canary": 0}
    fl.tick()
    st = fl.canary()["status"]
    assert (st["phase"], st["canaryWeight"], st["failedChecks"]) == ("Succeeded", 0, 0)
    assert st["conditions"][0]["reason"] == "Succeeded" and st["conditions"][0]["status"] == "True"
    assert fl.replicas("podinfo") == 0
    msgs = fl.messages()
    want = ["New revision detected! Scaling up podinfo.test", "Starting canary analysis for podinfo.test",
            "Pre-rollout check acceptance-test passed"] + \
        [f"Advance podinfo.test canary weight {w}" for w in (10, 20, 30, 40, 50)] + \
        ["Copying podinfo.test template spec to podinfo-primary.test", "Routing all traffic to primary",
         "Promotion completed! Scaling down podinfo.test"]
    assert [m for m in msgs if m in want] == want
    assert not any(m.startswith("Halt") for m in msgs)


@pytest.mark.kubectl
def test_failed_checks_halt_then_roll_back_at_the_threshold(fl):
    """scheduler_metrics.go runBuiltinMetricChecks ("Halt podinfo.test advancement success rate 62.45% < 99%",
    measured here from the canary pods' counters over the metric's 1m), SetStatusFailedChecks +1 per failed check,
    and at `threshold` (5) scheduler.go rollback: "Rolling back podinfo.test failed checks threshold reached 5",
    "Canary failed! Scaling down podinfo.test", routes 100/0, podinfo scaled to zero, phase Failed (syncCanaryStatus
    resets failedChecks), as TestScheduler_DeploymentRollback ends."""
    fl.initialise()
    fl.k.run("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.2")
    fl.tick(2)  # Progressing, then "Starting canary analysis" and weight 10
    assert (fl.status()["phase"], fl.status()["canaryWeight"]) == ("Progressing", 10)
    fl.set_canary_profile(error_rate=0.4)
    failed = []
    for _ in range(7):
        fl.tick()
        st = fl.status()
        failed.append(st.get("failedChecks"))
        if st["phase"] == "Failed":
            break
    assert failed == [1, 2, 3, 4, 5, 0], failed
    assert st["canaryWeight"] == 0 and st["conditions"][0]["reason"] == "Failed"
    assert st["conditions"][0]["message"] == "Canary analysis failed, Deployment scaled to zero."
    assert fl.weights() == {"podinfo-primary": 100, "podinfo-canary": 0}
    assert fl.replicas("podinfo") == 0
    primary = fl.get("deploy", "podinfo-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/stefanprodan/podinfo:6.0.0"
    evs = fl.canary_events()
    halts = [e for e in evs if e["message"].startswith("Halt podinfo.test advancement success rate ")]
    assert halts and all(e["type"] == "Warning" and e["message"].endswith("% < 99%") for e in halts)
    rates = [float(e["message"].split()[-3].rstrip("%")) for e in halts]
    assert all(r < 99 for r in rates) and rates == sorted(rates, reverse=True)  # the 1m window fills with errors
    assert sum(e["count"] for e in halts) == 5
    tail = [(e["type"], e["reason"], e["message"]) for e in evs[-2:]]
    assert tail == [("Warning", "Synced", "Rolling back podinfo.test failed checks threshold reached 5"),
                    ("Warning", "Synced", "Canary failed! Scaling down podinfo.test")]
    # a Failed canary stays put until the next revision (shouldAdvance syncs lastAppliedSpec)
    fl.tick()
    assert fl.status()["phase"] == "Failed" and fl.replicas("podinfo") == 0


@pytest.mark.kubectl
def test_confirm_rollout_gate_waits_until_opened(fl):
    """scheduler_hooks.go runConfirmRolloutHooks: a closed gate (the load tester's /gate/check) puts the Canary in
    Waiting with "Halt podinfo.test advancement waiting for approval gate" (Promoted Unknown, "Waiting for
    approval."); the demo opens it with the annotation demo.lookout.dev/gate=open ("Confirm-rollout check gate
    passed", then "New revision detected!")."""
    fl.initialise()
    patch = {"spec": {"analysis": {"webhooks": [
        {"name": "gate", "type": "confirm-rollout", "url": "http://flagger-loadtester.test/gate/check"}]}}}
    fl.k.run("patch", "canary", "podinfo", "--type", "merge", "-p", json.dumps(patch))
    fl.k.run("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1")
    fl.tick(2)
    st = fl.status()
    assert st["phase"] == "Waiting" and st["conditions"][0]["message"] == "Waiting for approval."
    assert fl.messages().count("Halt podinfo.test advancement waiting for approval gate") == 1
    assert fl.replicas("podinfo") == 0
    fl.k.run("annotate", "canary", "podinfo", "demo.lookout.dev/gate=open")
    fl.tick()
    assert fl.status()["phase"] == "Progressing" and fl.replicas("podinfo") == 2
    msgs = fl.messages()
    assert msgs.index("Confirm-rollout check gate passed") < msgs.index("New revision detected! Scaling up podinfo.test")


# ------------------------------------------------------------------------------------------------ the scenario

async def play_scenario(seed: int, seconds: float = 200) -> tuple[list[tuple[str, str]], list]:
    state = ClusterState()
    sim = Simulation(state, scenario="flagger-podinfo", seed=seed, speed=1.0, clock=ManualClock(1_800_000_000.0))
    await sim.start(background=False)
    phases = []
    for _ in range(int(seconds / 5)):
        sim.advance(5)
        st = state.get(CANARIES, NS, "podinfo")["status"]
        phases.append((round(sim.t), st.get("phase"), st.get("canaryWeight"), st.get("failedChecks")))
    evs = sorted((e for e in state.list("events", NS)[0] if e["involvedObject"]["kind"] == "Canary"),
                 key=lambda e: (e["firstTimestamp"], e["metadata"]["name"]))
    assert not sim.errors and not state.callback_errors
    return [(e["type"], e["message"]) for e in evs], phases


async def test_flagger_podinfo_scenario_advances_halts_and_rolls_back_the_same_for_a_seed():
    """The flagger-podinfo scenario: Initialized, 6.0.1 advances 10/20/30, the canary's errors make Flagger halt
    five times and roll back (scheduler.go rollback); the same seed plays the same events and phases."""
    evs, phases = await play_scenario(seed=5)
    assert (evs, phases) == await play_scenario(seed=5)
    msgs = [m for _, m in evs]
    for w in (10, 20, 30):
        assert f"Advance podinfo.test canary weight {w}" in msgs
    assert "Advance podinfo.test canary weight 40" not in msgs
    halts = [m for m in msgs if m.startswith("Halt podinfo.test advancement success rate")]
    assert len(halts) == 5
    assert evs[-2:] == [("Warning", "Rolling back podinfo.test failed checks threshold reached 5"),
                        ("Warning", "Canary failed! Scaling down podinfo.test")]
    assert phases[-1][1:] == ("Failed", 0, 0)
    assert ("Progressing", 30, 4) in {p[1:] for p in phases}


# ------------------------------------------------------------------------------------------------ pure parts

def test_step_weights_follow_flagger():
    """scheduler.go maxWeight / nextStepWeight (stepWeight, stepWeights with the last as the max)."""
    cd = {"spec": {"analysis": {"stepWeight": 10, "maxWeight": 50}}}
    assert max_weight(cd) == 50 and next_step_weight(cd, 20) == 10
    cd = {"spec": {"analysis": {"stepWeights": [1, 5, 25, 60]}}}
    assert max_weight(cd) == 60
    assert [next_step_weight(cd, w) for w in (0, 1, 5, 25)] == [1, 4, 20, 35]
    assert max_weight({"spec": {"analysis": {}}}) == 100


def test_durations_and_quantiles_print_as_flagger_and_prometheus_do():
    """time.Duration.String for the "request duration 512ms > 500ms" events; histogram_quantile's interpolation;
    ComputeHash's SafeEncodeString alphabet."""
    assert [go_duration_ms(x) for x in (0, 7, 500, 1000, 1500, 61_000)] == ["0s", "7ms", "500ms", "1s", "1.5s",
                                                                           "1m1s"]
    # 100 requests: 50 under 5 ms, 100 under 10 ms -> p99 interpolates inside (5 ms, 10 ms]
    cum = [50, 100, 100, 100, 100, 100, 100, 100, 100, 100]
    assert histogram_quantile(0.99, cum, 100) == pytest.approx(0.005 + 0.005 * 49 / 50)
    assert histogram_quantile(0.99, [0] * 10, 100) == 5.0  # all in +Inf: the highest finite bound
    assert histogram_quantile(0.99, [0] * 10, 0) is None
    h = compute_hash({"spec": {"containers": [{"image": "a"}]}})
    assert h == compute_hash({"spec": {"containers": [{"image": "a"}]}}) and set(h) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_weighted_traffic_split_reaches_each_pod_by_its_weight():
    """The traffic model's routed split (TrafficModel.set_groups, which Flagger's routes and Argo's routers feed):
    a group of weight 90 gets nine times the requests of a group of weight 10."""
    from tui.demo.traffic import TrafficModel, _COUNT
    tm = TrafficModel(100.0, {"a": TrafficProfile()}, now=0.0)
    tm.add_pod(("n", "p"), "a", 0.0)
    tm.add_pod(("n", "c"), "a", 0.0)
    tm.set_served({("n", "p"), ("n", "c")}, 0.0)
    tm.set_groups([("podinfo-primary", 90.0, {("n", "p")}), ("podinfo-canary", 10.0, {("n", "c")})], 0.0)
    assert tm.counters(("n", "p"), 10.0)[_COUNT] == pytest.approx(900.0)
    assert tm.counters(("n", "c"), 10.0)[_COUNT] == pytest.approx(100.0)
    tm.set_groups([("podinfo-primary", 50.0, {("n", "p")}), ("podinfo-canary", 50.0, {("n", "c")})], 10.0)
    assert tm.counters(("n", "c"), 20.0)[_COUNT] == pytest.approx(600.0)


# ------------------------------------------------------------------------------------------------ strategies

def _load(path: str) -> list[dict]:
    import yaml
    return [d for d in yaml.safe_load_all(open(path, encoding="utf-8")) if d]


async def bare(analysis: dict, provider: str | None = None, annotations: dict | None = None, config: bool = False):
    """The example on a bare Simulation (no HTTP): kustomize/podinfo's Deployment and a Canary with `analysis`,
    initialised, then release 6.0.1 applied. Returns (sim, state, tick, status, messages)."""
    from tui.demo.scenario import parse_scenario
    state = ClusterState()
    sim = Simulation(state, scenario=parse_scenario(SCENARIO), seed=3, speed=1.0, clock=ManualClock(1_800_000_000.0))
    await sim.start(background=False)
    dep = _load(os.path.join(FIX, "podinfo", "deployment.yaml"))[0]
    dep["metadata"]["namespace"] = NS
    pre = []
    if config:  # the template reads a ConfigMap (envFrom) and a Secret (a volume)
        pre = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "podinfo-config", "namespace": NS},
                "data": {"PODINFO_UI_MESSAGE": "hello"}},
               {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "podinfo-token", "namespace": NS},
                "type": "Opaque", "data": {"token": "c2VjcmV0"}}]
        c = dep["spec"]["template"]["spec"]["containers"][0]
        c["envFrom"] = [{"configMapRef": {"name": "podinfo-config"}}]
        c["volumeMounts"] = [{"name": "token", "mountPath": "/etc/token"}]
        dep["spec"]["template"]["spec"]["volumes"] = [{"name": "token", "secret": {"secretName": "podinfo-token"}}]
    sim.load_manifests(pre + [dep])
    sim.advance(20)
    cd = {"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
          "metadata": {"name": "podinfo", "namespace": NS, **({"annotations": annotations} if annotations else {})},
          "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                   "service": {"port": 9898}, "analysis": dict({"interval": "1m"}, **analysis)}}
    if provider:
        cd["spec"]["provider"] = provider
    sim.load_manifests([cd])

    def status():
        return state.get(CANARIES, NS, "podinfo")["status"]

    def messages():
        evs = sorted((e for e in state.list("events", NS)[0] if e["involvedObject"]["kind"] == "Canary"),
                     key=lambda e: (e["firstTimestamp"], e["metadata"]["name"]))
        return [e["message"] for e in evs]

    def tick(n=1):
        for _ in range(n):
            sim.advance(INTERVAL)
    tick()
    assert status()["phase"] == "Initialized", status()

    def fn(o):
        o["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/stefanprodan/podinfo:6.0.1"
    state.mutate("deployments", NS, "podinfo", fn)
    return sim, state, tick, status, messages


async def test_ab_testing_routes_matching_requests_to_the_canary_for_its_iterations():
    """scheduler.go runAB and istio.go SetRoutes with analysis.match, as TestScheduler_DeploymentABTesting: the
    VirtualService gets a matching route (primary 0 / canary 100) and a default route to the primary, "Advance
    podinfo.test canary iteration N/2", then promotion (Promoting, Finalising, Succeeded)."""
    match = [{"headers": {"x-canary": {"exact": "insider"}}}]
    sim, state, tick, status, messages = await bare(
        {"iterations": 2, "threshold": 2, "match": match,
         "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"}]})
    tick(2)  # Progressing; then "Starting canary analysis" and iteration 1
    http = state.get("virtualservices", NS, "podinfo")["spec"]["http"]
    assert http[0]["match"] == match
    assert [(d["destination"]["host"], d["weight"]) for d in http[0]["route"]] == [("podinfo-primary", 0),
                                                                                   ("podinfo-canary", 100)]
    assert [(d["destination"]["host"], d["weight"]) for d in http[1]["route"]] == [("podinfo-primary", 100)]
    assert "match" not in http[1]
    assert status()["iterations"] == 1
    phases = []
    for _ in range(5):
        tick()
        phases.append(status()["phase"])
    assert phases == ["Progressing", "Promoting", "Finalising", "Succeeded", "Succeeded"], (phases, messages())
    msgs = messages()
    assert "Advance podinfo.test canary iteration 1/2" in msgs and "Advance podinfo.test canary iteration 2/2" in msgs
    assert "Copying podinfo.test template spec to podinfo-primary.test" in msgs
    assert not any(m.startswith("Halt") for m in msgs)  # the matching requests (10 %) reached the canary


async def test_kubernetes_provider_is_blue_green_by_iterations():
    """scheduler.go with provider kubernetes, as TestScheduler_DeploymentBlueGreenAnalysisPhases: no routing
    objects, iterations counted ("Advance podinfo.test canary iteration 1/1"), one more iteration where a mesh would
    route all traffic to the canary, then Promoting, Finalising (runPromotionTrafficShift finalises at once for
    kubernetes), Succeeded."""
    sim, state, tick, status, messages = await bare({"iterations": 1}, provider="kubernetes")
    assert state.get("virtualservices", NS, "podinfo") is None
    phases = []
    for _ in range(6):
        tick()
        phases.append((status()["phase"], status()["iterations"]))
    # the Go test's "advance", "route traffic to primary" (iterations == wanted: one more), "promoting", ...
    assert phases == [("Progressing", 0), ("Progressing", 1), ("Progressing", 2), ("Promoting", 2),
                      ("Finalising", 0), ("Succeeded", 0)], (phases, messages())
    assert "Advance podinfo.test canary iteration 1/1" in messages()


async def test_confirm_promotion_gate_holds_at_max_weight_until_opened():
    """scheduler_hooks.go runConfirmPromotionHooks: at maxWeight a closed gate sets WaitingPromotion ("Halt
    podinfo.test advancement waiting for promotion approval gate"; setStatusPhase resets canaryWeight while the
    VirtualService keeps the split); the annotation opens it: "Confirm-promotion check gate passed", Promoting."""
    sim, state, tick, status, messages = await bare(
        {"stepWeight": 50, "maxWeight": 50, "threshold": 2,
         "webhooks": [{"name": "gate", "type": "confirm-promotion", "url": "http://flagger-loadtester.test/gate/check"}]})
    tick(3)  # Progressing; weight 50; at max: the gate is closed
    assert status()["phase"] == "WaitingPromotion" and status()["canaryWeight"] == 0
    vs = state.get("virtualservices", NS, "podinfo")["spec"]["http"][0]["route"]
    assert [d["weight"] for d in vs] == [50, 50]
    assert messages().count("Halt podinfo.test advancement waiting for promotion approval gate") == 1
    tick()
    assert status()["phase"] == "WaitingPromotion"
    state.mutate(CANARIES, NS, "podinfo",
                 lambda o: o["metadata"].setdefault("annotations", {}).__setitem__("demo.lookout.dev/gate", "open"))
    tick()
    assert status()["phase"] == "Promoting", messages()
    assert "Confirm-promotion check gate passed" in messages()


async def test_request_duration_halts_with_go_durations():
    """scheduler_metrics.go request-duration: the P99 (ms, the Istio observer's int64) above thresholdRange.max gives
    "Halt podinfo.test advancement request duration 1.7s > 500ms" (time.Duration's String)."""
    sim, state, tick, status, messages = await bare(
        {"stepWeight": 20, "maxWeight": 60, "threshold": 3,
         "metrics": [{"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "1m"}]})
    tm = sim.traffic
    tm.set_profile("canary", tm.profile("canary").replace(p50=0.4, p99=3.0), sim.clock())
    tick(3)  # Progressing; weight 20; the first measured check
    halts = [m for m in messages() if m.startswith("Halt podinfo.test advancement request duration ")]
    assert halts and status()["failedChecks"] == 1, messages()
    shown = halts[0].split()[-3]
    assert halts[0].endswith(" > 500ms") and shown.endswith("s") and not shown.endswith("ms")
    assert 1.0 <= float(shown[:-1]) <= 5.0  # P99 interpolated within the (1 s, 2.5 s] or (2.5 s, 5 s] bucket


async def test_no_traffic_to_the_canary_is_no_values_found():
    """scheduler_metrics.go ErrNoValuesFound: with the kubernetes provider nothing sends requests to the canary's
    pods (no load tester), so the check fails with "Halt advancement no values found for kubernetes metric
    request-success-rate probably podinfo.test is not receiving traffic: running query failed: no values found"."""
    sim, state, tick, status, messages = await bare(
        {"iterations": 3, "threshold": 2,
         "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"}]},
        provider="kubernetes")
    tick(3)
    want = ("Halt advancement no values found for kubernetes metric request-success-rate probably podinfo.test is "
            "not receiving traffic: running query failed: no values found")
    assert want in messages() and status()["failedChecks"] >= 1, messages()


async def test_new_revision_during_analysis_restarts_it():
    """scheduler.go hasCanaryRevisionChanged: a template change while Progressing gives "New revision detected!
    Restarting analysis for podinfo.test", routes back to the primary and resets the status (TestScheduler_
    DeploymentNewRevisionReset)."""
    sim, state, tick, status, messages = await bare({"stepWeight": 10, "maxWeight": 50, "threshold": 5})
    tick(3)
    assert status()["canaryWeight"] == 20

    def fn(o):
        o["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/stefanprodan/podinfo:6.0.2"
    state.mutate("deployments", NS, "podinfo", fn)
    tick()
    assert "New revision detected! Restarting analysis for podinfo.test" in messages()
    st = status()
    assert (st["phase"], st["canaryWeight"], st["failedChecks"], st["iterations"]) == ("Progressing", 0, 0, 0)
    route = state.get("virtualservices", NS, "podinfo")["spec"]["http"][0]["route"]
    assert [d["weight"] for d in route] == [100, 0]


async def test_config_maps_and_secrets_are_tracked_with_primary_copies():
    """config_tracker.go: GetTargetConfigs (envFrom ConfigMap, Secret volume), CreatePrimaryConfigs (NAME-primary
    copies owned by the Canary), ApplyPrimaryConfigs (the primary reads them), status.trackedConfigs checksums, and
    HasConfigChanged: a changed ConfigMap alone starts an analysis ("New revision detected!"), and promotion copies
    the new data to podinfo-config-primary."""
    sim, state, tick, status, messages = await bare({"stepWeight": 50, "maxWeight": 50, "threshold": 5}, config=True)
    # bare() changed the image too: let that release finish first
    for _ in range(8):
        tick()
        if status()["phase"] == "Succeeded":
            break
    assert status()["phase"] == "Succeeded", messages()
    cm = state.get("configmaps", NS, "podinfo-config-primary")
    assert cm["data"] == {"PODINFO_UI_MESSAGE": "hello"} and cm["metadata"]["ownerReferences"][0]["kind"] == "Canary"
    sec = state.get("secrets", NS, "podinfo-token-primary")
    assert sec["data"] == {"token": "c2VjcmV0"} and sec["type"] == "Opaque"
    pspec = state.get("deployments", NS, "podinfo-primary")["spec"]["template"]["spec"]
    assert pspec["containers"][0]["envFrom"] == [{"configMapRef": {"name": "podinfo-config-primary"}}]
    assert pspec["volumes"][0]["secret"]["secretName"] == "podinfo-token-primary"
    tracked = status()["trackedConfigs"]
    assert set(tracked) == {"configmap/podinfo-config", "secret/podinfo-token"}
    assert all(len(v) == 16 for v in tracked.values())
    state.mutate("configmaps", NS, "podinfo-config", lambda o: o["data"].__setitem__("PODINFO_UI_MESSAGE", "bye"))

    def revisions() -> int:  # a repeated event is one Event with a higher count, as the event recorder does
        return sum(e["count"] for e in state.list("events", NS)[0]
                   if e["message"] == "New revision detected! Scaling up podinfo.test")
    n = revisions()
    tick()
    assert status()["phase"] == "Progressing" and revisions() == n + 1
    for _ in range(8):
        tick()
        if status()["phase"] == "Succeeded":
            break
    assert status()["phase"] == "Succeeded", messages()
    assert state.get("configmaps", NS, "podinfo-config-primary")["data"] == {"PODINFO_UI_MESSAGE": "bye"}
    assert status()["trackedConfigs"]["configmap/podinfo-config"] != tracked["configmap/podinfo-config"]
