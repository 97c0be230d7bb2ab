"""Each demo scenario, played fast on a ClusterState with a hand-moved clock, tells its story."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tui.demo.scenario import load_scenario, scenario_names
from tui.demo.sim import ManualClock, Simulation
from tui.demo.state import ClusterState

NS = "demo"


async def play(scenario: str, *, speed: float = 50.0, **kw) -> tuple[Simulation, ClusterState]:
    state = ClusterState()
    sim = Simulation(state, scenario=scenario, seed=7, speed=speed, clock=ManualClock(), **kw)
    await sim.start(background=False)
    return sim, state


def pods(state: ClusterState, **labels) -> list[dict]:
    out = []
    for p in state.list("pods", NS)[0]:
        pl = p["metadata"].get("labels") or {}
        if all(pl.get(k) == v for k, v in labels.items()):
            out.append(p)
    return out


def by_image(state: ClusterState, image: str) -> list[dict]:
    return [p for p in state.list("pods", NS)[0] if p["spec"]["containers"][0]["image"] == image]


def ready(p: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or ())


def slice_pods(state: ClusterState, service: str) -> set[str]:
    out = set()
    for s in state.list("endpointslices", NS)[0]:
        if s["metadata"]["labels"].get("kubernetes.io/service-name") == service:
            out |= {e["targetRef"]["name"] for e in s.get("endpoints") or () if e["conditions"]["ready"]}
    return out


def requests(text: str) -> tuple[float, float]:
    """(all requests, 5xx requests) from one /metrics scrape."""
    total = errors = 0.0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == "http_requests_total":
                total += s.value
                if s.labels["code"].startswith("5"):
                    errors += s.value
    return total, errors


def events(state: ClusterState, reason: str) -> list[dict]:
    return [e for e in state.list("events", NS)[0] if e["reason"] == reason]


def test_every_scenario_loads_and_names_its_seed_section():
    names = scenario_names()
    assert {"healthy-canary", "bad-canary", "bluegreen-switch", "crashloop", "config-drift",
            "canary-no-traffic", "metrics-missing"} <= set(names)
    for n in names:
        sc = load_scenario(n)
        assert sc.plays and sc.plays[:3].isdigit(), n


async def test_healthy_canary_steps_through_weights_and_becomes_healthy():
    sim, state = await play("healthy-canary")
    assert len(pods(state, app="checkout")) == 5  # readable on a screen
    weights, phases = [], []
    for _ in range(400):
        sim.advance(0.5)
        st = state.get("rollouts", NS, "checkout")["status"]
        w = st.get("canary", {}).get("weights", {}).get("canary", {}).get("weight")
        if st.get("currentPodHash") != st.get("stableRS") and w and (not weights or weights[-1] != w):
            weights.append(w)
        if not phases or phases[-1] != st["phase"]:
            phases.append(st["phase"])
        if len(weights) == 4 and st["phase"] == "Healthy":
            break
    assert weights == [10, 25, 50, 100]
    assert phases[-1] == "Healthy" and "Paused" in phases
    st = state.get("rollouts", NS, "checkout")["status"]
    assert st["stableRS"] == st["currentPodHash"]
    assert all(p["spec"]["containers"][0]["image"].endswith(":1.5.0") for p in pods(state, app="checkout"))
    assert {e["reason"] for e in state.list("events", NS)[0]} >= {
        "RolloutUpdated", "RolloutStepCompleted", "RolloutPaused", "RolloutCompleted", "ScalingReplicaSet",
        "SuccessfulCreate", "Scheduled", "Pulling", "Pulled", "Created", "Started", "Killing"}


async def test_bad_canary_error_rate_crosses_five_percent_then_aborts():
    sim, state = await play("bad-canary")
    sim.advance(36)  # the ramp (15 s .. 35 s) is done; the abort comes at 46 s
    canary = by_image(state, "registry.demo/checkout:1.5.0")
    assert canary and all(ready(p) for p in canary)
    name = canary[0]["metadata"]["name"]
    sim.set_speed(1.0)  # rates are wall-clock: scrape 5 wall seconds apart, as Prometheus would
    t1, e1 = requests(sim.pod_metrics_text(NS, name, 8080))
    sim.advance(5)
    t2, e2 = requests(sim.pod_metrics_text(NS, name, 8080))
    assert t2 > t1
    assert (e2 - e1) / (t2 - t1) > 0.05
    stable = by_image(state, "registry.demo/checkout:1.4.2")[0]["metadata"]["name"]
    sim.set_speed(50.0)
    s1 = requests(sim.pod_metrics_text(NS, stable, "http"))
    sim.advance(20)
    ro = state.get("rollouts", NS, "checkout")
    assert ro["status"]["abort"] is True
    assert ro["status"]["phase"] == "Degraded"
    assert "RolloutAborted" in ro["status"]["message"]
    assert ro["status"]["canary"]["weights"]["canary"]["weight"] == 0
    assert not [p for p in by_image(state, "registry.demo/checkout:1.5.0") if not p["metadata"].get("deletionTimestamp")]
    assert len(by_image(state, "registry.demo/checkout:1.4.2")) == 5
    assert events(state, "RolloutAborted")
    assert state.get("analysisruns", NS, "checkout-error-rate-2")["status"]["phase"] == "Failed"
    s2 = requests(sim.pod_metrics_text(NS, stable, "http"))
    assert (s2[1] - s1[1]) / (s2[0] - s1[0]) < 0.01


async def test_bluegreen_switch_moves_endpoints_to_green_and_dns_lags():
    sim, state = await play("bluegreen-switch")
    blue = {p["metadata"]["name"] for p in pods(state, environment="blue")}
    sim.advance(20)
    green = {p["metadata"]["name"] for p in pods(state, environment="green") if ready(p)}
    assert len(green) == 3
    assert slice_pods(state, "checkout") == blue
    assert slice_pods(state, "checkout-preview") == green
    sim.advance(6)  # the selector switches at 25 s; the endpoints follow 3 s later
    assert state.get("services", NS, "checkout")["spec"]["selector"]["environment"] == "green"
    assert slice_pods(state, "checkout") == blue
    sim.advance(4)
    assert slice_pods(state, "checkout") == green
    ep = state.get("endpoints", NS, "checkout")
    assert {a["targetRef"]["name"] for a in ep["subsets"][0]["addresses"]} == green
    green_ips = {p["status"]["podIP"] for p in pods(state, environment="green")}
    assert set(sim.dns_lookup("checkout.demo.lookout.dev")) != green_ips  # DNS still on blue
    sim.advance(25)
    assert set(sim.dns_lookup("checkout.demo.lookout.dev")) == green_ips
    assert sim.status()["dns"]["following"] is True


async def test_crashloop_restarts_grow_with_backoff_events():
    sim, state = await play("crashloop")
    sim.advance(60)
    new = by_image(state, "registry.demo/checkout:1.5.0")
    assert new
    cs = new[0]["status"]["containerStatuses"][0]
    r1 = cs["restartCount"]
    sim.advance(90)
    new = by_image(state, "registry.demo/checkout:1.5.0")
    cs = new[0]["status"]["containerStatuses"][0]
    assert cs["restartCount"] > r1 >= 1
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    backoffs = events(state, "BackOff")
    assert backoffs and any(e["count"] > 1 for e in backoffs)
    assert backoffs[0]["message"].startswith("Back-off restarting failed container app in pod ")
    name = new[0]["metadata"]["name"]
    assert "KeyError: 'DATABASE_URL'" in sim.pod_logs(NS, name, "app", previous=True)
    # the rolling update stalls: old pods keep serving, the progress deadline passes
    assert len(by_image(state, "registry.demo/checkout:1.4.2")) == 4
    d = state.get("deployments", NS, "checkout")
    prog = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    assert prog["reason"] == "ProgressDeadlineExceeded" and prog["status"] == "False"
    # ... and the worker's missing key is the kubelet's CreateContainerConfigError
    worker = [p for p in pods(state, app="checkout-worker") if "1.5.0" in p["spec"]["containers"][0]["image"]][0]
    w = worker["status"]["containerStatuses"][0]["state"]["waiting"]
    assert w["reason"] == "CreateContainerConfigError"
    assert w["message"] == "couldn't find key QUEUE_URL in ConfigMap demo/checkout-config"


async def test_crashloop_waiting_reason_is_crashloopbackoff_at_some_point():
    sim, state = await play("crashloop")
    seen = set()
    for _ in range(120):
        sim.advance(1)
        for p in by_image(state, "registry.demo/checkout:1.5.0"):
            st = (p["status"].get("containerStatuses") or [{}])[0].get("state", {})
            if "waiting" in st:
                seen.add(st["waiting"]["reason"])
    assert "CrashLoopBackOff" in seen


async def test_config_drift_blue_and_green_differ():
    sim, state = await play("config-drift")
    sim.advance(12)
    cb = state.get("configmaps", NS, "checkout-config-blue")["data"]
    cg = state.get("configmaps", NS, "checkout-config-green")["data"]
    assert set(cb) != set(cg) and cb["LOG_LEVEL"] != cg["LOG_LEVEL"]
    sb = state.get("secrets", NS, "checkout-secrets-blue")["data"]
    sg = state.get("secrets", NS, "checkout-secrets-green")["data"]
    assert set(sb) == set(sg)
    assert [k for k in sb if sb[k] != sg[k]] == ["PAYMENTS_API_KEY"]
    db = state.get("deployments", NS, "checkout-blue")["spec"]["template"]["spec"]["containers"][0]
    dg = state.get("deployments", NS, "checkout-green")["spec"]["template"]["spec"]["containers"][0]
    assert db["image"] != dg["image"]
    assert {e["name"] for e in db["env"]} != {e["name"] for e in dg["env"]}
    assert all(ready(p) for p in pods(state, app="checkout")) and len(pods(state, app="checkout")) == 6


async def test_canary_no_traffic_canary_absent_from_endpoints_and_gets_no_requests():
    sim, state = await play("canary-no-traffic")
    sim.advance(20)
    canary = pods(state, deployment="canary")
    assert len(canary) == 1 and ready(canary[0])
    name = canary[0]["metadata"]["name"]
    served = slice_pods(state, "checkout")
    assert name not in served and served == {p["metadata"]["name"] for p in pods(state, deployment="stable")}
    assert slice_pods(state, "checkout-canary") == set()
    sim.set_speed(1.0)
    sim.advance(10)
    total, _ = requests(sim.pod_metrics_text(NS, name, 8080))
    assert total == 0
    stable = pods(state, deployment="stable")[0]["metadata"]["name"]
    assert requests(sim.pod_metrics_text(NS, stable, 8080))[0] > 0


async def test_metrics_missing_canary_metrics_do_not_answer():
    sim, state = await play("metrics-missing")
    sim.advance(40)
    canary = by_image(state, "registry.demo/checkout:1.5.0")
    assert canary and all(ready(p) for p in canary)
    for p in canary:
        assert sim.pod_metrics_text(NS, p["metadata"]["name"], 8080) is None
        assert sim.pod_usage(NS, p["metadata"]["name"]) is not None  # the pod runs; only /metrics is silent
    stable = by_image(state, "registry.demo/checkout:1.4.2")
    assert sim.pod_metrics_text(NS, stable[0]["metadata"]["name"], 8080)
    assert state.get("rollouts", NS, "checkout")["status"]["phase"] == "Paused"


@pytest.mark.parametrize("name", ["healthy-canary", "bad-canary"])
async def test_background_task_plays_at_high_speed(name):
    """The real loop (no hand-moved clock): at speed 100 the canary's first step happens within a second."""
    import asyncio
    state = ClusterState()
    sim = Simulation(state, scenario=name, seed=3, speed=100.0, tick=0.02)
    await sim.start()
    try:
        for _ in range(100):
            await asyncio.sleep(0.02)
            st = state.get("rollouts", NS, "checkout")["status"]
            if st.get("currentStepIndex", 0) >= 1 and st.get("currentPodHash") != st.get("stableRS"):
                break
        assert st["currentStepIndex"] >= 1
    finally:
        await sim.stop()
    assert not sim.errors and not state.callback_errors
