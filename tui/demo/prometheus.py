"""A real Prometheus for the demo: the `prometheus` binary on 127.0.0.1, scraping the demo pods through the demo
cluster's API server, with a temporary config and storage.

How it finds the pods: a file_sd targets file that we rewrite from the pods list (`follow_pods` lists them
through the API server every second). Debian's prometheus 2.42 package is built without the Kubernetes service
discovery (`kubernetes_sd_configs` is "field not found"), so Prometheus cannot watch the demo cluster itself.
Each running pod's metrics port is a target whose address is the API server and whose `__metrics_path__` is the
pod proxy (`/api/v1/namespaces/NS/pods/NAME:PORT/proxy/metrics`), scraped over HTTPS with the cluster's CA and
bearer token. The target labels are those Kubernetes discovery plus a labelmap of the pod labels would give
(`rollouts-pod-template-hash` -> `rollouts_pod_template_hash`), plus `namespace` and `pod`: the labels the
default query templates group and select by.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field

import yaml


class PrometheusError(Exception):
    """Why the demo Prometheus could not start, in one sentence."""


def find_prometheus() -> str | None:
    return shutil.which("prometheus")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape_config(*, targets_file: str, ca_file: str, token_file: str, scrape_interval: float = 1.0) -> dict:
    interval = f"{max(0.5, scrape_interval):g}s"
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
        "scrape_configs": [{
            "job_name": "lookout-demo-pods",
            "scheme": "https",
            "tls_config": {"ca_file": ca_file},
            "authorization": {"type": "Bearer", "credentials_file": token_file},
            "file_sd_configs": [{"files": [targets_file], "refresh_interval": "1s"}],
        }],
    }


def pod_targets(api_server: str, pods: list[dict]) -> list[dict]:
    """file_sd target groups: one per running pod's metrics port, through the API server's pod proxy.

    The labels are what Prometheus' Kubernetes discovery with a labelmap of the pod labels would give:
    the pod's labels sanitised (`rollouts-pod-template-hash` -> `rollouts_pod_template_hash`), `namespace`,
    `pod` and `instance`.
    """
    import re

    host = api_server.split("://", 1)[-1].rstrip("/")
    groups = []
    for p in pods:
        meta = p.get("metadata") or {}
        if (p.get("status") or {}).get("phase") != "Running" or meta.get("deletionTimestamp"):
            continue
        ann = meta.get("annotations") or {}
        port = ann.get("prometheus.io/port")
        if not port:
            ports = [cp.get("containerPort") for c in (p.get("spec") or {}).get("containers") or ()
                     for cp in c.get("ports") or () if cp.get("containerPort")]
            if not ports:
                continue
            port = ports[0]
        ns, name = meta.get("namespace", "default"), meta.get("name", "")
        labels = {re.sub(r"[^a-zA-Z0-9_]", "_", k): str(v) for k, v in (meta.get("labels") or {}).items()}
        labels.update({"namespace": ns, "pod": name, "instance": name,
                       "__metrics_path__": f"/api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/"
                                           f"{(ann.get('prometheus.io/path') or 'metrics').strip('/')}"})
        groups.append({"targets": [host], "labels": labels})
    return groups


@dataclass
class DemoPrometheus:
    """A running Prometheus; `url` answers /api/v1/query. `stop()` ends it and removes its files."""

    url: str
    port: int
    process: subprocess.Popen
    workdir: str
    config_path: str
    log_path: str
    targets_path: str = ""
    api_server: str = ""
    _stopped: bool = field(default=False)
    _last_targets: str = field(default="")
    _follow: object = field(default=None)  # concurrent.futures.Future of follow_pods on the demo's loop

    def set_pods(self, pods: list[dict]) -> None:
        """Rewrite the targets file (atomically; Prometheus notices within a second) when it changed."""
        import json

        text = json.dumps(pod_targets(self.api_server, pods), sort_keys=True)
        if text == self._last_targets:
            return
        tmp = self.targets_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, self.targets_path)
        self._last_targets = text

    async def follow_pods(self, kube_target, namespaces: list[str], interval: float = 1.0) -> None:
        """Keep the targets in step with the pods, listing them through the API server (until cancelled)."""
        import asyncio

        from tui.kube.client import KubeClient, KubeError

        client = KubeClient(kube_target)
        try:
            while True:
                pods: list[dict] = []
                try:
                    for ns in namespaces:
                        pods += (await client.get_json(f"/api/v1/namespaces/{ns}/pods")).get("items") or []
                    self.set_pods(pods)
                except KubeError:
                    pass  # the cluster is going away or busy: keep the last targets
                await asyncio.sleep(interval)
        finally:
            await client.aclose()

    def stop(self, timeout: float = 10.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._follow is not None:
            self._follow.cancel()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def pause(self) -> None:
        """Tests: freeze the process (a Prometheus that stopped answering)."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def log_tail(self, n: int = 20) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


def start_demo_prometheus(*, api_server: str, ca_pem: bytes, token: str, pods: list[dict] | None = None,
                          binary: str | None = None, port: int = 0, scrape_interval: float = 1.0,
                          extra_config: dict | None = None, ready_timeout: float = 20.0) -> DemoPrometheus:
    """Start Prometheus and return once it is ready (its /-/ready answers 200). Blocking: call it from a thread.

    `pods`: the first targets; keep them current with `set_pods` or `follow_pods`."""
    binary = binary or find_prometheus()
    if not binary:
        raise PrometheusError("the `prometheus` executable is not on PATH (Debian: apt-get install prometheus)")
    workdir = tempfile.mkdtemp(prefix="lookout-prometheus-")
    ca_file = os.path.join(workdir, "ca.pem")
    token_file = os.path.join(workdir, "token")
    for path, data in ((ca_file, ca_pem), (token_file, token.encode())):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    targets_path = os.path.join(workdir, "targets.json")
    with open(targets_path, "w", encoding="utf-8") as f:
        f.write("[]")
    cfg = scrape_config(targets_file=targets_path, ca_file=ca_file, token_file=token_file,
                        scrape_interval=scrape_interval)
    if extra_config:
        cfg.update(extra_config)
    config_path = os.path.join(workdir, "prometheus.yml")
    with open(config_path, "w", encoding="utf-8") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    port = port or free_port()
    log_path = os.path.join(workdir, "prometheus.log")
    log = open(log_path, "wb")
    try:
        proc = subprocess.Popen(
            [binary, f"--config.file={config_path}", f"--storage.tsdb.path={os.path.join(workdir, 'data')}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1d",
             "--web.enable-lifecycle", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as e:
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
        raise PrometheusError(f"cannot run {binary}: {e.strerror or e}") from None
    finally:
        pass
    log.close()
    prom = DemoPrometheus(url=f"http://127.0.0.1:{port}", port=port, process=proc, workdir=workdir,
                          config_path=config_path, log_path=log_path, targets_path=targets_path,
                          api_server=api_server)
    if pods:
        prom.set_pods(pods)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = prom.log_tail()
            prom.stop()
            raise PrometheusError(f"prometheus exited with {proc.returncode}: {tail.strip()[-500:]}")
        try:
            with urllib.request.urlopen(prom.url + "/-/ready", timeout=1) as r:
                if r.status == 200:
                    return prom
        except OSError:
            pass
        time.sleep(0.1)
    prom.stop()
    raise PrometheusError(f"prometheus was not ready after {ready_timeout:g}s")


def start_for_demo(demo, *, scrape_interval: float = 1.0) -> DemoPrometheus:
    """`lookout demo --with-prometheus`: a Prometheus for a running DemoClusterThread, its targets kept current
    on the demo's own event loop. Raises PrometheusError (one sentence) when it cannot start."""
    import asyncio

    from tui.kube.config import load_target

    c = demo.cluster
    prom = start_demo_prometheus(api_server=demo.url, ca_pem=c.ca_pem, token=demo.token,
                                 scrape_interval=scrape_interval)
    ns = getattr(getattr(c.sim, "scenario", None), "namespace", None) or "default"
    target = load_target(demo.kubeconfig_path, "lookout-demo", None)
    prom._follow = asyncio.run_coroutine_threadsafe(prom.follow_pods(target, [ns]), demo._loop)
    return prom


def start_for_kubeconfig(kubeconfig: str, namespace: str, *, context: str | None = None,
                         scrape_interval: float = 1.0) -> DemoPrometheus:
    """`lookout demo --with-prometheus` when the demo cluster is a child process: everything comes from its
    kubeconfig (server, CA, token); the targets are kept current from a daemon thread with its own loop."""
    import asyncio
    import base64
    import threading

    from tui.kube.config import load_target

    with open(kubeconfig, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    ctx_name = context or cfg.get("current-context")
    ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
    if "certificate-authority-data" not in cluster or "token" not in user:
        raise PrometheusError("the demo kubeconfig lacks certificate-authority-data or a token")
    prom = start_demo_prometheus(api_server=cluster["server"], ca_pem=base64.b64decode(cluster["certificate-authority-data"]),
                                 token=user["token"], scrape_interval=scrape_interval)
    target = load_target(kubeconfig, ctx_name, None)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="lookout-demo-prometheus-targets", daemon=True).start()
    prom._follow = asyncio.run_coroutine_threadsafe(prom.follow_pods(target, [namespace]), loop)
    return prom


# ---------------------------------------------------------------- the demo's analysis controller asks it

_POOL = None


def query_pool():
    """Two threads for the demo analysis controller's queries (a query never blocks the API server's loop)."""
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lookout-demo-analysis")
    return _POOL


def query_prometheus(url: str, query: str, timeout: float = 10.0):
    """An instant query, answered as Argo's provider reads it: a float for a scalar, [(labels, value)] for a vector;
    QueryError for an error answer ("bad_data: ...", as the Go client words it), a matrix or no answer."""
    import json
    import urllib.error
    import urllib.parse

    from tui.demo.promql import QueryError

    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/api/v1/query?" + urllib.parse.urlencode({"query": query}),
                                    timeout=timeout) as r:
            doc = json.loads(r.read())
    except urllib.error.HTTPError as e:
        try:
            doc = json.loads(e.read())
        except ValueError:
            raise QueryError(f"server_error: server error: {e.code}") from None
    except (OSError, ValueError) as e:
        raise QueryError(f"Post \"{url}/api/v1/query\": {e}") from None
    if doc.get("status") != "success":
        raise QueryError(f"{doc.get('errorType', 'error')}: {doc.get('error', '')}")
    data = doc.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return float(result[1])
    if kind == "vector":
        return sorted(((s.get("metric") or {}, float(s["value"][1])) for s in result or ()),
                      key=lambda x: sorted(x[0].items()))
    raise QueryError("Prometheus metric type not supported")


def tell_demo_cluster(kubeconfig: str, url: str, *, context: str | None = None) -> None:
    """Point the demo cluster's analysis controller at this Prometheus (`POST /lookout/v1/prometheus?url=`)."""
    import base64
    import ssl
    import urllib.parse

    with open(kubeconfig, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    ctx_name = context or cfg.get("current-context")
    ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
    sslctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    req = urllib.request.Request(f"{cluster['server'].rstrip('/')}/lookout/v1/prometheus?"
                                 + urllib.parse.urlencode({"url": url}), method="POST", data=b"",
                                 headers={"Authorization": f"Bearer {user['token']}"})
    try:
        with urllib.request.urlopen(req, timeout=10, context=sslctx) as r:
            r.read()
    except OSError as e:
        raise PrometheusError(f"the demo cluster did not take the Prometheus URL: {e}") from None
