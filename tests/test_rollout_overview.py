"""`lookout status -A`: one line per rollout across namespaces, like `kubectl argo rollouts list rollouts -A`, read
from the workloads' own status (no pod list). A namespace holding a manual canary, a blue/green pair, a `version`
pair and a worker is listed as rollouts, not Deployments, beside the demo scenario's Argo Rollout."""

from __future__ import annotations

import argparse
import json
import subprocess

from kubectl_support import start_cluster
from test_rollout_groups import REVIEWS_V2, SHOP
from tui.status import add_status_arguments, run_status


def _status(argv):
    p = argparse.ArgumentParser()
    add_status_arguments(p)
    return run_status(p.parse_args(argv))


def test_status_all_namespaces_lists_rollouts_not_deployments(capsys):
    c = start_cluster(scenario="healthy-canary", speed=1)
    try:
        for text in (SHOP, REVIEWS_V2):
            r = subprocess.run(["/usr/bin/kubectl", "--kubeconfig", c.kubeconfig_path, "apply", "-f", "-"], input=text,
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
        lists = c.call(lambda: c.cluster.server.counters.by_kind["list"]["requests"])
        assert _status(["--kubeconfig", c.kubeconfig_path, "-A", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)["rollouts"]
        by = {(r["namespace"], r["name"]): r for r in rows}
        assert set(by) == {("demo", "checkout"), ("shop", "myapp"), ("shop", "checkout"), ("shop", "reviews"),
                           ("shop", "worker")}, sorted(by)
        ro = by[("demo", "checkout")]
        assert (ro["kind"], ro["strategy"]) == ("Rollout", "canary") and ro["phase"] in ("Healthy", "Progressing",
                                                                                         "Paused")
        assert by[("shop", "myapp")]["kind"] == "app" and by[("shop", "myapp")]["members"] == ["myapp", "myapp-canary"]
        assert by[("shop", "checkout")]["strategy"] == "bluegreen"
        assert by[("shop", "reviews")]["members"] == ["reviews-v1", "reviews-v2"]
        assert by[("shop", "worker")]["kind"] == "Deployment" and by[("shop", "worker")]["strategy"] == "rolling"
        assert all(r["health"] for r in rows)

        assert _status(["--kubeconfig", c.kubeconfig_path, "-A"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split() == ["NAMESPACE", "NAME", "KIND", "STRATEGY", "STATUS", "STEP", "WEIGHT", "READY",
                                    "MEMBERS"]
        shop = {ln.split()[1]: ln for ln in lines[1:] if ln.startswith("shop ")}
        assert set(shop) == {"myapp", "checkout", "reviews", "worker"}, lines
        assert "bluegreen" in shop["checkout"] and "checkout-blue + checkout-green" in shop["checkout"]
        demo = next(ln for ln in lines if ln.startswith("demo "))
        assert " Rollout " in demo and " canary " in demo and "/6" in demo, demo  # STEP as n/6

        # three lists per overview, Rollouts, Deployments and Flagger's Canaries: no pod list (the workloads' own
        # status only)
        assert c.call(lambda: c.cluster.server.counters.by_kind["list"]["requests"]) == lists + 6
    finally:
        c.stop()
