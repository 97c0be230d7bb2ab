"""`lookout diff` and the `b` screen over HTTPS on the demo cluster, and the redaction rule: no Secret value of the
demo, plain or base64, in any output (CLI text and JSON, the screen, the export, the log)."""

from __future__ import annotations

import argparse
import base64
import json
import logging
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from e2e_support import demo_cluster, open_session, until
from tui.app import LookoutApp
from tui.demo.cluster import DemoClusterThread
from tui.diff.cli import add_diff_arguments, run_diff

SCENARIOS = Path(__file__).resolve().parents[1] / "tui" / "demo" / "scenarios"


def parse(argv):
    p = argparse.ArgumentParser(prog="lookout diff")
    add_diff_arguments(p)
    return p.parse_args(argv)


def demo_secret_values() -> set[str]:
    """Every Secret value of every demo scenario, decoded and as its base64."""
    import yaml

    out: set[str] = set()
    for f in SCENARIOS.glob("*.yaml"):
        doc = yaml.safe_load(f.read_text())
        for m in doc.get("manifests") or ():
            if m.get("kind") != "Secret":
                continue
            for k, v in (m.get("data") or {}).items():
                out |= {v, base64.b64decode(v).decode()}
            for k, v in (m.get("stringData") or {}).items():
                out |= {v, base64.b64encode(v.encode()).decode()}
    return out


def test_the_demo_has_secret_values_to_look_for():
    values = demo_secret_values()
    assert {"pk_live_blue_4819", "cGtfbGl2ZV9ibHVlXzQ4MTk=", "s3cr3t-db-pw"} <= values


@pytest.fixture(scope="module")
def drift():
    demo = DemoClusterThread(scenario="config-drift", speed=1.0).start()
    try:
        yield demo
    finally:
        demo.stop()


def run(capsys, *argv) -> tuple[int, str, str]:
    code = run_diff(parse(list(argv)))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_config_drift_text_json_and_switch_check(drift, capsys):
    kc = drift.kubeconfig_path
    code, out, err = run(capsys, "--kubeconfig", kc)
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert lines[:5] == ["--- blue: Deployment demo/checkout-blue", "+++ green: Deployment demo/checkout-green",
                         "state: blue 3/3 ready, green 3/3 ready", "services: blue ← checkout · green ← checkout-preview",
                         "summary: image, 2 env vars, 3 ConfigMap keys, 1 Secret key differ"]
    assert [ln for ln in lines if ln[:1] in "~+-=?" and not ln.startswith(("---", "+++"))] == [
        "~ image: registry.demo/checkout:1.4.2 → registry.demo/checkout:1.5.0",
        "~ env WORKERS: 4 → 8", "+ env FEATURE_NEW_CART: true",
        "~ LOG_LEVEL: info → debug", "- CACHE_TTL: 300", "+ PAYMENTS_TIMEOUT_MS: 800",
        "~ PAYMENTS_API_KEY: differs"]
    code, out, _ = run(capsys, "--kubeconfig", kc, "--app", "checkout", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["identical"] is False
    assert doc["counts"] == {"image": 1, "env": 2, "configmap": 3, "secret": 1}
    assert {(c["kind"], c["field"], c["op"]) for c in doc["changes"]} == {
        ("image", "image", "~"), ("env", "env WORKERS", "~"), ("env", "env FEATURE_NEW_CART", "+"),
        ("configmap", "LOG_LEVEL", "~"), ("configmap", "CACHE_TTL", "-"), ("configmap", "PAYMENTS_TIMEOUT_MS", "+"),
        ("secret", "PAYMENTS_API_KEY", "~")}
    secret = next(c for c in doc["changes"] if c["kind"] == "secret")
    assert secret["a"] is None and secret["b"] is None
    code, out, _ = run(capsys, "--kubeconfig", kc, "--switch-check")
    assert code == 0 and out.startswith("switch blue → green: SAFE")
    assert "  ~ Service checkout: environment=blue → environment=green" in out
    assert "  green: 3/3 pods ready would take the traffic" in out
    code, out, _ = run(capsys, "--kubeconfig", kc, "--switch-check", "--json")
    assert code == 0 and json.loads(out)["switch"]["safe"] is True


def test_named_objects_identical_exit_0_and_usage_errors_exit_4(drift, capsys):
    kc = drift.kubeconfig_path
    code, out, _ = run(capsys, "--kubeconfig", kc, "checkout-blue", "deploy/checkout-blue")
    assert code == 0 and "summary: checkout-blue and checkout-blue are identical" in out
    code, out, _ = run(capsys, "--kubeconfig", kc, "deploy/checkout-blue", "checkout-green")
    assert code == 1 and "summary: image, 2 env vars, 3 ConfigMap keys, 1 Secret key differ" in out
    for argv, says in ((["nope", "checkout-green"], "no Deployment or ReplicaSet named nope in namespace demo"),
                       (["a", "b", "c"], "give two objects"),
                       (["svc/checkout", "checkout-green"], "say deploy/NAME, rs/NAME or a bare name"),
                       (["--app", "checkout", "a", "b"], "exclude each other")):
        code, out, err = run(capsys, "--kubeconfig", kc, *argv)
        assert code == 4 and out == "" and says in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_the_command_line_itself(drift):
    p = subprocess.run([sys.executable, "-m", "tui.cli", "diff", "--kubeconfig", drift.kubeconfig_path, "--json"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 1 and json.loads(p.stdout)["summary"].startswith("image, 2 env vars")
    h = subprocess.run([sys.executable, "-m", "tui.cli", "diff", "--help"], capture_output=True, text=True, timeout=30)
    assert h.returncode == 0 and "--switch-check" in h.stdout and "deploy/NAME" in h.stdout


def test_a_switch_to_green_scaled_to_zero_is_blocked(capsys):
    demo = DemoClusterThread(scenario="bluegreen-switch", speed=0.2).start()  # green scales up at 25 s
    try:
        code, out, _ = run(capsys, "--kubeconfig", demo.kubeconfig_path, "--app", "checkout")
        assert code == 1 and out.splitlines()[4] == "summary: image differs"
        assert "state: blue 3/3 ready, green scaled to 0" in out
        code, out, _ = run(capsys, "--kubeconfig", demo.kubeconfig_path, "--app", "checkout", "--switch-check")
        assert code == 1 and out.startswith("switch blue → green: BLOCKED")
        assert "  ✗ green has no pods (scaled to 0): the switch would leave the Service without endpoints" in out
    finally:
        demo.stop()


def test_a_forbidden_secret_reads_cannot_compare(capsys):
    demo = DemoClusterThread(scenario="config-drift", speed=1.0, forbidden={"secrets"}).start()
    try:
        code, out, _ = run(capsys, "--kubeconfig", demo.kubeconfig_path, "--json")
        doc = json.loads(out)
        assert code == 1 and doc["notes"] == ["Secret checkout-secrets-blue: cannot compare: forbidden"]
        assert doc["counts"] == {"image": 1, "env": 2, "configmap": 3}  # the rest is still compared
    finally:
        demo.stop()


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
    code, out, err = run(capsys, "--kubeconfig", str(kc))
    assert code == 3 and out == "" and err.startswith("lookout diff: ") and len(err.strip().splitlines()) == 1


async def test_the_b_screen_over_https_follows_a_change_and_no_output_holds_a_secret_value(tmp_path, monkeypatch,
                                                                                          caplog, capsys):
    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    seen: list[str] = []
    async with demo_cluster(scenario="config-drift", speed=1) as cluster:
        session = await open_session(cluster, app="checkout")
        app = LookoutApp(session, check_tty=False)
        async with app.run_test(size=(120, 40)) as pilot:
            # the main screen itself says the environments differ, by kind
            await until(pilot, lambda: app.assessment is not None and any(
                f.code == "environments-differ" for f in app.assessment.findings), timeout=20,
                what="the environments-differ finding")
            await pilot.press("b")
            screen = await until(pilot, lambda: type(app.screen).__name__ == "DiffScreen" and app.screen.env
                                 and app.screen, what="the diff screen")
            body = lambda: str(screen.query_one("#diff-body").render())  # noqa: E731
            assert "~ PAYMENTS_API_KEY: differs" in body() and "- CACHE_TTL: 300" in body()
            seen += [body(), screen.title_text(), app.export_screenshot()]
            # a side changes: the screen follows without a key
            def edit(c):
                c["data"]["FEATURE_FLAGS"] = "cart=on"

            cluster.state.mutate("configmaps", "demo", "checkout-config-green", edit)
            await until(pilot, lambda: "+ FEATURE_FLAGS: cart=on" in body(), timeout=10, what="the new key")
            await pilot.press("s")
            await pilot.pause(0.1)
            seen += [body(), app.export_screenshot()]
            await pilot.press("w")
            await pilot.pause(0.1)
            assert "selectors that would change" in body()
            seen += [body(), app.export_screenshot()]
            await pilot.press("e")
            path = await until(pilot, lambda: screen.exported, what="the export")
            assert path.parent == tmp_path and path.name.startswith("lookout-diff-checkout-")
            exported = path.read_text()
            assert "~ PAYMENTS_API_KEY: differs" in exported and "# switch blue → green" in exported
            seen.append(exported)
            await pilot.press("escape")
            await pilot.pause(0.1)
            assert type(app.screen).__name__ == "MainScreen"
            seen.append(app.export_screenshot())
    seen += [r.getMessage() for r in caplog.records] + [capsys.readouterr().out]
    everything = "\n".join(seen)
    for value in demo_secret_values():
        assert value not in everything, "a Secret value reached an output"


def test_no_cli_output_holds_a_secret_value(drift, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    outs = []
    for argv in ([], ["--json"], ["--switch-check"], ["--switch-check", "--json"],
                 ["checkout-blue", "checkout-green", "--json"]):
        outs += list(run(capsys, "--kubeconfig", drift.kubeconfig_path, *argv)[1:])
    outs += [r.getMessage() for r in caplog.records]
    everything = "\n".join(outs)
    assert "PAYMENTS_API_KEY" in everything
    for value in demo_secret_values():
        assert value not in everything
