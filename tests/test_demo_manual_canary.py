"""The manual-canary-named-app scenario: the Kubernetes docs' canary by hand (Deployments `myapp` and `myapp-canary`,
labels app: myapp + track: stable|canary, one Service selecting app: myapp) plays its story, the same for the same
seed, on a ClusterState with a hand-moved clock and through the API with the real kubectl."""
from __future__ import annotations

import json

import pytest

from kubectl_support import Kubectl, kubectl_binary, on_loop, start_cluster
from tui.demo.sim import ManualClock, Simulation
from tui.demo.state import ClusterState

NS = "demo"
OLD, NEW = "registry.demo/myapp:1.0.0", "registry.demo/myapp:1.1.0"


def _ready(p: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions") or ())


def snapshot(sim: Simulation, state: ClusterState) -> tuple:
    """Ready pods per (track, image), the Service's ready endpoints, and the canary's share of requests (%)."""
    pods = [p for p in state.list("pods", NS)[0] if not p["metadata"].get("deletionTimestamp") and _ready(p)]
    counts: dict = {}
    for p in pods:
        k = (p["metadata"]["labels"]["track"], p["spec"]["containers"][0]["image"])
        counts[k] = counts.get(k, 0) + 1
    eps = sum(1 for s in state.list("endpointslices", NS)[0]
              if s["metadata"]["labels"]["kubernetes.io/service-name"] == "myapp"
              for e in s.get("endpoints") or () if e["conditions"]["ready"])
    rps = {p["metadata"]["name"]: sim.traffic.pod_rps((NS, p["metadata"]["name"])) for p in pods}
    total = sum(rps.values())
    canary = sum(r for n, r in rps.items() if n.startswith("myapp-canary-"))
    return tuple(sorted(counts.items())), eps, round(100 * canary / total) if total else None


async def play(seed: int) -> tuple[list, list[str]]:
    state = ClusterState()
    sim = Simulation(state, scenario="manual-canary-named-app", seed=seed, speed=50.0, clock=ManualClock())
    await sim.start(background=False)
    seen = []
    for _ in range(200):
        sim.advance(0.5)
        snap = snapshot(sim, state)
        if not seen or seen[-1][1:] != snap:
            seen.append((sim.t,) + snap)
    assert not sim.errors, sim.errors
    return seen, sorted(p["metadata"]["name"] for p in state.list("pods", NS)[0])


def at(seen: list, t: float) -> tuple[dict, int, int | None]:
    """({(track, image): ready pods}, ready endpoints, canary's share of requests %) at scenario time t."""
    counts, eps, share = [s for s in seen if s[0] <= t][-1][1:]
    return dict(counts), eps, share


async def test_manual_canary_plays_its_story():
    seen, _ = await play(7)
    # before: only the stable Deployment named like the app
    assert at(seen, 4) == ({("stable", OLD): 3}, 3, 0)
    # one canary pod of four behind the one Service: about a quarter of the requests
    assert at(seen, 30) == ({("canary", NEW): 1, ("stable", OLD): 3}, 4, 25)
    # two of five: about 40 %
    assert at(seen, 55) == ({("canary", NEW): 2, ("stable", OLD): 3}, 5, 40)
    # promoted by hand: myapp runs 1.1.0 and the canary is gone
    assert at(seen, 100) == ({("stable", NEW): 3}, 3, 0)
    # during the stable's rolling update, both images serve under track=stable
    assert any(("stable", OLD) in dict(s[1]) and ("stable", NEW) in dict(s[1]) for s in seen)


async def test_manual_canary_same_seed_same_story():
    a, b = await play(11), await play(11)
    assert a == b


def test_kubectl_sees_the_manual_canary(tmp_path):
    kubectl_binary()
    c = start_cluster(scenario="manual-canary-named-app", speed=1.0, seed=7)
    try:
        sim = c.cluster.sim
        on_loop(c, sim.pause)
        k = Kubectl(kubectl_binary(), c.kubeconfig_path, str(tmp_path / "home"), namespace=NS)
        on_loop(c, sim.advance, 20)
        names = k.run("get", "deploy", "-l", "app=myapp", "-o", "jsonpath={.items[*].metadata.name}").out.split()
        assert sorted(names) == ["myapp", "myapp-canary"]
        assert json.loads(k.run("get", "svc", "myapp", "-o", "jsonpath={.spec.selector}").out) == {"app": "myapp"}
        assert len(k.run("get", "pods", "-l", "app=myapp,track=canary", "-o", "name").out.split()) == 1
        assert len(k.run("get", "pods", "-l", "app=myapp,track=stable", "-o", "name").out.split()) == 3
        ips = k.run("get", "endpoints", "myapp", "-o", "jsonpath={.subsets[*].addresses[*].ip}").out.split()
        assert len(ips) == 4, ips
        on_loop(c, sim.advance, 80)  # t = 100
        r = k.run("rollout", "status", "deploy/myapp", "--timeout=5s")
        assert 'deployment "myapp" successfully rolled out' in r.out, r
        assert k.run("get", "deploy", "myapp", "-o", "jsonpath={.spec.template.spec.containers[0].image}").out == NEW
        assert k.run("get", "deploy", "myapp-canary", "-o", "jsonpath={.status.replicas}").out in ("", "0")
    finally:
        c.stop()


@pytest.mark.parametrize("seed", [1, 2])
async def test_manual_canary_names_differ_by_seed_but_story_holds(seed):
    seen, names = await play(seed)
    assert at(seen, 30)[1:] == (4, 25) and at(seen, 100)[1:] == (3, 0)
    assert all(n.startswith("myapp-") for n in names)
