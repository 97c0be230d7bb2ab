"""Lookout's assessment of Argo's own getting-started manifests (NGINX and Istio) played on the demo cluster: with
the controller keeping the stable ReplicaSet at spec.replicas under trafficRouting (argo-rollouts
utils/replicaset/canary.go CalculateReplicaCountsForTrafficRoutedCanary), no `weights-disagree` critical says the
stable Service has 0 ready endpoints while 95 % of the traffic is sent to it (issue 18's false critical).
"""
from __future__ import annotations

import os

import pytest
import yaml

from assessment_support import Player

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "argo-rollouts", "getting-started")
FILES = {"nginx": ("services.yaml", "ingress.yaml", "rollout.yaml"),
         "istio": ("gateway.yaml", "services.yaml", "multipleVirtualsvc.yaml", "rollout.yaml")}


def scenario_file(tmp_path, guide: str) -> str:
    docs = []
    for f in FILES[guide]:
        with open(os.path.join(FIX, guide, f), encoding="utf-8") as fh:
            docs += [d for d in yaml.safe_load_all(fh) if d]
    name = f"argo-getting-started-{guide}"
    sc = {"name": name, "plays": "argo-rollouts docs/getting-started", "description": f"Argo's {guide} guide",
          "namespace": "demo", "app": "rollouts-demo", "workload": {"kind": "Rollout", "name": "rollouts-demo"},
          "tracks": {"stable": {"image": "argoproj/rollouts-demo:blue"},
                     "canary": {"image": "argoproj/rollouts-demo:yellow"}},
          "traffic": {"service": "rollouts-demo-stable", "rps": 40},
          "manifests": docs,
          "timeline": [{"at": 5, "set_image": {"kind": "Rollout", "name": "rollouts-demo", "container": "rollouts-demo",
                                               "image": "argoproj/rollouts-demo:yellow"}}]}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    return str(path)


@pytest.mark.parametrize("guide", ["nginx", "istio"])
async def test_getting_started_canary_has_no_false_weights_critical(tmp_path, guide):
    """Argo's docs/getting-started/<guide>: replicas 1, setWeight 5, then pause {} (Argo keeps stable 1 + canary 1)."""
    p = await Player(scenario_file(tmp_path, guide)).start()
    try:
        criticals = []
        for _ in range(40):
            a = await p.step(1.0)
            criticals += [(p.t, f.summary) for f in a.findings
                          if f.code == "weights-disagree" and f.severity == "critical"]
        assert criticals == []
        st = p.state.get("rollouts", "demo", "rollouts-demo")["status"]
        assert st["phase"] == "Paused" and st["currentStepIndex"] == 1
        assert st["canary"]["weights"]["canary"]["weight"] == 5 and st["canary"]["weights"]["stable"]["weight"] == 95
        counts = sorted((r["spec"]["replicas"], r["status"].get("availableReplicas", 0))
                        for r in p.state.list("replicasets", "demo")[0])
        assert counts == [(1, 1), (1, 1)]
    finally:
        await p.stop()
