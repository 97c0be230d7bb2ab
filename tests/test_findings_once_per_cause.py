"""One finding per cause: a Deployment's pod template has no pod-template hash, so it resolved to no track while
its pods resolved to theirs, and every template-based rule (probes-identical first) spoke twice, once from the
pods and again from the template (tui.network.scope.NetworkScope.templates_by_track)."""

from __future__ import annotations

import asyncio
import subprocess
import time

from e2e_support import demo_cluster
from tui.config import Settings
from tui.kube.config import load_target
from tui.session import Session, resolve_rollout

WEB = """
apiVersion: v1
kind: Namespace
metadata: {name: web}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: registry.demo/web:1
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 5}
          livenessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 5}
"""


async def test_probes_identical_is_reported_once_from_the_pods_not_again_from_the_template():
    async with demo_cluster(scenario="healthy-canary", speed=1) as cluster:
        r = await asyncio.to_thread(subprocess.run, ["/usr/bin/kubectl", "--kubeconfig", cluster.kubeconfig_path,
                                                     "apply", "-f", "-"], input=WEB, capture_output=True, text=True,
                                    timeout=60)
        assert r.returncode == 0, r.stderr
        target = load_target(cluster.kubeconfig_path, "lookout-demo", "web")
        choice = await resolve_rollout(target, app_name="web", selector=None, all_namespaces=False)
        session = Session(target, choice, Settings(), demo=True, kubeconfig_path=cluster.kubeconfig_path,
                          debounce=False)
        session.poll_metrics = False
        await session.start()
        try:
            deadline = time.monotonic() + 20
            while len(session.store.list("pods")) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            session.throttle_derived = False
            found = [f for f in session.assess().findings if f.code == "probes-identical"]
            assert [(f.track, f.objects) for f in found] == [
                ("stable", tuple(sorted(f"Pod/{p['metadata']['name']}" for p in session.store.list("pods"))))], found
        finally:
            await session.stop()
