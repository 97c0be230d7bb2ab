"""The Flagger runbooks run with the real kubectl against the demo cluster over HTTPS, as `lookout runbooks run`
does in a script: a Canary held at a closed confirm-promotion gate, every read step answering, the approval a
manual step (Lookout's own actions are refused on a Canary: Flagger drives it), then the gate opened the demo's
way and the Canary promoted."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from kubectl_support import start_cluster
from realtools import require_tool

KUBECTL = "/usr/bin/kubectl"


def _phase(c) -> str:
    return ((c.call(c.cluster.state.get, "canaries.flagger.app", "test", "podinfo") or {}).get("status") or {}).get(
        "phase", "")


def _until(c, phases: tuple[str, ...], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while (p := _phase(c)) not in phases:
        assert time.monotonic() < deadline, f"the Canary stayed {p!r}, never {phases}"
        time.sleep(0.2)
    return p


@pytest.mark.kubectl
def test_awaiting_approval_runbook_on_a_canary_at_a_closed_gate():
    require_tool("kubectl")
    c = start_cluster(scenario="flagger-podinfo", speed=4)
    try:
        kc = c.kubeconfig_path
        # the load tester's /gate/check stays closed until opened (tui/demo/scenarios/README.md, confirm gates)
        patch = [{"op": "replace", "path": "/spec/analysis/maxWeight", "value": 10},
                 {"op": "add", "path": "/spec/analysis/webhooks/-",
                  "value": {"name": "approve-promotion", "type": "confirm-promotion",
                            "url": "http://flagger-loadtester.test/gate/check"}}]
        r = subprocess.run([KUBECTL, "--kubeconfig", kc, "-n", "test", "patch", "canary", "podinfo", "--type=json",
                            "-p", json.dumps(patch)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        _until(c, ("WaitingPromotion",))

        r = subprocess.run([sys.executable, "-m", "tui.cli", "runbooks", "run", "flagger-awaiting-approval",
                            "--kubeconfig", kc, "--context", "lookout-demo", "-n", "test", "--app", "podinfo"],
                           capture_output=True, text=True, timeout=120)
        out = r.stdout
        assert r.returncode == 0, out + r.stderr
        assert "$ kubectl --context=lookout-demo -n test describe canary podinfo" in out
        assert "Kind:         Canary" in out
        assert "confirm-promotion\tapprove-promotion\thttp://flagger-loadtester.test/gate/check" in out
        # Flagger's own message (pkg/controller/scheduler_hooks.go runConfirmPromotionHooks), reason Synced
        assert "Halt podinfo.test advancement waiting for promotion approval approve-promotion" in out
        assert "by hand: Approval given, then the gate opened" in out
        assert "podinfo   WaitingPromotion" in out  # `kubectl get canary -o wide`: Flagger's STATUS column
        assert "[refused" not in out

        # the manual approval, the demo's way; Flagger goes on at its next interval
        r = subprocess.run([KUBECTL, "--kubeconfig", kc, "-n", "test", "annotate", "canary", "podinfo",
                            "demo.lookout.dev/gate=open"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert _until(c, ("Promoting", "Finalising", "Succeeded")) != "WaitingPromotion"
    finally:
        c.stop()
