"""The demo cluster's controllers, kubelet, traffic model and logs, on a ClusterState without HTTP."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tui.demo.scenario import ScenarioError, parse_scenario
from tui.demo.sim import ManualClock, Simulation
from tui.demo.state import ClusterState

BASE = """
name: unit
plays: "000 test"
app: web
namespace: demo
tracks:
  stable: {image: "registry.demo/web:1"}
  canary: {image: "registry.demo/web:2"}
traffic:
  service: web
  rps: 100
  tracks:
    stable: {error_rate: 0.01, p50: 0.02, p99: 0.2}
    canary: {error_rate: 0.10, p50: 0.05, p99: 0.9}
settings: {endpoint_lag: 2}
manifests:
  - {apiVersion: v1, kind: Namespace, metadata: {name: demo}}
"""


def deployment(name="web", replicas=3, image="registry.demo/web:1", labels=None, env=None, ann=None, **spec):
    labels = labels or {"app": name}
    c = {"name": "app", "image": image, "ports": [{"name": "http", "containerPort": 8080}]}
    if env:
        c["env"] = env
    tm = {"labels": labels}
    if ann:
        tm["annotations"] = ann
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "demo"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": tm, "spec": {"containers": [c]}}, **spec}}


def service(name="web", selector=None):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "demo"},
            "spec": {"selector": selector or {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


async def make(seed=1, extra: str = "", **kw) -> tuple[Simulation, ClusterState]:
    state = ClusterState()
    sim = Simulation(state, scenario=parse_scenario(BASE + extra), seed=seed, speed=1.0, clock=ManualClock(), **kw)
    await sim.start(background=False)
    return sim, state


def pods(state, **labels):
    return [p for p in state.list("pods", "demo")[0]
            if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())]


def ready(p):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or ())


def live(ps):
    return [p for p in ps if not p["metadata"].get("deletionTimestamp")]


async def test_deployment_creates_replicaset_and_ready_pods():
    sim, state = await make()
    sim.load_manifests([deployment(replicas=3)])
    rs = state.list("replicasets", "demo")[0]
    assert len(rs) == 1
    h = rs[0]["metadata"]["labels"]["pod-template-hash"]
    assert rs[0]["metadata"]["name"] == f"web-{h}"
    assert rs[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert rs[0]["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    sim.advance(1)
    ps = pods(state, app="web")
    assert len(ps) == 3 and all(p["metadata"]["labels"]["pod-template-hash"] == h for p in ps)
    assert {p["status"]["phase"] for p in ps} <= {"Pending"}
    sim.advance(8)
    ps = pods(state, app="web")
    assert all(ready(p) for p in ps)
    p = ps[0]
    st = p["status"]
    assert st["podIP"].startswith("10.244.") and st["hostIP"].startswith("172.18.0.")
    assert p["spec"]["nodeName"].startswith("demo-worker-")
    assert {c["type"] for c in st["conditions"]} >= {"Initialized", "Ready", "ContainersReady", "PodScheduled"}
    cs = st["containerStatuses"][0]
    assert cs["containerID"].startswith("containerd://") and "@sha256:" in cs["imageID"]
    assert cs["state"]["running"]["startedAt"] and st["qosClass"] == "BestEffort" and st["startTime"]
    d = state.get("deployments", "demo", "web")
    s = d["status"]
    assert s["replicas"] == s["updatedReplicas"] == s["readyReplicas"] == s["availableReplicas"] == 3
    assert s["observedGeneration"] == d["metadata"]["generation"]
    conds = {c["type"]: c for c in s["conditions"]}
    assert conds["Available"]["status"] == "True"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    reasons = {e["reason"] for e in state.list("events", "demo")[0]}
    assert reasons >= {"ScalingReplicaSet", "SuccessfulCreate", "Scheduled", "Pulling", "Pulled", "Created", "Started"}


async def test_deleted_pod_is_replaced_and_scaling_adds_and_removes():
    sim, state = await make()
    sim.load_manifests([deployment(replicas=3)])
    sim.advance(10)
    victim = pods(state, app="web")[0]["metadata"]["name"]
    state.delete("pods", "demo", victim)  # graceful: Terminating first, then gone, as kubectl delete pod
    assert state.get("pods", "demo", victim)["metadata"].get("deletionTimestamp")
    sim.advance(0.5)
    assert len(live(pods(state, app="web"))) == 3
    assert any(e["reason"] == "Killing" for e in state.list("events", "demo")[0])
    sim.advance(10)
    ps = pods(state, app="web")
    assert victim not in {p["metadata"]["name"] for p in ps} and len(ps) == 3 and all(ready(p) for p in ps)
    state.mutate("deployments", "demo", "web", lambda d: d["spec"].__setitem__("replicas", 5))
    sim.advance(10)
    assert len(pods(state, app="web")) == 5 and all(ready(p) for p in pods(state, app="web"))
    state.mutate("deployments", "demo", "web", lambda d: d["spec"].__setitem__("replicas", 2))
    sim.advance(10)
    assert len(pods(state, app="web")) == 2
    assert any(e["reason"] == "SuccessfulDelete" for e in state.list("events", "demo")[0])
    assert state.get("deployments", "demo", "web")["status"]["availableReplicas"] == 2


async def test_rollout_restart_makes_a_new_replicaset_and_rolls():
    sim, state = await make()
    sim.load_manifests([deployment(replicas=4)])
    sim.advance(10)
    old = {p["metadata"]["name"] for p in pods(state, app="web")}
    state.mutate("deployments", "demo", "web", lambda d: d["spec"]["template"]["metadata"].setdefault(
        "annotations", {}).__setitem__("kubectl.kubernetes.io/restartedAt", "2025-01-01T00:00:00Z"))
    sim.advance(60)
    rss = state.list("replicasets", "demo")[0]
    assert len(rss) == 2
    revs = sorted(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for r in rss)
    assert revs == ["1", "2"]
    new = {p["metadata"]["name"] for p in pods(state, app="web")}
    assert len(new) == 4 and not (new & old)
    s = state.get("deployments", "demo", "web")["status"]
    assert s["updatedReplicas"] == s["availableReplicas"] == s["replicas"] == 4
    assert next(c for c in s["conditions"] if c["type"] == "Progressing")["reason"] == "NewReplicaSetAvailable"


async def test_service_endpoints_follow_selector_after_the_lag():
    sim, state = await make()
    sim.load_manifests([deployment("a", labels={"app": "a", "tier": "web"}),
                        deployment("b", labels={"app": "b", "tier": "web"}), service("web", {"app": "a"})])
    sim.advance(10)

    def members():
        out = set()
        for s in state.list("endpointslices", "demo")[0]:
            if s["metadata"]["labels"]["kubernetes.io/service-name"] == "web":
                assert s["addressType"] == "IPv4" and s["ports"][0]["port"] == 8080
                for e in s["endpoints"]:
                    assert set(e["conditions"]) == {"ready", "serving", "terminating"}
                    assert e["targetRef"]["kind"] == "Pod"
                    out.add(e["targetRef"]["name"])
        return out
    a = {p["metadata"]["name"] for p in pods(state, app="a")}
    b = {p["metadata"]["name"] for p in pods(state, app="b")}
    assert members() == a
    ep = state.get("endpoints", "demo", "web")
    assert {x["targetRef"]["name"] for x in ep["subsets"][0]["addresses"]} == a
    state.mutate("services", "demo", "web", lambda s: s["spec"].__setitem__("selector", {"app": "b"}))
    sim.advance(1)
    assert members() == a  # lag: 2 s in this scenario
    sim.advance(1.5)
    assert members() == b


async def test_missing_config_keys_give_create_container_config_error():
    sim, state = await make()
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "demo"}, "data": {"A": "1"}}
    env = [{"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "B"}}}]
    senv = [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "S"}}}]
    oenv = [{"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "B", "optional": True}}}]
    sim.load_manifests([cm, deployment("x", replicas=1, env=env), deployment("y", replicas=1, env=senv),
                        deployment("z", replicas=1, env=oenv)])
    sim.advance(5)

    def waiting(app):
        return pods(state, app=app)[0]["status"]["containerStatuses"][0]["state"].get("waiting", {})
    assert waiting("x") == {"reason": "CreateContainerConfigError",
                            "message": "couldn't find key B in ConfigMap demo/cfg"}
    assert waiting("y")["message"] == 'secret "nope" not found'
    assert ready(pods(state, app="z")[0])
    ev = [e for e in state.list("events", "demo")[0] if e["reason"] == "Failed" and e["type"] == "Warning"]
    assert any(e["message"] == "Error: couldn't find key B in ConfigMap demo/cfg" for e in ev)
    # the kubelet retries: once the key exists the container starts
    state.mutate("configmaps", "demo", "cfg", lambda c: c["data"].__setitem__("B", "2"))
    sim.advance(30)
    assert ready(pods(state, app="x")[0])


async def test_image_pull_backoff_and_oomkilled():
    sim, state = await make(extra="""
images:
  "registry.demo/missing:9": {behaviour: imagepull}
  "registry.demo/leaky:1": {behaviour: oom, oom_after: 10}
""")
    sim.load_manifests([deployment("pull", replicas=1, image="registry.demo/missing:9"),
                        deployment("leak", replicas=1, image="registry.demo/leaky:1")])
    reasons = set()
    for _ in range(40):
        sim.advance(1)
        w = pods(state, app="pull")[0]["status"]["containerStatuses"][0]["state"].get("waiting", {})
        reasons.add(w.get("reason"))
    assert {"ErrImagePull", "ImagePullBackOff"} <= reasons
    cs = pods(state, app="leak")[0]["status"]["containerStatuses"][0]
    assert cs["restartCount"] >= 1
    assert cs["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert cs["lastState"]["terminated"]["exitCode"] == 137


async def test_same_seed_same_cluster_other_seed_other_names():
    async def snapshot(seed):
        sim, state = await make(seed=seed)
        sim.load_manifests([deployment(replicas=4), service()])
        sim.advance(12)
        return sorted((p["metadata"]["name"], p["status"]["podIP"], p["spec"]["nodeName"]) for p in pods(state))
    a, b, c = await snapshot(5), await snapshot(5), await snapshot(6)
    assert a == b
    assert a != c


async def test_metrics_counters_grow_with_wall_time_parse_and_reset_on_restart():
    sim, state = await make(extra="""
images:
  "registry.demo/web:2": {behaviour: oom, oom_after: 30, ready_after: 1}
""")
    sim.load_manifests([deployment("web", replicas=2, labels={"app": "web", "v": "1"}),
                        deployment("canary", replicas=1, image="registry.demo/web:2", labels={"app": "web", "v": "2"}),
                        service("web", {"app": "web"})])
    sim.advance(8)
    name = pods(state, v="2")[0]["metadata"]["name"]

    def scrape():
        fams = {f.name: f for f in text_string_to_metric_families(sim.pod_metrics_text("demo", name, 8080))}
        assert {"http_requests", "http_request_duration_seconds", "process_cpu_seconds",
                "process_resident_memory_bytes"} <= set(fams)
        total = sum(s.value for s in fams["http_requests"].samples if s.name == "http_requests_total")
        errors = sum(s.value for s in fams["http_requests"].samples
                     if s.name == "http_requests_total" and s.labels["code"].startswith("5"))
        buckets = [s for s in fams["http_request_duration_seconds"].samples if s.name.endswith("_bucket")]
        assert [b.labels["le"] for b in buckets] == ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0",
                                                     "2.5", "5.0", "+Inf"]
        assert [b.value for b in buckets] == sorted(b.value for b in buckets)
        cpu = fams["process_cpu_seconds"].samples[0].value
        return total, errors, cpu
    seen = [scrape()]
    for _ in range(5):
        sim.advance(3)
        seen.append(scrape())
    for (t1, e1, c1), (t2, e2, c2) in zip(seen, seen[1:]):
        assert t2 > t1 and e2 >= e1 and c2 > c1
    # 100 rps over 3 pods, 15 s: about 500 requests, 10 % of them 5xx
    t, e = seen[-1][0] - seen[0][0], seen[-1][1] - seen[0][1]
    assert 400 < t < 600 and 0.07 < e / t < 0.13
    assert sim.pod_usage("demo", name)["app"]["cpu"].endswith("n")
    assert sim.pod_usage("demo", name)["app"]["memory"].endswith("Ki")
    sim.advance(25)  # OOMKilled at 30 s of running, restarted after a short back-off
    for _ in range(30):
        if state.get("pods", "demo", name)["status"]["containerStatuses"][0]["restartCount"] >= 1 and \
                sim.pod_metrics_text("demo", name, 8080):
            break
        sim.advance(1)
    assert scrape()[0] < seen[-1][0]  # a new process counts from zero
    assert sim.pod_metrics_text("demo", name, 9999) is None  # nothing listens there


async def test_logs_tail_previous_follow_and_raw_lines():
    sim, state = await make(extra="""
images:
  "registry.demo/web:2": {behaviour: crash, crash_log: ["ERROR boom: database unreachable"]}
""")
    sim.load_manifests([deployment("web", replicas=1), deployment("bad", replicas=1, image="registry.demo/web:2"),
                        service("web", {"app": "web"})])
    sim.advance(10)
    good = pods(state, app="web")[0]["metadata"]["name"]
    lines = sim.pod_logs("demo", good, "app", False, None, None)
    assert any("starting" in ln for ln in lines) and any("status=200" in ln for ln in lines)
    assert len(sim.pod_logs("demo", good, "app", False, 2, None)) == 2
    bad = pods(state, app="bad")[0]["metadata"]["name"]
    sim.advance(20)
    assert "ERROR boom: database unreachable" in sim.pod_logs("demo", bad, None, True, None, None)[-1]
    with pytest.raises(ValueError):
        sim.pod_logs("demo", good, "sidecar", False, None, None)
    hostile = "[/bold] [@click=app.quit]x[/] \x1b]8;;http://x\x1b\\ \x1bc"
    got = []

    async def follow():
        async for line in sim.follow_logs("demo", good, "app"):
            got.append(line)
            if line == hostile:
                return
    task = asyncio.create_task(follow())
    await asyncio.sleep(0)
    sim.append_log("demo", good, "app", hostile)
    await asyncio.wait_for(task, 2)
    assert got[-1] == hostile


async def test_argo_canary_promote_and_abort_by_patches():
    sim, state = await make()
    ro = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "web", "namespace": "demo"},
          "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "app", "image": "registry.demo/web:1"}]}},
                   "strategy": {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50},
                                                     {"pause": {}}]}}}}
    sim.load_manifests([ro])
    sim.advance(10)
    st = state.get("rollouts", "demo", "web")["status"]
    assert st["phase"] == "Healthy" and st["stableRS"] == st["currentPodHash"]
    assert all(p["metadata"]["labels"]["rollouts-pod-template-hash"] == st["stableRS"] for p in pods(state))
    state.mutate("rollouts", "demo", "web",
                 lambda o: o["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "registry.demo/web:2"))
    sim.advance(15)
    st = state.get("rollouts", "demo", "web")["status"]
    assert st["phase"] == "Paused" and st["currentStepIndex"] == 1 and st["pauseConditions"]
    assert st["canary"]["weights"]["canary"]["weight"] == 25
    # kubectl argo rollouts promote: clears the pause conditions
    state.mutate("rollouts", "demo", "web", lambda o: o["status"].pop("pauseConditions"))
    sim.advance(15)
    st = state.get("rollouts", "demo", "web")["status"]
    assert st["currentStepIndex"] == 3 and st["canary"]["weights"]["canary"]["weight"] == 50
    # kubectl argo rollouts abort: status.abort=true
    state.mutate("rollouts", "demo", "web", lambda o: o["status"].__setitem__("abort", True))
    sim.advance(10)
    st = state.get("rollouts", "demo", "web")["status"]
    assert st["phase"] == "Degraded" and st["canary"]["weights"]["canary"]["weight"] == 0
    assert {p["spec"]["containers"][0]["image"] for p in live(pods(state))} == {"registry.demo/web:1"}
    assert st["message"].startswith("RolloutAborted")


async def test_argo_bluegreen_switches_active_service():
    sim, state = await make()
    ro = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "web", "namespace": "demo"},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "app", "image": "registry.demo/web:1",
                                                         "ports": [{"name": "http", "containerPort": 8080}]}]}},
                   "strategy": {"blueGreen": {"activeService": "web", "previewService": "web-preview",
                                              "autoPromotionEnabled": False, "scaleDownDelaySeconds": 5}}}}
    sim.load_manifests([service("web"), service("web-preview", {"app": "web"}), ro])
    sim.advance(10)
    st = state.get("rollouts", "demo", "web")["status"]
    h1 = st["stableRS"]
    assert st["blueGreen"]["activeSelector"] == h1
    state.mutate("rollouts", "demo", "web",
                 lambda o: o["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "registry.demo/web:2"))
    sim.advance(15)
    st = state.get("rollouts", "demo", "web")["status"]
    h2 = st["currentPodHash"]
    assert st["phase"] == "Paused" and st["blueGreen"]["previewSelector"] == h2
    assert state.get("services", "demo", "web")["spec"]["selector"]["rollouts-pod-template-hash"] == h1
    state.mutate("rollouts", "demo", "web", lambda o: o["status"].pop("pauseConditions"))
    sim.advance(12)
    st = state.get("rollouts", "demo", "web")["status"]
    assert st["phase"] == "Healthy" and st["stableRS"] == h2 and st["blueGreen"]["activeSelector"] == h2
    assert state.get("services", "demo", "web")["spec"]["selector"]["rollouts-pod-template-hash"] == h2
    assert {p["metadata"]["labels"]["rollouts-pod-template-hash"] for p in live(pods(state))} == {h2}


async def test_scale_knobs_ten_thousand_pods_and_churn_stamps_changes():
    state = ClusterState()
    sim = Simulation(state, scenario="healthy-canary", seed=1, pods=10_000, background_pods=300, churn=200.0)
    await sim.start(background=False)  # how fast: bench/ (python -m bench), not a timed test
    assert len(state.list("pods", "demo")[0]) == 10_000
    assert len(state.list("pods")[0]) == 10_300
    assert not [p for p in state.list("pods")[0] if p["metadata"]["namespace"] == "demo"
                and p["metadata"]["labels"].get("app") != "checkout"]
    assert state.count("events") < 50  # no per-pod event spam at start
    sim._on_tick()
    await asyncio.sleep(0.1)
    sim._on_tick()
    stamped = [p for p in state.list("pods", "demo")[0]
               if "lookout.dev/changed-at" in (p["metadata"].get("annotations") or {})]
    assert stamped and sim.status()["churn_changes"] >= 10
    assert abs(float(stamped[0]["metadata"]["annotations"]["lookout.dev/changed-at"]) - time.time()) < 5


async def test_load_manifests_takes_hostile_text_verbatim():
    sim, state = await make()
    hostile = "[bold red]x[/] \x1b[31m \x1b]8;;http://e\x1b\\"
    d = deployment("evil", replicas=1, ann={"demo.lookout.dev/behaviour": "crash",
                                            "demo.lookout.dev/crash-message": hostile})
    d["metadata"]["annotations"] = {"note": hostile}
    sim.load_manifests([d])
    sim.advance(30)
    p = pods(state, app="evil")[0]
    assert state.get("deployments", "demo", "evil")["metadata"]["annotations"]["note"] == hostile
    assert any(hostile in ln for ln in sim.pod_logs("demo", p["metadata"]["name"], "app", True, None, None))


def test_scenario_errors_name_file_and_line(tmp_path):
    from tui.demo.scenario import load_scenario
    f = tmp_path / "broken.yaml"

    def line_of(text, needle):
        return text.splitlines().index(next(ln for ln in text.splitlines() if needle in ln)) + 1

    def error(text):
        f.write_text(text)
        with pytest.raises(ScenarioError) as e:
            load_scenario(str(f))
        return str(e.value)
    base = BASE.replace("name: unit", "name: broken")
    text = base + "timeline:\n  - at: 5\n    promote: web\n  - at: 3\n    say: too early\n"
    msg = error(text)
    assert msg.startswith(f"{f}:{line_of(text, 'at: 3')}:") and "time order" in msg
    text = base.replace("error_rate: 0.10", "error_rate: 3")
    msg = error(text)
    assert msg.startswith(f"{f}:{line_of(text, 'error_rate: 3')}:") and "out of range" in msg
    text = base + "  - {apiVersion: v9, kind: Gizmo, metadata: {name: g}}\n"
    msg = error(text)
    assert msg.startswith(f"{f}:{line_of(text, 'Gizmo')}:") and "Gizmo" in msg
    text = base + "timeline:\n  - at: 1\n    explode: now\n"
    msg = error(text)
    assert msg.startswith(f"{f}:{line_of(text, 'explode')}:") and "unknown key" in msg
    text = base + "  - [unclosed\n"
    assert error(text).startswith(f"{f}:")


async def test_pause_step_and_speed():
    state = ClusterState()
    sim = Simulation(state, scenario="healthy-canary", seed=1, speed=1.0, clock=ManualClock())
    await sim.start(background=False)
    sim.pause()
    assert sim.status()["paused"] and sim.status()["next_step"]["at"] == 5
    sim.step()
    assert sim.status()["steps_done"] == 1 and sim.t >= 5
    ro = state.get("rollouts", "demo", "checkout")
    assert ro["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.5.0")
    sim.set_speed(20)
    assert sim.status()["speed"] == 20
    with pytest.raises(ValueError):
        sim.set_speed(0)
