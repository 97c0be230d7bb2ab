"""A real Prometheus for the demo: the `prometheus` binary on 127.0.0.1, scraping the demo pods through the demo
cluster's API server, with a temporary config and storage.

How it finds the pods: Prometheus' own Kubernetes service discovery (`kubernetes_sd_configs`, role pod) with
the demo cluster's kubeconfig, so it lists and watches pods through our API server as it would a real one
and follows canary pods as they come and go. Each pod's container port becomes a target whose address is
rewritten to the API server and whose path is the pod proxy (`/api/v1/namespaces/NS/pods/NAME:PORT/proxy/
metrics`), scraped over HTTPS with the cluster's CA and bearer token. Pod labels are mapped onto the series
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


def scrape_config(*, api_server: str, kubeconfig: str, ca_file: str, token_file: str, namespaces: list[str],
                  scrape_interval: float = 1.0, port_name: str | None = None) -> dict:
    host = api_server.split("://", 1)[-1].rstrip("/")
    keep_port = [{"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": port_name,
                  "action": "keep"}] if port_name else [
        {"source_labels": ["__meta_kubernetes_pod_container_port_number"], "regex": ".+", "action": "keep"}]
    interval = f"{max(0.5, scrape_interval):g}s"
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
        "scrape_configs": [{
            "job_name": "lookout-demo-pods",
            "scheme": "https",
            "tls_config": {"ca_file": ca_file},
            "authorization": {"type": "Bearer", "credentials_file": token_file},
            "kubernetes_sd_configs": [{"role": "pod", "kubeconfig_file": kubeconfig,
                                       "namespaces": {"names": namespaces}}],
            "relabel_configs": keep_port + [
                {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Running", "action": "keep"},
                {"source_labels": ["__meta_kubernetes_namespace", "__meta_kubernetes_pod_name",
                                   "__meta_kubernetes_pod_container_port_number"],
                 "regex": "(.+);(.+);(.+)", "target_label": "__metrics_path__",
                 "replacement": "/api/v1/namespaces/${1}/pods/${2}:${3}/proxy/metrics"},
                {"target_label": "__address__", "replacement": host},
                {"action": "labelmap", "regex": "__meta_kubernetes_pod_label_(.+)"},
                {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "instance"},
            ],
        }],
    }


@dataclass
class DemoPrometheus:
    """A running Prometheus; `url` answers /api/v1/query. `stop()` ends it and removes its files."""

    url: str
    port: int
    process: subprocess.Popen
    workdir: str
    config_path: str
    log_path: str
    _stopped: bool = field(default=False)

    def stop(self, timeout: float = 10.0) -> None:
        if self._stopped:
            return
        self._stopped = True
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


def start_demo_prometheus(*, api_server: str, kubeconfig: str, ca_pem: bytes, token: str, namespaces: list[str],
                          binary: str | None = None, port: int = 0, scrape_interval: float = 1.0,
                          extra_config: dict | None = None, ready_timeout: float = 20.0) -> DemoPrometheus:
    """Start Prometheus and return once it is ready (its /-/ready answers 200)."""
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
    cfg = scrape_config(api_server=api_server, kubeconfig=kubeconfig, ca_file=ca_file, token_file=token_file,
                        namespaces=namespaces, scrape_interval=scrape_interval)
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
                          config_path=config_path, log_path=log_path)
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
