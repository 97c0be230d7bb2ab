"""The real kubectl observing the simulation: logs (-f, --tail, --previous, -c), top pods, pod proxy /metrics.

Runs the `crashloop` scenario fast, so there are both healthy pods and a container with a previous run.
"""
from __future__ import annotations

import re
import time

import pytest

from kubectl_support import Kubectl, cluster, has_simulation, header_of, on_loop, state, table_rows  # noqa: F401
from kubectl_support import kubectl_binary

pytestmark = pytest.mark.kubectl
CLUSTER_KWARGS = {"scenario": "crashloop", "speed": 20.0}

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


@pytest.fixture(scope="module")
def ns(cluster) -> str:
    if not has_simulation(cluster):
        pytest.fail("the demo cluster runs without its simulation (tui.demo.sim)")
    return cluster.cluster.sim.scenario.namespace


@pytest.fixture(scope="module")
def kc(cluster, ns, tmp_path_factory) -> Kubectl:
    return Kubectl(kubectl_binary(), cluster.kubeconfig_path, str(tmp_path_factory.mktemp("home")), namespace=ns)


def _pods(cluster, ns) -> list[dict]:
    return on_loop(cluster, state(cluster).list, "pods", ns)[0]


def wait_for_pod(cluster, ns, pred, what: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in _pods(cluster, ns):
            if pred(p):
                return p
        time.sleep(0.2)
    raise AssertionError(f"no pod {what} within {timeout}s: "
                         f"{[(p['metadata']['name'], p.get('status', {}).get('phase')) for p in _pods(cluster, ns)]}")


def _ready(p: dict) -> bool:
    cs = (p.get("status") or {}).get("containerStatuses") or []
    return bool(cs) and all(c.get("ready") for c in cs) and not p["metadata"].get("deletionTimestamp")


def _restarted(p: dict) -> bool:
    return any(c.get("restartCount", 0) > 0 and (c.get("lastState") or {}).get("terminated")
               for c in (p.get("status") or {}).get("containerStatuses") or [])


@pytest.fixture(scope="module")
def healthy(cluster, ns) -> dict:
    return wait_for_pod(cluster, ns, _ready, "ready")


def test_logs_tail_and_container(kc: Kubectl, healthy):
    name = healthy["metadata"]["name"]
    container = healthy["spec"]["containers"][0]["name"]
    r = kc.run("logs", name, "--tail=3")
    lines = r.out.strip().splitlines()
    assert len(lines) == 3 and all(LOG_LINE.match(x) for x in lines), r
    r = kc.run("logs", name, "-c", container, "--tail=1")
    assert len(r.out.strip().splitlines()) == 1
    r = kc.run("logs", name, "-c", "no-such-container", check=False)
    assert r.rc != 0 and "no-such-container" in r.err
    r = kc.run("logs", "no-such-pod", check=False)
    assert r.rc != 0 and 'pods "no-such-pod" not found' in r.err


def test_logs_follow(kc: Kubectl, healthy):
    name = healthy["metadata"]["name"]
    with kc.stream("logs", "-f", name, "--tail=1") as s:
        first = s.expect(LOG_LINE, timeout=15)
        later = s.expect(LOG_LINE, timeout=15)        # a line written after kubectl connected
        assert later != first or len(s.lines) >= 2


def test_logs_follow_sends_the_tail_at_once_then_new_lines(kc: Kubectl, healthy):
    name = healthy["metadata"]["name"]
    with kc.stream("logs", "-f", name, "--tail=5") as s:
        tail = [s.expect(LOG_LINE, timeout=15)]
        t0 = time.monotonic()
        tail += [s.expect(LOG_LINE, timeout=15) for _ in range(4)]
        assert time.monotonic() - t0 < 1.0   # in one go, not at the pace new lines are written (~2/s)
        new = s.expect(LOG_LINE, timeout=15)
    # the simulation's lines start with their RFC 3339 time: the tail is in order, the new line after it
    stamps = [line.split()[0] for line in tail + [new]]
    assert stamps == sorted(stamps) and new not in tail


def test_logs_previous(cluster, ns, kc: Kubectl):
    crashed = wait_for_pod(cluster, ns, _restarted, "with a restarted container", timeout=45)
    name = crashed["metadata"]["name"]
    r = kc.run("logs", name, "--previous")
    assert r.out.strip(), r
    ok = wait_for_pod(cluster, ns, lambda p: _ready(p) and not _restarted(p), "ready and never restarted")
    r = kc.run("logs", ok["metadata"]["name"], "--previous", check=False)
    assert r.rc != 0 and "previous terminated container" in r.err


def test_get_pods_watch_follows_the_scenario(cluster, ns, kc: Kubectl):
    """`kubectl get pods -w` prints a line each time the scenario moves a pod (crashloop: the new
    version's pods fail and back off)."""
    with kc.stream("get", "pods", "-w") as w:
        w.expect(r"^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE", timeout=20)
        n_initial = len(_pods(cluster, ns))
        w.expect(r"\s(CrashLoopBackOff|Error|CreateContainerConfigError|ContainerCreating|Running)\s", timeout=30)
        deadline = time.monotonic() + 30
        while len(w.lines) <= n_initial + 1 and time.monotonic() < deadline:
            w.expect(r".", timeout=max(0.1, deadline - time.monotonic()))
        assert len(w.lines) > n_initial + 1, w.lines        # lines beyond the initial list: watch events
        assert sum(1 for line in w.lines if line.startswith("NAME")) == 1


def test_top_pods(kc: Kubectl, healthy):
    r = kc.run("top", "pods")
    assert header_of(r.out) == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    row = [row for row in table_rows(r.out) if row[0] == healthy["metadata"]["name"]]
    assert row and re.fullmatch(r"\d+m", row[0][1]) and re.fullmatch(r"\d+Mi", row[0][2]), r
    r = kc.run("top", "pod", healthy["metadata"]["name"], "--containers")
    assert header_of(r.out) == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]


def test_proxy_metrics(kc: Kubectl, ns, healthy):
    name = healthy["metadata"]["name"]
    port = next((p["containerPort"] for c in healthy["spec"]["containers"] for p in c.get("ports") or []), 8080)
    r = kc.run("get", "--raw", f"/api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/metrics", namespace=None)
    assert "# TYPE http_requests_total counter" in r.out
    assert re.search(r'^http_requests_total\{[^}]*code="200"[^}]*\} \d', r.out, re.M)
    assert "http_request_duration_seconds_bucket" in r.out
    r = kc.run("get", "--raw", f"/api/v1/namespaces/{ns}/pods/no-such-pod:{port}/proxy/metrics", namespace=None,
               check=False)
    assert r.rc != 0
