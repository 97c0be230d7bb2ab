"""The Veritas controller (seed 001's in-house CRDs) in the demo cluster: VeritasCanary steps, waits for approval,
promotes or rolls back; VeritasEnvironment switches blue/green with switchProgress, or stalls, or fails.

Played on a ClusterState with a hand-moved clock (as tests/test_demo_sim.py does), then through the API with the
real kubectl (tests/kubectl_support.py) running the seed's own diagnostic commands. The stories are seed 001's
"Promotion stuck" and "Switch not completing" (and "Unexpected rollback" for the failing canary).
"""
from __future__ import annotations

import json

import pytest

from kubectl_support import Kubectl, kubectl_binary, on_loop, start_cluster
from tui.demo.controllers.veritas import CANARIES, ENVIRONMENTS
from tui.demo.scenario import ScenarioError, load_scenario, parse_scenario
from tui.demo.sim import ManualClock, Simulation
from tui.demo.state import ClusterState

NS = "veritas"


async def play(scenario, seed: int = 7, speed: float = 50.0) -> tuple[Simulation, ClusterState]:
    state = ClusterState()
    sim = Simulation(state, scenario=scenario, seed=seed, speed=speed, clock=ManualClock())
    await sim.start(background=False)
    return sim, state


def controller_events(state: ClusterState, kind: str) -> list[tuple[str, str, str]]:
    evs = [e for e in state.list("events", NS)[0] if e["involvedObject"]["kind"] == kind]
    evs.sort(key=lambda e: (e["firstTimestamp"], e["metadata"]["name"]))
    return [(e["reason"], e["type"], e["message"]) for e in evs]


async def story(scenario, seconds: float, seed: int = 7) -> tuple[list, list, Simulation, ClusterState]:
    """Every change of (phase, weight or switch progress, message) each half second of scenario time, and the
    controller's events: the story a run tells."""
    sim, state = await play(scenario, seed)
    res = CANARIES if any(m["kind"] == "VeritasCanary" for m in sim.scenario.manifests) else ENVIRONMENTS
    seen: list[tuple] = []
    for _ in range(int(seconds * 2)):
        sim.advance(0.5)
        o = state.list(res, NS)[0][0]
        s = o.get("status") or {}
        cur = (s.get("phase"), s.get("canaryWeight", s.get("switchProgress")), s.get("message"))
        if not seen or seen[-1][1:] != cur:
            seen.append((sim.t,) + cur)
    assert not sim.errors, sim.errors
    kind = "VeritasCanary" if res == CANARIES else "VeritasEnvironment"
    return seen, controller_events(state, kind), sim, state


def phases(seen) -> list[str]:
    out = []
    for _, phase, *_ in seen:
        if not out or out[-1] != phase:
            out.append(phase)
    return out


# ------------------------------------------------------------------------------------------ VeritasCanary

async def test_promotion_stuck_steps_to_max_weight_then_waits_for_approval_then_promotes():
    """Seed 001 "Issue: Promotion Stuck": canary passing analysis but not promoting, status.phase Progressing for
    extended time, traffic weight not increasing; `kubectl describe veritascanary | grep -i waiting` shows why."""
    seen, events, sim, state = await story("veritas-promotion-stuck", 130)
    assert phases(seen) == ["Pending", "Progressing", "Promoting", "Succeeded"]
    weights = []
    for _, phase, w, _ in seen:
        if phase == "Progressing" and (not weights or weights[-1] != w):
            weights.append(w)
    assert weights == [10, 20, 30, 40, 50]
    # stuck: Progressing at 50 % from the wait (t≈60) until the approval at 110, the weight not increasing
    waiting = [t for t, phase, w, msg in seen if msg and msg.startswith("Waiting for approval")]
    assert waiting and 55 <= waiting[0] <= 65, seen
    promoting = next(t for t, phase, *_ in seen if phase == "Promoting")
    assert promoting == pytest.approx(110, abs=0.6)
    assert [r for r, _, _ in events] == ["Started", "Advanced", "Advanced", "Advanced", "Advanced",
                                         "WaitingForApproval", "Promoting", "Succeeded"]
    assert events[1][2] == "Advance veritas-spark canary weight 20"
    assert "spec.promotion.auto is false" in events[5][2] and "veritas.hearthlink.ai/approved=true" in events[5][2]
    vc = state.get(CANARIES, NS, "veritas-spark")
    assert vc["status"]["canaryWeight"] == 0 and vc["status"]["failedChecks"] == 0
    # the weight asked went back to 0 with the canary; the weight a new revision starts at is kept
    assert vc["spec"]["trafficWeight"] == 0
    assert vc["metadata"]["annotations"]["veritas.hearthlink.ai/start-weight"] == "10"
    assert {c["type"]: (c["status"], c["reason"]) for c in vc["status"]["conditions"]}["Promoted"] == \
        ("True", "Succeeded")
    la = vc["status"]["lastAnalysis"]
    assert la["result"] == "Passed" and la["errorRate"] == pytest.approx(0.06, abs=0.001) and la["requestRate"] > 0
    # promoted: the stable Deployment runs the canary's image, the canary is scaled to 0
    stable = state.get("deployments", NS, "veritas-spark")
    assert stable["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.demo/veritas-spark:0.6.1"
    assert stable["spec"]["template"]["metadata"]["labels"]["deployment"] == "stable"
    assert state.get("deployments", NS, "veritas-spark-canary")["spec"]["replicas"] == 0


async def test_promotion_stuck_while_the_controller_is_down():
    """Seed 001 "Promotion stuck", cause "Controller unhealthy: restart veritas-controller": with its pod gone,
    nothing moves; the weight stays, the phase stays Progressing; back, it carries on."""
    sim, state = await play("veritas-promotion-stuck")
    sim.advance(22)
    assert state.get(CANARIES, NS, "veritas-spark")["status"]["canaryWeight"] == 20
    state.mutate("deployments", NS, "veritas-controller", lambda o: o["spec"].__setitem__("replicas", 0))
    sim.advance(30)
    st = state.get(CANARIES, NS, "veritas-spark")["status"]
    assert (st["phase"], st["canaryWeight"]) == ("Progressing", 20)
    assert state.list("pods", NS, label_selector="app=veritas-controller")[0] == []
    n_events = len(controller_events(state, "VeritasCanary"))
    state.mutate("deployments", NS, "veritas-controller", lambda o: o["spec"].__setitem__("replicas", 1))
    sim.advance(15)
    st = state.get(CANARIES, NS, "veritas-spark")["status"]
    assert st["phase"] == "Progressing" and st["canaryWeight"] >= 30
    assert len(controller_events(state, "VeritasCanary")) > n_events


async def test_the_same_seed_plays_the_same_story():
    a = await story("veritas-promotion-stuck", 130, seed=3)
    b = await story("veritas-promotion-stuck", 130, seed=3)
    assert a[0] == b[0] and a[1] == b[1]
    c = await story("veritas-switch-stuck", 110, seed=3)
    d = await story("veritas-switch-stuck", 110, seed=3)
    assert c[0] == d[0] and c[1] == d[1]
    assert sorted(p["metadata"]["name"] for p in c[3].list("pods", NS)[0]) == \
        sorted(p["metadata"]["name"] for p in d[3].list("pods", NS)[0])


CANARY = """
name: unit
plays: "001 test"
app: web
namespace: veritas
crds: [veritas]
tracks:
  stable: {labels: {deployment: stable}}
  canary: {labels: {deployment: canary}}
traffic:
  service: web
  rps: 100
  tracks:
    stable: {error_rate: 0.001, p50: 0.02, p99: 0.09}
    canary: {error_rate: 0.001, p50: 0.02, p99: 0.09%(canary)s}
manifests:
  - {apiVersion: v1, kind: Namespace, metadata: {name: veritas}}
  - apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: veritas}
    spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}
  # the VirtualService's destinations are Services, as Istio needs (a host with no Service gets no requests)
  - apiVersion: v1
    kind: Service
    metadata: {name: web-stable, namespace: veritas}
    spec: {selector: {app: web, deployment: stable}, ports: [{name: http, port: 80, targetPort: http}]}
  - apiVersion: v1
    kind: Service
    metadata: {name: web-canary, namespace: veritas}
    spec: {selector: {app: web, deployment: canary}, ports: [{name: http, port: 80, targetPort: http}]}
  - apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: web, namespace: veritas}
    spec:
      hosts: [web]
      http:
        - route:
            - {destination: {host: web-stable}, weight: 100}
            - {destination: {host: web-canary}, weight: 0}
%(deployments)s
  - apiVersion: veritas.hearthlink.ai/v1
    kind: VeritasCanary
    metadata: {name: web, namespace: veritas}
    spec:
      targetRef: {name: web-canary}
      stableRef: {name: web}
      trafficWeight: 20
      trafficRouting: {virtualService: {name: web}}
      promotion: {auto: true, stepWeight: 20, maxWeight: 60}
      analysis: {interval: 10s, threshold: 2, maxErrorRate: 1, maxLatencyP99: 500}
"""


def _deployments() -> str:
    out = []
    for name, track, n, image in (("web", "stable", 3, "web:1"), ("web-canary", "canary", 1, "web:2")):
        out.append(f"""  - apiVersion: apps/v1
    kind: Deployment
    metadata: {{name: {name}, namespace: veritas}}
    spec:
      replicas: {n}
      selector: {{matchLabels: {{app: web, deployment: {track}}}}}
      template:
        metadata: {{labels: {{app: web, deployment: {track}}}}}
        spec: {{containers: [{{name: app, image: "registry.demo/{image}", ports: [{{name: http, containerPort: 8080}}]}}]}}""")
    return "\n".join(out)


def canary_scenario(canary: str = "") -> object:
    return parse_scenario(CANARY % {"canary": canary, "deployments": _deployments()})


async def test_auto_promotion_writes_the_weight_into_the_virtualservice():
    sim, state = await play(canary_scenario())
    weights = []
    for _ in range(120):
        sim.advance(0.5)
        vc = state.get(CANARIES, NS, "web")["status"]
        vs = state.get("virtualservices", NS, "web")["spec"]["http"][0]["route"]
        asked = state.get(CANARIES, NS, "web")["spec"]["trafficWeight"]
        assert asked == vc.get("canaryWeight") or vc.get("phase") != "Progressing", (asked, vc)
        pair = (vc.get("phase"), vc.get("canaryWeight"), [d["weight"] for d in vs])
        if not weights or weights[-1] != pair:
            weights.append(pair)
    assert weights[0][:2] == ("Progressing", 20)
    progressing = [(w, vs) for phase, w, vs in weights if phase == "Progressing"]
    assert progressing == [(20, [80, 20]), (40, [60, 40]), (60, [40, 60])]
    assert weights[-1] == ("Succeeded", 0, [100, 0])
    assert [r for r, _, _ in controller_events(state, "VeritasCanary")] == [
        "Started", "Advanced", "Advanced", "Promoting", "Succeeded"]


async def test_failing_canary_halts_then_rolls_back_and_fails():
    """Seed 001 "Issue: Unexpected Rollback": status.phase RollingBack then Failed; the conditions say which
    metric failed (`kubectl get veritascanary <name> -o jsonpath={.status.conditions}`)."""
    sim, state = await play(canary_scenario())
    sim.advance(5)
    sim.traffic.set_profile("canary", sim.traffic.profile("canary").replace(error_rate=0.08, p99=0.9), sim.clock())
    seen = []
    for _ in range(80):
        sim.advance(0.5)
        st = state.get(CANARIES, NS, "web")["status"]
        if not seen or seen[-1] != st["phase"]:
            seen.append(st["phase"])
    assert seen == ["Progressing", "RollingBack", "Failed"]
    evs = controller_events(state, "VeritasCanary")
    assert [(r, t) for r, t, _ in evs] == [("Started", "Normal"), ("AnalysisFailed", "Warning"),
                                           ("RollingBack", "Warning"), ("Failed", "Warning")]
    assert evs[1][2] == "Halt advancement web: error rate 8% > 1%; p99 latency 900ms > 500ms (failed checks 1/2)"
    assert evs[2][2].startswith("Rolling back web: failed checks threshold reached 2")
    st = state.get(CANARIES, NS, "web")["status"]
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["AnalysisPassing"]["status"] == "False" and "error rate 8% > 1%" in conds["AnalysisPassing"]["message"]
    assert conds["Promoted"]["reason"] == "RolledBack"
    assert st["failedChecks"] == 2 and st["canaryWeight"] == 0 and st["lastAnalysis"]["errorRate"] == 8.0
    assert state.get("deployments", NS, "web-canary")["spec"]["replicas"] == 0
    assert [d["weight"] for d in state.get("virtualservices", NS, "web")["spec"]["http"][0]["route"]] == [100, 0]


async def test_canary_without_metrics_fails_every_analysis():
    """Seed 001 "Issue: Metrics Not Reporting": the canary analysis always fails."""
    sim, state = await play(canary_scenario(canary=", metrics: false"))
    sim.advance(12)
    st = state.get(CANARIES, NS, "web")["status"]
    assert st["lastAnalysis"]["result"] == "Failed"
    assert st["lastAnalysis"]["message"] == "no metrics: the pods' /metrics does not answer"
    sim.advance(20)
    assert state.get(CANARIES, NS, "web")["status"]["phase"] in ("RollingBack", "Failed")


async def test_paused_canary_holds_and_a_new_revision_starts_over():
    sim, state = await play(canary_scenario())
    sim.advance(2)
    state.mutate(CANARIES, NS, "web", lambda o: o["spec"].__setitem__("paused", True))
    sim.advance(40)
    st = state.get(CANARIES, NS, "web")["status"]
    assert (st["phase"], st["canaryWeight"]) == ("Paused", 20) and "lastAnalysis" not in st
    state.mutate(CANARIES, NS, "web", lambda o: o["spec"].__setitem__("paused", False))
    sim.advance(60)
    assert state.get(CANARIES, NS, "web")["status"]["phase"] == "Succeeded"
    # a new canary template: the story starts over
    def new_image(o):
        o["spec"]["replicas"] = 1
        o["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.demo/web:3"
    state.mutate("deployments", NS, "web-canary", new_image)
    sim.advance(10)
    st = state.get(CANARIES, NS, "web")["status"]
    assert (st["phase"], st["canaryWeight"], st["failedChecks"]) == ("Progressing", 20, 0)
    assert [r for r, _, _ in controller_events(state, "VeritasCanary")] == [
        "Started", "Paused", "Resumed", "Advanced", "Advanced", "Promoting", "Succeeded", "NewRevision"]
    # the second start repeats the first event: the recorder counts it, as kube's does
    started = [e for e in state.list("events", NS)[0] if e["reason"] == "Started"
               and e["involvedObject"]["kind"] == "VeritasCanary"]
    assert [(e["message"], e["count"]) for e in started] == [("Starting canary analysis for web-canary, weight 20", 2)]


# ------------------------------------------------------------------------------------- VeritasEnvironment

async def test_switch_not_completing_stalls_at_50_with_both_environments_then_completes():
    """Seed 001 "Issue: Switch Not Completing": status.phase stuck in Switching, both environments receiving
    traffic (`kubectl get svc veritas-spark -o jsonpath={.spec.selector}`), health check failing on the target."""
    seen, events, sim, state = await story("veritas-switch-stuck", 60)
    assert phases(seen) == ["Stable", "Switching"]
    env = state.get(ENVIRONMENTS, NS, "veritas-spark")["status"]
    assert env["switchProgress"] == 50 and env["activeEnvironment"] == "blue" and env["targetEnvironment"] == "green"
    assert env["healthChecks"]["passed"] == 0 and env["healthChecks"]["failed"] >= 9
    conds = {c["type"]: c for c in env["conditions"]}
    assert conds["TargetHealthy"]["message"] == "health check of green failing: error rate 6.20% > 1%"
    assert state.get("services", NS, "veritas-spark")["spec"]["selector"] == {"app": "veritas-spark"}
    # both environments receive traffic: every pod of both is a ready endpoint of the Service and serves requests
    slices = [s for s in state.list("endpointslices", NS)[0]
              if s["metadata"]["labels"]["kubernetes.io/service-name"] == "veritas-spark"]
    served = {e["targetRef"]["name"].rsplit("-", 2)[0] for s in slices for e in s["endpoints"]
              if e["conditions"]["ready"]}
    assert served == {"veritas-spark-blue", "veritas-spark-green"}
    assert all(sim.traffic.pod_rps((NS, p["metadata"]["name"])) > 0
               for p in state.list("pods", NS, label_selector="app=veritas-spark")[0])
    # the controller says so in its log (seed: kubectl logs -l app=veritas-controller | grep -i switch)
    ctl = state.list("pods", NS, label_selector="app=veritas-controller")[0][0]["metadata"]["name"]
    switch_lines = [x for x in sim.pod_logs(NS, ctl, "controller") if "switch" in x.lower()]
    assert any(x.endswith("INFO  switch veritas/veritas-spark: SwitchStarted: Switching veritas-spark from blue to "
                          "green") for x in switch_lines), switch_lines
    assert sum("WARN  switch veritas/veritas-spark: HealthCheckFailed: health check of green failing: error rate "
               "6.20% > 1%" in x for x in switch_lines) >= 9, switch_lines
    assert [r for r, _, _ in events][:3] == ["SwitchStarted", "TrafficSplit", "HealthCheckFailed"]
    # the fix at 90 s: three passing checks, 63 → 76 → 100 %, the Service selects green only
    for _ in range(120):
        sim.advance(0.5)
    env = state.get(ENVIRONMENTS, NS, "veritas-spark")["status"]
    assert (env["phase"], env["switchProgress"], env["activeEnvironment"]) == ("Stable", 100, "green")
    assert state.get("services", NS, "veritas-spark")["spec"]["selector"] == {"app": "veritas-spark",
                                                                              "environment": "green"}
    assert controller_events(state, "VeritasEnvironment")[-1][:2] == ("SwitchCompleted", "Normal")


async def test_switch_times_out_and_goes_back():
    sc = load_scenario("veritas-switch-stuck")
    for m in sc.manifests:
        if m["kind"] == "VeritasEnvironment":
            m["spec"]["switch"]["healthCheck"]["timeout"] = "30s"
    sc.timeline = [s for s in sc.timeline if s.action != "traffic"]
    sim, state = await play(sc)
    sim.advance(20)
    assert state.get(ENVIRONMENTS, NS, "veritas-spark")["status"]["phase"] == "Switching"
    sim.advance(20)
    env = state.get(ENVIRONMENTS, NS, "veritas-spark")["status"]
    assert (env["phase"], env["switchProgress"], env["activeEnvironment"]) == ("Failed", 0, "blue")
    assert env["message"] == ("switch to green did not pass its health check within 30s: veritas-spark back on blue")
    assert state.get("services", NS, "veritas-spark")["spec"]["selector"]["environment"] == "blue"
    assert controller_events(state, "VeritasEnvironment")[-1][:2] == ("SwitchFailed", "Warning")
    # it stays Failed until spec.active changes; back to blue is Stable again
    sim.advance(30)
    assert state.get(ENVIRONMENTS, NS, "veritas-spark")["status"]["phase"] == "Failed"
    state.mutate(ENVIRONMENTS, NS, "veritas-spark", lambda o: o["spec"].__setitem__("active", "blue"))
    sim.advance(1)
    assert state.get(ENVIRONMENTS, NS, "veritas-spark")["status"]["phase"] == "Stable"


async def test_canary_receiving_no_traffic_fails_its_analysis():
    """Seed 001 "Issue: Canary Not Receiving Traffic" (service selector mismatch): canary pods running but no
    requests; the analysis fails for want of traffic ("Traffic too low")."""
    sc = canary_scenario()
    for m in sc.manifests:
        if m["kind"] == "Service":
            m["spec"]["selector"] = {"app": "web", "deployment": "stable"}
    sim, state = await play(sc)
    sim.advance(12)
    st = state.get(CANARIES, NS, "web")["status"]
    assert (st["phase"], st["failedChecks"]) == ("Progressing", 1)
    assert st["lastAnalysis"] == {"time": st["lastAnalysis"]["time"], "result": "Failed", "errorRate": 0.0,
                                  "latencyP99": 0, "requestRate": 0.0,
                                  "message": "no requests reached the pods (0 req/s)"}


async def test_switch_waits_while_the_target_is_not_ready():
    """Seed 001 "Issue: Standby Environment Unhealthy": cannot switch due to an unhealthy target; until green's
    pods are all ready the Service keeps selecting blue only."""
    sc = load_scenario("veritas-switch-stuck")
    from tui.demo.scenario import ImageBehaviour
    sc.images["registry.demo/veritas-spark:0.7.1"] = ImageBehaviour(behaviour="notready", version="0.7.1")
    sim, state = await play(sc)

    def bad_image(o):
        o["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.demo/veritas-spark:0.7.1"
    state.mutate("deployments", NS, "veritas-spark-green", bad_image)
    sim.advance(30)
    env = state.get(ENVIRONMENTS, NS, "veritas-spark")["status"]
    assert env["phase"] == "Switching" and env["switchProgress"] < 40, env
    assert "green pods ready)" in env["message"] and "both" not in env["message"], env["message"]
    conds = {c["type"]: c for c in env["conditions"]}
    assert (conds["TargetHealthy"]["reason"], conds["TargetHealthy"]["message"]) == ("PodsNotReady", "3/4 green pods ready")
    assert state.get("services", NS, "veritas-spark")["spec"]["selector"]["environment"] == "blue"
    assert [r for r, _, _ in controller_events(state, "VeritasEnvironment")] == ["SwitchStarted"]


def test_scenarios_readme_lists_every_scenario_with_what_it_plays():
    import os
    from tui.demo.scenario import SCENARIO_DIR, scenario_names

    text = open(os.path.join(SCENARIO_DIR, "README.md"), encoding="utf-8").read()
    for n in scenario_names():
        assert f"| `{n}` | {load_scenario(n).plays} |" in text, f"tui/demo/scenarios/README.md lacks the row for {n}"


def test_scenario_crds_key_is_checked():
    with pytest.raises(ScenarioError, match=r"crds: expected a list of CRD sets to install, from: veritas"):
        parse_scenario(CANARY.replace("crds: [veritas]", "crds: [argo]") % {"canary": "",
                                                                             "deployments": _deployments()})
    # without crds: the Veritas kinds are unknown to the scenario's manifests
    with pytest.raises(ScenarioError, match='no matches for kind "VeritasCanary"'):
        parse_scenario(CANARY.replace("crds: [veritas]\n", "") % {"canary": "", "deployments": _deployments()})


# ------------------------------------------------------------------------------------ the real kubectl

@pytest.fixture(scope="module")
def kubectl_home(tmp_path_factory):
    kubectl_binary()
    return str(tmp_path_factory.mktemp("kubectl-home"))


def _paused_cluster(scenario: str):
    c = start_cluster(scenario=scenario, speed=1.0, seed=7)
    sim = c.cluster.sim
    on_loop(c, sim.pause)
    return c, sim


def test_kubectl_follows_promotion_stuck_with_the_seeds_commands(kubectl_home):
    c, sim = _paused_cluster("veritas-promotion-stuck")
    try:
        k = Kubectl(kubectl_binary(), c.kubeconfig_path, kubectl_home, namespace=NS)
        on_loop(c, sim.advance, 1)
        # before the canary's pods: 10 % asked, none applied (the seed's "traffic weight set but not effective")
        assert k.run("get", "veritascanary", "-o", "jsonpath={.items[*].spec.trafficWeight}").out == "10"
        assert k.run("get", "veritascanary", "veritas-spark", "-o",
                     "jsonpath={.status.phase} {.status.canaryWeight}").out == "Pending 0"
        on_loop(c, sim.advance, 32)  # between the analyses at about 30 and 35 s
        # seed step: verify traffic weight configuration (the controller steps it); the promotion configuration
        assert k.run("get", "veritascanary", "-o", "jsonpath={.items[*].spec.trafficWeight}").out == "30"
        assert json.loads(k.run("get", "veritascanary", "veritas-spark", "-o", "jsonpath={.spec.promotion}").out) == \
            {"auto": False, "maxWeight": 50, "stepWeight": 10}
        row = k.run("get", "vcanary").out.splitlines()[1].split()
        assert row[:4] == ["veritas-spark", "veritas-spark-canary", "30", "Progressing"], row
        on_loop(c, sim.advance, 37)  # t = 70: waiting at 50 % since about 60 s
        assert k.run("get", "veritascanary", "veritas-spark", "-o",
                     "jsonpath={.status.phase} {.status.canaryWeight}").out == "Progressing 50"
        # the seed's `kubectl get veritascanary -o wide`: asked vs applied weight, failed checks, why
        wide = k.run("get", "veritascanary", "-o", "wide").out.splitlines()
        assert wide[0].split()[:8] == ["NAME", "TARGET", "WEIGHT", "PHASE", "AGE", "DESIRED", "FAILED", "MESSAGE"], wide
        assert wide[1].split()[:3] == ["veritas-spark", "veritas-spark-canary", "50"], wide
        assert wide[1].split()[5:8] == ["50", "0", "Waiting"] and "auto is false" in wide[1], wide
        d = k.run("describe", "veritascanary", "veritas-spark").out
        waiting = [line for line in d.splitlines() if "waiting" in line.lower()]
        assert any("Waiting for approval to promote veritas-spark" in line for line in waiting), d
        assert "WaitingForApproval" in d and "Advance veritas-spark canary weight 50" in d, d
        # the controller's log says why (seed: kubectl logs -l app=veritas-controller --tail=100)
        logs = k.run("logs", "-l", "app=veritas-controller", "--tail=100").out
        assert "INFO  canary veritas/veritas-spark: WaitingForApproval: Waiting for approval to promote" in logs, logs
        assert "INFO  canary veritas/veritas-spark: analysis passed at weight 50: error rate 0.06% <= 1%" in logs, logs
        # approved as the seed says: kubectl annotate
        r = k.run("annotate", "veritascanary", "veritas-spark", "veritas.hearthlink.ai/approved=true")
        assert "annotated" in r.out, r
        on_loop(c, sim.advance, 20)
        assert k.run("get", "veritascanary", "veritas-spark", "-o",
                     "jsonpath={.status.phase} {.status.canaryWeight}").out == "Succeeded 0"
        assert k.run("get", "deploy", "veritas-spark", "-o",
                     "jsonpath={.spec.template.spec.containers[0].image}").out == "registry.demo/veritas-spark:0.6.1"
        conds = json.loads(k.run("get", "veritascanary", "veritas-spark", "-o",
                                 "jsonpath={.status.conditions}").out)
        assert {x["type"]: x["status"] for x in conds} == {"Ready": "True", "Promoted": "True",
                                                          "AnalysisPassing": "True"}
    finally:
        c.stop()


def test_kubectl_follows_switch_not_completing_with_the_seeds_commands(kubectl_home):
    c, sim = _paused_cluster("veritas-switch-stuck")
    try:
        k = Kubectl(kubectl_binary(), c.kubeconfig_path, kubectl_home, namespace=NS)
        on_loop(c, sim.advance, 40)
        assert k.run("get", "veritasenvironment", "veritas-spark", "-o",
                     "jsonpath={.status.phase} {.status.switchProgress}").out == "Switching 50"
        row = k.run("get", "venv").out.splitlines()[1].split()
        assert row[:4] == ["veritas-spark", "green", "Switching", "50"], row
        wide = k.run("get", "veritasenvironment", "-o", "wide").out.splitlines()
        assert wide[0].split() == ["NAME", "ACTIVE", "PHASE", "SWITCH", "AGE", "SERVING", "MESSAGE"], wide
        assert wide[1].split()[5:7] == ["blue", "switching"] and "both environments receive traffic" in wide[1], wide
        assert json.loads(k.run("get", "svc", "veritas-spark", "-o", "jsonpath={.spec.selector}").out) == \
            {"app": "veritas-spark"}
        assert len(k.run("get", "pods", "-l", "environment=green", "-o", "name").out.split()) == 3
        ep = k.run("get", "endpoints", "veritas-spark", "-o", "jsonpath={.subsets[*].addresses[*].ip}").out.split()
        assert len(ep) == 6, ep  # both environments receive traffic
        d = k.run("describe", "veritasenvironment", "veritas-spark").out
        assert "health check of green failing: error rate 6.20% > 1%" in d, d
        logs = k.run("logs", "-l", "app=veritas-controller").out.splitlines()
        switch = [x for x in logs if "switch" in x.lower()]  # | grep -i switch
        assert len(switch) >= 8 and all("veritas/veritas-spark" in x for x in switch), logs
        on_loop(c, sim.advance, 70)  # t = 110: fixed at 90, three passing checks
        assert k.run("get", "venv", "veritas-spark", "-o",
                     "jsonpath={.status.phase} {.status.switchProgress} {.status.activeEnvironment}").out == \
            "Stable 100 green"
        assert json.loads(k.run("get", "svc", "veritas-spark", "-o", "jsonpath={.spec.selector}").out) == \
            {"app": "veritas-spark", "environment": "green"}
    finally:
        c.stop()
