"""`lookout demo`'s demo cluster as a child process: `lookout demo-cluster`, exactly as a user would run it.

A process rather than a thread: its start-up overlaps the app's own imports on a second core, and the
simulation never competes with the UI for the interpreter lock. It dies with us (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time


class DemoProcessError(Exception):
    pass


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: a dropped SSH session leaves nothing running
    except Exception:
        pass


class DemoClusterProcess:
    def __init__(self, *, scenario: str, speed: float = 1.0, seed: int = 1, pods: int | None = None,
                 background_pods: int = 0, churn: float = 0.0, manifests_dir: str | None = None,
                 server_version: str | None = None, without_crds: "list[str] | None" = None):
        self.workdir = tempfile.mkdtemp(prefix="lookout-demo-")
        self.kubeconfig_path = os.path.join(self.workdir, "kubeconfig")
        self.log_path = os.path.join(self.workdir, "demo-cluster.log")
        argv = [sys.executable, "-m", "tui.cli", "demo-cluster", "--scenario", scenario, "--speed", str(speed),
                "--seed", str(seed), "--background-pods", str(background_pods), "--churn", str(churn),
                "--write-kubeconfig", self.kubeconfig_path]
        if pods is not None:
            argv += ["--pods", str(pods)]
        if manifests_dir:
            argv += ["--manifests", manifests_dir]
        if server_version:
            argv += ["--server-version", server_version]
        if without_crds:
            argv += ["--without-crds", ",".join(without_crds)]
        self.argv = argv
        self.proc: subprocess.Popen | None = None

    def start(self) -> "DemoClusterProcess":
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        log.close()
        return self

    def wait_ready(self, timeout: float = 120.0) -> None:
        """The kubeconfig is written (atomically) once the cluster serves."""
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.kubeconfig_path):
            if self.proc is None or self.proc.poll() is not None:
                raise DemoProcessError(self._last_words() or "the demo cluster exited before it was ready")
            if time.monotonic() > deadline:
                self.stop()
                raise DemoProcessError(f"the demo cluster was not ready after {timeout:.0f}s")
            time.sleep(0.01)

    def _last_words(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                lines = [ln.strip() for ln in f if ln.strip()]
        except OSError:
            return ""
        return lines[-1].removeprefix("lookout demo-cluster: ") if lines else ""

    def stop(self) -> None:
        p = self.proc
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        try:
            for name in os.listdir(self.workdir):
                os.unlink(os.path.join(self.workdir, name))
            os.rmdir(self.workdir)
        except OSError:
            pass
