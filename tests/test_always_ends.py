"""`lookout status` always ends, and so does start-up: lost cancellations, silent servers, failing exec plugins.

Real processes against the demo cluster over HTTPS (or a TLS server that never answers): exit code, one line on
stderr, never a traceback, within a generous bound.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import textwrap
import time

import pytest
import yaml

from e2e_support import demo_cluster
from link_support import SilentTlsServer, silent_kubeconfig


def lookout(*args: str, timeout: float = 90) -> tuple[subprocess.CompletedProcess, float]:
    e = dict(os.environ)
    e.pop("KUBECONFIG", None)
    e["HOME"] = e.get("LOOKOUT_TEST_HOME", "/nonexistent-home")
    started = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, timeout=timeout,
                       env=e, stdin=subprocess.DEVNULL)
    return p, time.monotonic() - started


def one_line(p: subprocess.CompletedProcess) -> str:
    err = p.stderr.strip()
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    return err


# ---- lost cancellations ------------------------------------------------------------------------------------------

async def test_dns_loop_ends_when_cancelled_in_the_tick_its_wake_up_arrives():
    """The hang of `lookout status`: on Python 3.11 a loop around asyncio.wait_for loses a cancel that arrives in
    the tick its event is set, and Session.stop() waited for ever."""
    from tui.network.monitor import NetworkMonitor

    mon = NetworkMonitor(dns_server="127.0.0.1:9", dns_interval=30.0, dns_timeout=0.2)
    task = asyncio.create_task(mon.run_dns())
    for _ in range(5):
        await asyncio.sleep(0)  # it waits for its wake-up now (no names: no lookups)
    assert mon._loop is not None and not task.done()
    mon._names_changed.set()  # the wake-up and the cancel in the same tick
    task.cancel()
    await asyncio.wait({task}, timeout=2.0)
    assert task.done() and task.cancelled()


async def test_session_stop_ends_even_when_a_task_swallows_its_cancellation():
    from tui.session import cancel_and_wait

    stubborn_cancels = []
    released = False

    async def stubborn():
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if released:
                    raise
                stubborn_cancels.append(1)  # swallowed, as a lost cancellation is

    async def obedient():
        await asyncio.sleep(10)

    a, b = asyncio.create_task(stubborn()), asyncio.create_task(obedient())
    await asyncio.sleep(0)
    started = time.monotonic()
    left = await cancel_and_wait([a, b], 1.0)
    assert time.monotonic() - started < 2.0
    assert left == [a] and b.cancelled() and len(stubborn_cancels) >= 3  # cancelled again and again, then left
    released = True
    a.cancel()
    await asyncio.wait({a}, timeout=1)


# ---- the Argo getting-started shapes -----------------------------------------------------------------------------

ARGO_EXAMPLES = """\
apiVersion: v1
kind: Namespace
metadata: {name: nginx}
---
apiVersion: v1
kind: Service
metadata: {name: rollouts-demo-canary, namespace: nginx}
spec:
  ports: [{port: 80, targetPort: http, protocol: TCP, name: http}]
  selector: {app: rollouts-demo}
---
apiVersion: v1
kind: Service
metadata: {name: rollouts-demo-stable, namespace: nginx}
spec:
  ports: [{port: 80, targetPort: http, protocol: TCP, name: http}]
  selector: {app: rollouts-demo}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: rollouts-demo-stable, namespace: nginx, annotations: {kubernetes.io/ingress.class: nginx}}
spec:
  rules:
  - host: rollouts-demo.local
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: rollouts-demo-stable, port: {name: http}}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: rollouts-demo, namespace: nginx}
spec:
  replicas: 1
  strategy:
    canary:
      canaryService: rollouts-demo-canary
      stableService: rollouts-demo-stable
      trafficRouting:
        nginx: {stableIngress: rollouts-demo-stable}
      steps: [{setWeight: 5}, {pause: {}}]
  revisionHistoryLimit: 2
  selector: {matchLabels: {app: rollouts-demo}}
  template:
    metadata: {labels: {app: rollouts-demo}}
    spec:
      containers:
      - name: rollouts-demo
        image: argoproj/rollouts-demo:blue
        ports: [{name: http, containerPort: 8080, protocol: TCP}]
        resources: {requests: {memory: 32Mi, cpu: 5m}}
---
apiVersion: v1
kind: Namespace
metadata: {name: istio}
---
apiVersion: v1
kind: Service
metadata: {name: rollouts-demo-canary, namespace: istio}
spec:
  ports: [{port: 80, targetPort: http, protocol: TCP, name: http}]
  selector: {app: rollouts-demo}
---
apiVersion: v1
kind: Service
metadata: {name: rollouts-demo-stable, namespace: istio}
spec:
  ports: [{port: 80, targetPort: http, protocol: TCP, name: http}]
  selector: {app: rollouts-demo}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: rollouts-demo-vsvc, namespace: istio}
spec:
  gateways: [rollouts-demo-gateway]
  hosts: ["*"]
  http:
  - name: primary
    route:
    - destination: {host: rollouts-demo-stable}
      weight: 100
    - destination: {host: rollouts-demo-canary}
      weight: 0
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: rollouts-demo, namespace: istio}
spec:
  replicas: 1
  strategy:
    canary:
      canaryService: rollouts-demo-canary
      stableService: rollouts-demo-stable
      trafficRouting:
        istio: {virtualServices: [{name: rollouts-demo-vsvc, routes: [primary]}]}
      steps: [{setWeight: 5}, {pause: {}}]
  selector: {matchLabels: {app: rollouts-demo}}
  template:
    metadata: {labels: {app: rollouts-demo}}
    spec:
      containers:
      - name: rollouts-demo
        image: argoproj/rollouts-demo:blue
        ports: [{name: http, containerPort: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Namespace
metadata: {name: smi}
---
apiVersion: v1
kind: Service
metadata: {name: rollouts-demo-canary, namespace: smi}
spec:
  ports: [{port: 80, targetPort: http, protocol: TCP, name: http}]
  selector: {app: rollouts-demo}
---
apiVersion: v1
kind: Service
metadata: {name: rollouts-demo-stable, namespace: smi}
spec:
  ports: [{port: 80, targetPort: http, protocol: TCP, name: http}]
  selector: {app: rollouts-demo}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: rollouts-demo, namespace: smi}
spec:
  replicas: 1
  strategy:
    canary:
      canaryService: rollouts-demo-canary
      stableService: rollouts-demo-stable
      trafficRouting:
        smi: {rootService: rollouts-demo-root, trafficSplitName: rollouts-demo-traffic-split}
      steps: [{setWeight: 5}, {pause: {}}]
  selector: {matchLabels: {app: rollouts-demo}}
  template:
    metadata: {labels: {app: rollouts-demo}}
    spec:
      containers:
      - name: rollouts-demo
        image: argoproj/rollouts-demo:blue
        ports: [{name: http, containerPort: 8080, protocol: TCP}]
"""


async def test_status_on_the_argo_getting_started_shapes_always_ends(tmp_path):
    mdir = tmp_path / "m"
    mdir.mkdir()
    (mdir / "argo.yaml").write_text(ARGO_EXAMPLES)
    async with demo_cluster(scenario="healthy-canary", manifests_dir=str(mdir)) as cluster:
        for ns in ("nginx", "istio", "smi"):
            for _ in range(2):
                p, took = await asyncio.to_thread(lookout, "status", "--kubeconfig", cluster.kubeconfig_path,
                                                  "--app", "rollouts-demo", "-n", ns, "--json", "--deadline", "30")
                assert took < 40, (ns, took)
                assert p.returncode in (0, 1, 2, 3), (ns, p.returncode, p.stderr)
                out = json.loads(p.stdout)
                if p.returncode == 3:  # the deadline: one line and the error document, never a hang
                    assert "deadline" in one_line(p) and out["exit_code"] == 3
                else:
                    assert out["rollout"]["name"] == "rollouts-demo" and out["namespace"] == ns
                    assert out["exit_code"] == p.returncode


# ---- a server that completes TLS and never answers ---------------------------------------------------------------

@pytest.fixture
async def silent(tmp_path):
    from tui.demo.certs import load_or_generate

    creds = await asyncio.to_thread(load_or_generate, None)
    server = await SilentTlsServer(creds.server_ssl_context()).start()
    try:
        yield server, silent_kubeconfig(creds.ca_pem, server.port, str(tmp_path / "silent.kubeconfig"))
    finally:
        await server.aclose()


async def test_status_against_a_silent_server_ends_with_exit_3_and_the_address(silent):
    server, kc = silent
    p, took = await asyncio.to_thread(lookout, "status", "--kubeconfig", kc, "--app", "checkout", "--json")
    assert p.returncode == 3, p.stderr
    err = one_line(p)
    assert f"127.0.0.1:{server.port}" in err and "did not answer" in err
    assert json.loads(p.stdout) == {"error": err.removeprefix("lookout status: "), "exit_code": 3}
    assert took < 20 and server.connections >= 1


async def test_status_deadline_cuts_a_run_short_with_exit_3(silent):
    _, kc = silent
    p, took = await asyncio.to_thread(lookout, "status", "--kubeconfig", kc, "--app", "checkout", "--deadline", "2")
    assert p.returncode == 3
    err = one_line(p)
    assert "2 s deadline" in err and "connecting to the API server" in err
    assert took < 8 and p.stdout == ""


async def test_app_start_against_a_silent_server_gives_up_within_10_s(silent):
    server, kc = silent
    p, took = await asyncio.to_thread(lookout, "--kubeconfig", kc, "--app", "checkout")
    assert p.returncode == 3
    err = one_line(p)
    assert f"127.0.0.1:{server.port}" in err and "within 10 s" in err
    assert took < 20


def test_status_rejects_a_bad_deadline_with_json_error():
    p, _ = lookout("status", "--deadline", "0", "--json")
    assert p.returncode == 4 and "--deadline" in one_line(p)
    assert json.loads(p.stdout)["exit_code"] == 4


# ---- exec credential plugins -------------------------------------------------------------------------------------

PLUGINS = {
    "fails": ("#!/bin/sh\necho 'login failed: bad password' >&2\nexit 1\n", 4, "failed with exit code 1: login failed"),
    "garbage": ("#!/bin/sh\necho 'hello, not JSON'\n", 4, "not JSON"),
    "no-token": ("#!/bin/sh\necho '{\"apiVersion\": \"client.authentication.k8s.io/v1\", "
                 "\"kind\": \"ExecCredential\", \"status\": {}}'\n", 4, "neither a token nor a client certificate"),
    "missing": (None, 4, "is not installed"),
    "hangs": ("#!/bin/sh\nexec sleep 300\n", 3, "did not answer within 15 seconds"),
}


def _plugin_kubeconfig(tmp_path, cluster, name: str) -> str:
    body, _, _ = PLUGINS[name]
    if body is None:
        cmd = str(tmp_path / "no-such-plugin")
    else:
        cmd = str(tmp_path / f"plugin-{name}.sh")
        with open(cmd, "w") as f:
            f.write(body)
        os.chmod(cmd, stat.S_IRWXU)
    with open(cluster.kubeconfig_path) as f:
        cfg = yaml.safe_load(f)
    for u in cfg["users"]:
        u["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": cmd,
                              "interactiveMode": "IfAvailable"}}
    out = str(tmp_path / f"kc-{name}")
    with open(out, "w") as f:
        yaml.safe_dump(cfg, f)
    return out


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
async def test_exec_plugin_failures_end_with_their_code_and_one_line(tmp_path, plugin):
    _, code, words = PLUGINS[plugin]
    async with demo_cluster(scenario="healthy-canary") as cluster:
        kc = _plugin_kubeconfig(tmp_path, cluster, plugin)
        for argv in (("status", "--kubeconfig", kc, "--app", "checkout"), ("--kubeconfig", kc, "--app", "checkout")):
            p, took = await asyncio.to_thread(lookout, *argv)
            assert p.returncode == code, (argv, p.returncode, p.stderr)
            err = one_line(p)
            assert words in err and "exec plugin" in err, err
            assert took < 30, took


async def test_exec_plugin_that_needs_a_terminal_says_so_without_one(tmp_path):
    """interactiveMode Always with no terminal (CI, stdin not a TTY): one line, exit 4, the plugin never runs."""
    async with demo_cluster(scenario="healthy-canary") as cluster:
        kc = _plugin_kubeconfig(tmp_path, cluster, "fails")
        with open(kc) as f:
            cfg = yaml.safe_load(f)
        marker = tmp_path / "ran"
        with open(tmp_path / "plugin-fails.sh", "w") as f:
            f.write(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
        for u in cfg["users"]:
            u["user"]["exec"]["interactiveMode"] = "Always"
        with open(kc, "w") as f:
            yaml.safe_dump(cfg, f)
        p, _ = await asyncio.to_thread(lookout, "status", "--kubeconfig", kc, "--app", "checkout")
        assert p.returncode == 4 and "needs a terminal" in one_line(p)
        assert not marker.exists()


async def test_wait_ends_early_once_the_rollout_is_aborted():
    """bad-canary at speed 10 aborts at 4.6 s: --wait 60 does not wait 60 s for a decision that cannot change."""
    async with demo_cluster(scenario="bad-canary", speed=10) as cluster:
        await asyncio.sleep(6)
        p, took = await asyncio.to_thread(lookout, "status", "--kubeconfig", cluster.kubeconfig_path,
                                          "--app", "checkout", "--wait", "60", "--json")
        out = json.loads(p.stdout)
        assert out["rollout"]["outcome"] == "aborted" and out["verdict"]["decision"] == "rollback"
        assert p.returncode == 1 and took < 30, took
