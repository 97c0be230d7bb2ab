"""The demo cluster as a separate process, its control API, and a feed of the changes it stamps."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import orjson
import yaml

BENCH_UA = "lookout-bench/1"  # not "lookout/": the counters keep the bench apart from the app
CHANGED_AT = "lookout.dev/changed-at"

# One stamped change: (stamp = the demo cluster's wall time, pod name, (ready, total, restarts) after it).
Change = tuple[float, str, tuple[int, int, int]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DemoCluster:
    """`lookout demo-cluster` in its own process; ready when it prints its line."""

    def __init__(self, workdir: str, *, pods: int, churn: float, background_pods: int = 0, namespace: str = "demo"):
        self.kubeconfig = os.path.join(workdir, f"kubeconfig-{pods}-{churn:g}-{background_pods}")
        self.port = free_port()
        self.namespace = namespace
        argv = [sys.executable, "-m", "tui.cli", "demo-cluster", "--pods", str(pods), "--churn", f"{churn:g}",
                "--write-kubeconfig", self.kubeconfig, "--port", str(self.port)]
        if background_pods:
            argv += ["--background-pods", str(background_pods)]
        t0 = time.time()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            rest = self.proc.stdout.read() if self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"demo cluster did not start: {line}{rest}")
        self.ready_seconds = time.time() - t0
        threading.Thread(target=self._drain, daemon=True).start()
        with open(self.kubeconfig) as f:
            kc = yaml.safe_load(f)
        self.server = kc["clusters"][0]["cluster"]["server"]
        self.token = kc["users"][0]["user"]["token"]
        self.http = httpx.Client(base_url=self.server, verify=False, timeout=30,
                                 headers={"Authorization": f"Bearer {self.token}", "User-Agent": BENCH_UA})

    def _drain(self) -> None:
        for _ in self.proc.stdout:
            pass

    def pause_timeline(self) -> None:
        """Keep the scenario's own story still (no canary steps), so the pod count stays N; churn goes on."""
        self.http.post("/lookout/v1/pause").raise_for_status()

    def counters(self) -> dict:
        r = self.http.get("/lookout/v1/counters")
        r.raise_for_status()
        return r.json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        try:
            self.http.close()
        except Exception:
            pass


def pod_state(pod: dict) -> tuple[int, int, int]:
    """What READY and RESTARTS show for a pod: ready/total containers, restarts summed."""
    spec = pod.get("spec") or {}
    css = (pod.get("status") or {}).get("containerStatuses") or []
    total = len(spec.get("containers") or ()) or len(css)
    ready = sum(1 for c in css if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in css)
    return ready, total, restarts


class ChangeFeed:
    """Watches the namespace's pods from the bench's own connection and keeps every stamped change.

    A change counts when the `lookout.dev/changed-at` stamp is new and READY or RESTARTS differ from the
    pod's previous state, i.e. when a screen showing the pod must change.
    """

    def __init__(self, cluster: DemoCluster):
        self.cluster = cluster
        self.changes: list[Change] = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._last: dict[str, tuple[str | None, tuple[int, int, int]]] = {}
        r = cluster.http.get(f"/api/v1/namespaces/{cluster.namespace}/pods", params={"limit": 1})
        r.raise_for_status()
        self._rv = r.json()["metadata"]["resourceVersion"]
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="change-feed")
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        c = self.cluster
        params = {"watch": "1", "resourceVersion": self._rv, "allowWatchBookmarks": "false"}
        try:
            with httpx.Client(base_url=c.server, verify=False, timeout=httpx.Timeout(30, read=None),
                              headers={"Authorization": f"Bearer {c.token}", "User-Agent": BENCH_UA}) as h:
                with h.stream("GET", f"/api/v1/namespaces/{c.namespace}/pods", params=params) as r:
                    self._ready.set()
                    for line in r.iter_lines():
                        if self._stop.is_set():
                            return
                        if line:
                            self._event(orjson.loads(line))
        except Exception as e:
            if not self._stop.is_set():
                print(f"bench: change feed stopped: {e!r}", file=sys.stderr)
        finally:
            self._ready.set()

    def _event(self, ev: dict) -> None:
        if ev.get("type") != "MODIFIED":
            return
        pod = ev["object"]
        meta = pod.get("metadata") or {}
        name = meta.get("name", "")
        stamp = (meta.get("annotations") or {}).get(CHANGED_AT)
        st = pod_state(pod)
        prev = self._last.get(name)
        self._last[name] = (stamp, st)
        if stamp is None:
            return
        # the first event of a pod has no known predecessor: churn changes always show, so keep it
        if prev is not None and (prev[0] == stamp or prev[1] == st):
            return
        with self.lock:
            self.changes.append((float(stamp), name, st))

    def stop(self) -> None:
        self._stop.set()
