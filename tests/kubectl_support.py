"""Driving the real kubectl against a demo cluster, for tests/test_kubectl_*.py.

* ``kubectl_binary()`` / ``versioned_kubectls()``: the kubectl on PATH (a dispatcher choosing
  kubectl.1.27 ... kubectl.1.33 beside it from the server's /version) and those versioned binaries.
* ``start_cluster(**kw)``: a demo cluster on port 0 on its own event-loop thread (parallel-safe);
  ``cluster.call(fn, ...)`` runs fn on that loop, where the state lives.
* ``Kubectl``: runs kubectl with argv lists, a timeout and an environment of its own (KUBECONFIG,
  a private HOME so that the discovery/http caches of parallel tests never mix).
* ``seed(cluster)``: the namespace and objects the static tests print (namespace ``kt``).
"""
from __future__ import annotations

import base64
import os
import queue
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from realtools import missing, require_tool

KUBECTL_VERSIONS = ("1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33")
NS = "kt"


def kubectl_binary() -> str:
    return require_tool("kubectl")


def versioned_kubectls() -> dict[str, str]:
    """{"1.27": "/usr/lib/.../kubectl.1.27", ...} for the versioned binaries beside the real kubectl."""
    import shutil
    path = shutil.which("kubectl")
    if path is None:
        return {}
    folder = os.path.dirname(os.path.realpath(path))
    out = {}
    for v in KUBECTL_VERSIONS:
        p = os.path.join(folder, f"kubectl.{v}")
        if os.access(p, os.X_OK):
            out[v] = p
    return out


def versioned_kubectl(version: str) -> str:
    p = versioned_kubectls().get(version)
    if p is None:
        kubectl_binary()  # skip/fail first if there is no kubectl at all
        missing(f"kubectl.{version} (beside the real kubectl)")
    return p  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# the cluster
# --------------------------------------------------------------------------------------------
def start_cluster(**kw: Any):
    """A started DemoClusterThread (port 0). Stop it with ``.stop()``."""
    from tui.demo.cluster import DemoClusterThread

    kw.setdefault("port", 0)
    return DemoClusterThread(**kw).start(timeout=60)


def has_simulation(cluster) -> bool:
    return getattr(cluster.cluster, "sim", None) is not None


def state(cluster):
    return cluster.cluster.state


def on_loop(cluster, fn: Callable, *args, **kw):
    return cluster.call(fn, *args, **kw)


def watches_started(cluster) -> int:
    """How many watches the cluster's state has started so far (monotonic)."""
    return on_loop(cluster, lambda: state(cluster).counters["watches"])


def wait_for_new_watch(cluster, before: int, timeout: float = 15) -> None:
    """Block until a watch beyond the first `before` has started (kubectl's watch is open: a change
    made before that would be folded into the synthetic ADDED event that kubectl skips)."""
    deadline = time.monotonic() + timeout
    while watches_started(cluster) <= before:
        if time.monotonic() > deadline:
            raise AssertionError(f"no new watch within {timeout}s")
        time.sleep(0.05)


# --------------------------------------------------------------------------------------------
# kubectl
# --------------------------------------------------------------------------------------------
@dataclass
class Result:
    args: list[str]
    rc: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"$ kubectl {' '.join(self.args)}\n(rc={self.rc})\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


class Kubectl:
    def __init__(self, binary: str, kubeconfig: str, home: str, namespace: str | None = NS):
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.home = home
        self.namespace = namespace
        os.makedirs(home, exist_ok=True)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "KUBECTL_"))}
        env.update(KUBECONFIG=self.kubeconfig, HOME=self.home, LANG="C.UTF-8", NO_COLOR="1")
        env.pop("HTTPS_PROXY", None)
        env.pop("https_proxy", None)
        return env

    def argv(self, args: list[str], namespace: str | None) -> list[str]:
        ns = self.namespace if namespace == "default-ns" else namespace
        return [self.binary] + (["-n", ns] if ns else []) + list(args)

    def run(self, *args: str, timeout: float = 30, input: str | None = None, check: bool = True,
            namespace: str | None = "default-ns") -> Result:
        argv = self.argv(list(args), namespace)
        try:
            p = subprocess.run(argv, env=self.env(), capture_output=True, text=True, timeout=timeout, input=input)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
            raise AssertionError(f"kubectl {' '.join(args)} timed out after {timeout}s\n{out}\n{err}") from None
        r = Result(list(args), p.returncode, p.stdout, p.stderr)
        if check and r.rc != 0:
            raise AssertionError(f"kubectl failed:\n{r}")
        return r

    def stream(self, *args: str, namespace: str | None = "default-ns") -> "Stream":
        return Stream(self.argv(list(args), namespace), self.env())


class Stream:
    """A long-running kubectl (get -w, logs -f): lines arrive on a queue read by a thread."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        self.argv = argv
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     bufsize=1)
        self.lines: list[str] = []
        self._pos = 0
        self.err: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc.stdout, self._q), daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    @staticmethod
    def _read(f, q) -> None:
        for line in f:
            q.put(line.rstrip("\n"))
        q.put(None)

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            self.err.append(line.rstrip("\n"))

    def expect(self, pattern: str | re.Pattern, timeout: float = 15) -> str:
        """The next line (after the last one matched) matching `pattern`; every line read is kept in .lines."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        while self._pos < len(self.lines):
            line = self.lines[self._pos]
            self._pos += 1
            if rx.search(line):
                return line
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                line = self._q.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self._q.put(None)
                break
            self.lines.append(line)
            self._pos = len(self.lines)
            if rx.search(line):
                return line
        raise AssertionError(f"no line matching {rx.pattern!r} within {timeout}s from {' '.join(self.argv[1:])}\n"
                             f"--- stdout so far:\n" + "\n".join(self.lines) + "\n--- stderr:\n" + "\n".join(self.err))

    def close(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def table_rows(out: str) -> list[list[str]]:
    """kubectl's table output split on runs of 2+ spaces (cells themselves hold single spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in out.strip().splitlines() if line.strip()]


def header_of(out: str) -> list[str]:
    return table_rows(out)[0]


def row_named(out: str, name: str) -> list[str]:
    for r in table_rows(out):
        if r and (r[0] == name or r[0].endswith("/" + name)):
            return r
    raise AssertionError(f"no row {name!r} in:\n{out}")


# --------------------------------------------------------------------------------------------
# objects
# --------------------------------------------------------------------------------------------
def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def _ago(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds))


def seed_objects(ns: str = NS) -> list[dict]:
    """Objects with everything a printer reads, independent of any scenario."""
    labels = {"app": "shop", "tier": "web"}
    container = {"name": "app", "image": "shop:1.4.2", "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                 "env": [{"name": "LOG_LEVEL", "valueFrom": {"configMapKeyRef": {"name": "shop-config",
                                                                                  "key": "LOG_LEVEL"}}}],
                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}
    def pod(name: str, ip: str, cstatus: dict, phase: str = "Running") -> dict:
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
                "spec": {"containers": [container], "nodeName": "kt-node-1", "restartPolicy": "Always"},
                "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "172.18.0.9",
                           "startTime": _ago(300),
                           "conditions": [{"type": "Ready", "status": "True" if cstatus.get("ready") else "False"}],
                           "containerStatuses": [dict({"name": "app", "image": "shop:1.4.2",
                                                       "imageID": "docker.io/library/shop@sha256:abc",
                                                       "containerID": "containerd://0123"}, **cstatus)]}}
    ready = {"ready": True, "started": True, "restartCount": 0, "state": {"running": {"startedAt": _ago(290)}}}
    crash = {"ready": False, "started": False, "restartCount": 4,
             "state": {"waiting": {"reason": "CrashLoopBackOff",
                                   "message": "back-off 40s restarting failed container=app"}},
             "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": _ago(20),
                                          "finishedAt": _ago(15)}}}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "spec": {"finalizers": ["kubernetes"]},
         "status": {"phase": "Active"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shop-config", "namespace": ns},
         "data": {"LOG_LEVEL": "info", "FEATURE_X": "on"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shop-secret", "namespace": ns},
         "type": "Opaque", "data": {"password": _b64("hunter2")}},
        pod("shop-static-a", "10.244.1.11", ready),
        pod("shop-static-b", "10.244.1.12", crash),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop", "namespace": ns},
         "spec": {"type": "ClusterIP", "clusterIP": "10.96.40.10", "clusterIPs": ["10.96.40.10"],
                  "selector": dict(labels),
                  "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}},
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "shop", "namespace": ns},
         "subsets": [{"addresses": [{"ip": "10.244.1.11", "targetRef": {"kind": "Pod", "name": "shop-static-a",
                                                                         "namespace": ns}}],
                      "notReadyAddresses": [{"ip": "10.244.1.12"}],
                      "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "shop-x7k2p", "namespace": ns, "labels": {"kubernetes.io/service-name": "shop"}},
         "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
         "endpoints": [{"addresses": ["10.244.1.11"], "conditions": {"ready": True}},
                       {"addresses": ["10.244.1.12"], "conditions": {"ready": False}}]},
        {"apiVersion": "v1", "kind": "Event",
         "metadata": {"name": "shop-static-b.17f0a1", "namespace": ns},
         "involvedObject": {"kind": "Pod", "name": "shop-static-b", "namespace": ns,
                            "fieldPath": "spec.containers{app}"},
         "reason": "BackOff", "message": "Back-off restarting failed container app in pod shop-static-b",
         "type": "Warning", "count": 7, "firstTimestamp": _ago(240), "lastTimestamp": _ago(12),
         "source": {"component": "kubelet", "host": "kt-node-1"}},
    ]


def seed(cluster, ns: str = NS) -> None:
    st = state(cluster)

    def create_all():
        from tui.demo.state import AlreadyExists
        uids: dict[str, str] = {}
        for obj in seed_objects(ns):
            io = obj.get("involvedObject")
            if io is not None and io.get("name") in uids:
                io["uid"] = uids[io["name"]]     # kubectl describe selects events by involvedObject.uid
            try:
                created = st.create(obj)
            except AlreadyExists:
                continue
            uids[created["metadata"]["name"]] = created["metadata"]["uid"]

    on_loop(cluster, create_all)


def deployment(name: str, ns: str = NS, replicas: int = 2, image: str = "shop:1.4.2") -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns,
                                                                         "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": image,
                                                           "ports": [{"containerPort": 8080}]}]}}}}


# --------------------------------------------------------------------------------------------
# fixtures (imported by the test modules: `from kubectl_support import cluster, kubectl`)
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster(request):
    """A demo cluster per test module (port 0), seeded with seed_objects(); a module may set
    CLUSTER_KWARGS = {...} (scenario, speed, server_version, ...) for start_demo_cluster."""
    kubectl_binary()  # skip/fail before starting anything
    c = start_cluster(**getattr(request.module, "CLUSTER_KWARGS", {}))
    try:
        seed(c)
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def kubectl(cluster, tmp_path_factory) -> Kubectl:
    return Kubectl(kubectl_binary(), cluster.kubeconfig_path, str(tmp_path_factory.mktemp("kubectl-home")))
