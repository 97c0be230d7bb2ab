"""`lookout status`: text and JSON reports and exit codes, against the demo cluster over HTTPS."""

from __future__ import annotations

import argparse
import json
import socket

import pytest

from tui.demo.cluster import DemoClusterThread
from tui.status import add_status_arguments, exit_code, run_status


def parse(argv):
    p = argparse.ArgumentParser(prog="lookout status")
    add_status_arguments(p)
    return p.parse_args(argv)


@pytest.fixture
def cluster(request):
    scenario, speed = request.param
    demo = DemoClusterThread(scenario=scenario, speed=speed).start()
    try:
        yield demo
    finally:
        demo.stop()


def fast_config(tmp_path, extra=""):
    p = tmp_path / "config.toml"
    p.write_text("[metrics]\nwindow = 10\ninterval = 1\n" + extra)
    return str(p)


def test_exit_code_worst_wins():
    assert exit_code("promote", []) == 0
    assert exit_code("promote", ["info"]) == 0
    assert exit_code("promote", ["warning"]) == 2
    assert exit_code("hold", []) == 2 and exit_code("no-data", []) == 2
    assert exit_code("hold", ["critical"]) == 1 and exit_code("rollback", ["warning"]) == 1


@pytest.mark.parametrize("cluster", [("bad-canary", 2.0)], indirect=True)
def test_bad_canary_json_is_rollback_exit_1(cluster, tmp_path, capsys):
    import time

    time.sleep(7)  # the timeline at speed 2: canary at 2.5 s, errors and latency from 7.5 s
    code = run_status(parse(["--kubeconfig", cluster.kubeconfig_path, "--app", "checkout", "--json",
                             "--wait", "8", "--config", fast_config(tmp_path)]))
    out = json.loads(capsys.readouterr().out)
    assert code == 1, out["verdict"]
    assert list(out)[:7] == ["context", "namespace", "rollout", "tracks", "verdict", "findings", "metrics"]
    assert out["context"] == "lookout-demo" and out["namespace"] == "demo"
    assert {k: out["rollout"][k] for k in ("kind", "name", "controller")} == {
        "kind": "Rollout", "name": "checkout", "controller": "argo-rollouts"}
    assert out["rollout"]["outcome"] in ("progressing", "paused")  # before the abort
    assert [h["cell"] for h in out["health"]] == ["pods", "rollout", "metrics", "endpoints", "DNS"]
    assert out["health"][2]["level"] == "critical"  # a rollback is never beside a green metrics cell
    names = [t["name"] for t in out["tracks"]]
    assert names == ["stable", "canary"]
    canary = out["tracks"][1]
    assert canary["role"] == "candidate" and len(canary["pods"]) == 1
    assert set(canary["figures"]) == {"request_rate_rps", "error_ratio", "latency_p50_s", "latency_p95_s",
                                      "latency_p99_s", "restarts", "cpu_cores", "memory_bytes"}
    assert out["verdict"]["decision"] == "rollback"
    r = out["verdict"]["reasons"][0]
    assert r["code"] == "latency-above-rollback" and r["values"]["latency_p99_s"] > 0.5 and "histogram_quantile" in r["promql"]
    for f in out["findings"]:
        assert set(f) >= {"code", "severity", "text", "evidence"}
        for e in f["evidence"]:
            assert set(e) == {"kind", "namespace", "name", "field", "value"}


@pytest.mark.parametrize("cluster", [("metrics-missing", 3.0)], indirect=True)
def test_metrics_missing_text_is_no_data_exit_2(cluster, tmp_path, capsys):
    import time

    time.sleep(4)
    code = run_status(parse(["--kubeconfig", cluster.kubeconfig_path, "--app", "checkout",
                             "--config", fast_config(tmp_path)]))
    text = capsys.readouterr().out
    assert code == 2, text
    assert "verdict   NO DATA" in text and "metrics-target-down" in text
    assert text.splitlines()[0].startswith("rollout   Rollout/checkout in demo (context lookout-demo)")
    assert "exit      2" in text


def test_unreachable_cluster_is_exit_3(tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kc = tmp_path / "kubeconfig"
    kc.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}}}]
users: [{{name: u, user: {{token: x}}}}]
contexts: [{{name: c, context: {{cluster: c, user: u, namespace: demo}}}}]
current-context: c
""")
    code = run_status(parse(["--kubeconfig", str(kc), "--app", "checkout"]))
    err = capsys.readouterr().err
    assert code == 3 and err.startswith("lookout status: ") and len(err.strip().splitlines()) == 1


def test_usage_and_config_errors_are_exit_4(tmp_path, capsys):
    bad = tmp_path / "c.toml"
    bad.write_text("[metrics]\nmin_requests = 0\n")
    assert run_status(parse(["--config", str(bad)])) == 4
    assert f"{bad}:2: metrics.min_requests" in capsys.readouterr().err
    assert run_status(parse(["--prometheus", "prom:9090"])) == 4
    assert run_status(parse(["--wait", "-1"])) == 4
    assert run_status(parse(["--kubeconfig", str(tmp_path / "none")])) == 4


@pytest.mark.parametrize("cluster", [("canary-no-traffic", 3.0)], indirect=True)
def test_network_findings_are_in_the_json(cluster, tmp_path, capsys):
    """The canary's labels miss the Service selector: the DNS/endpoints finding names the label and both values."""
    import time

    time.sleep(4)  # the canary comes up at 10 s of scenario time
    code = run_status(parse(["--kubeconfig", cluster.kubeconfig_path, "-l", "app=checkout", "--json",
                             "--config", fast_config(tmp_path)]))
    out = json.loads(capsys.readouterr().out)
    found = {f["code"]: f for f in out["findings"]}
    assert "track-not-selected" in found, sorted(found)
    f = found["track-not-selected"]
    assert f["severity"] in ("critical", "warning") and "canary" in f["text"]
    assert code in (1, 2)
