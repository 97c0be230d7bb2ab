"""`lookout runbooks`: list, show, validate, and run against the demo cluster with the real kubectl (a separate
process, as a script would run it): exit 2 for a change without --yes or under --read-only, 0 when it ran."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from kubectl_support import start_cluster
from realtools import require_tool


def lookout(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_list_json_says_which_steps_change_the_cluster():
    r = lookout("runbooks", "list", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    crash = next(d for d in doc["runbooks"] if d["id"] == "pods-crashing")
    assert crash["source"].startswith("002_46f568a4e03f01f5.txt")
    assert [s["mutates"] for s in crash["steps"]] == [False, False, False, True]
    assert crash["steps"][0]["run"] == ["kubectl", "describe", "pod", "{pod}"]


def test_show_and_unknown_id():
    r = lookout("runbooks", "show", "canary-no-traffic")
    assert r.returncode == 0 and "1. Check the rollout's status and weights" in r.stdout
    r = lookout("runbooks", "show", "nope")
    assert r.returncode == 4 and "no runbook with id 'nope'" in r.stderr


def test_validate_exit_codes(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("id: ours\ntitle: Ours\nsteps:\n  - {title: t, why: w, run: [kubectl, get, pods]}\n")
    r = lookout("runbooks", "validate", str(good))
    assert r.returncode == 0 and "1 runbook(s) OK: ours" in r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: ours\ntitle: Ours\nsteps:\n  - {title: t, why: w, run: [kubectl, get, '{podz}']}\n")
    r = lookout("runbooks", "validate", str(bad))
    assert r.returncode == 4 and r.stderr.startswith(f"{bad}:4: ") and "{podz}" in r.stderr


@pytest.fixture(scope="module")
def crashloop():
    c = start_cluster(scenario="crashloop", speed=20)
    try:
        time.sleep(2)
        yield c
    finally:
        c.stop()


def _image(c) -> str:
    d = c.call(c.cluster.state.get, "deployments", "demo", "checkout")
    return d["spec"]["template"]["spec"]["containers"][0]["image"]


@pytest.mark.kubectl
def test_run_refuses_changes_without_yes_and_under_read_only_then_acts_with_yes(crashloop):
    require_tool("kubectl")
    where = ["--kubeconfig", crashloop.kubeconfig_path, "--context", "lookout-demo", "-n", "demo", "--app", "checkout"]
    r = lookout("runbooks", "run", "pods-crashing", "--step", "1", *where)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "$ kubectl --context=lookout-demo -n demo describe pod checkout-" in r.stdout and "Name:" in r.stdout
    r = lookout("runbooks", "run", "pods-crashing", *where)  # every step: the last one needs --yes
    assert r.returncode == 2 and "[refused: this step changes the cluster: it needs an explicit yes" in r.stdout
    assert _image(crashloop).endswith(":1.5.0")
    r = lookout("runbooks", "run", "pods-crashing", "--step", "4", "--yes", "--read-only", *where)
    assert r.returncode == 2 and "read-only" in r.stdout and _image(crashloop).endswith(":1.5.0")
    r = lookout("runbooks", "run", "pods-crashing", "--step", "1", "--pod", "x;id", *where)
    assert r.returncode == 4 and "--pod" in r.stderr
    r = lookout("runbooks", "run", "pods-crashing", "--step", "4", "--yes", *where)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rollout undo deployment/checkout" in r.stdout and "rolled back" in r.stdout
    assert _image(crashloop).endswith(":1.4.2")


@pytest.mark.kubectl
def test_run_reports_a_failing_step(crashloop, tmp_path):
    require_tool("kubectl")
    f = tmp_path / "mine.yaml"
    f.write_text("id: missing\ntitle: Missing\nsteps:\n  - {title: t, why: w, run: [kubectl, get, pod, nope-1]}\n")
    r = lookout("runbooks", "run", "missing", "--runbooks", str(f), "--kubeconfig", crashloop.kubeconfig_path,
                "--context", "lookout-demo", "-n", "demo", "--app", "checkout")
    assert r.returncode == 1 and 'pods "nope-1" not found' in r.stdout


@pytest.mark.kubectl
def test_run_writes_its_steps_and_refusals_to_the_incident(crashloop, tmp_path):
    """`--incident DIR`: what `lookout runbooks run` did lands in the shared incident timeline, as from the app."""
    require_tool("kubectl")
    from tui.incident.log import load

    where = ["--kubeconfig", crashloop.kubeconfig_path, "--context", "lookout-demo", "-n", "demo", "--app", "checkout"]
    d = tmp_path / "inc-1"
    r = lookout("runbooks", "run", "pods-crashing", "--step", "1", "--incident", str(d), "--severity", "high", *where)
    assert r.returncode == 0, r.stdout + r.stderr
    r = lookout("runbooks", "run", "pods-crashing", "--step", "4", "--incident", str(d), *where)
    assert r.returncode == 2
    meta, entries, problems = load(d)
    assert meta.severity == "high" and not problems
    kinds = [e.kind for e in entries]
    assert kinds[0] == "opened" and "joined" in kinds, kinds
    step = next(e for e in entries if e.kind == "step")
    assert step.data["runbook"] == "pods-crashing" and step.data["step"] == 1 and step.data["state"] == "ok"
    assert "describe pod checkout-" in step.data["command"] and step.data["output_tail"]
    refused = next(e for e in entries if e.kind == "refused")
    assert refused.data["step"] == 4 and refused.data["mutates"] and "explicit yes" in refused.text
    bad = tmp_path / "afile"
    bad.write_text("")
    r = lookout("runbooks", "run", "pods-crashing", "--step", "1", "--incident", str(bad / "sub"), *where)
    assert r.returncode == 4 and r.stderr.count("\n") == 1 and "incident" in r.stderr, r.stderr
