"""The command line as a user meets it: real processes, exit codes, one line on stderr, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from e2e_support import demo_cluster, open_session, until


def lookout(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.pop("KUBECONFIG", None)
    e["HOME"] = e.get("LOOKOUT_TEST_HOME", "/nonexistent-home")  # no user config or kubeconfig leaks in
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=e, stdin=subprocess.DEVNULL)


def one_line_error(p: subprocess.CompletedProcess) -> str:
    err = p.stderr.strip()
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    return err


def test_help_and_version():
    p = lookout("--help")
    assert p.returncode == 0
    for word in ("--app", "--selector", "--kubeconfig", "--context", "--namespace", "--read-only", "demo-cluster",
                 "exit codes"):
        assert word in p.stdout
    v = lookout("--version")
    assert v.returncode == 0 and v.stdout.startswith("lookout ")
    d = lookout("demo-cluster", "--help")
    assert d.returncode == 0 and "--state-dir" in d.stdout and "--scenario" in d.stdout


def test_bad_flag_exits_4():
    p = lookout("--no-such-flag")
    assert p.returncode == 4
    assert "unrecognized arguments: --no-such-flag" in one_line_error(p)
    p = lookout("demo", "--scenario", "nope")
    assert p.returncode == 4 and "invalid choice" in one_line_error(p)
    p = lookout("demo-cluster", "--server-version", "1.12")
    assert p.returncode == 4 and "1.27 to 1.33" in one_line_error(p)
    p = lookout("demo-cluster", "--without-crds", "argo,linkerd")
    assert p.returncode == 4 and "--without-crds: unknown set linkerd (known: argo, flagger" in one_line_error(p)


def test_missing_and_broken_kubeconfig_exit_4(tmp_path):
    p = lookout("--kubeconfig", str(tmp_path / "nope"))
    assert p.returncode == 4 and "nope" in one_line_error(p)
    broken = tmp_path / "broken"
    broken.write_text("apiVersion: v1\nclusters:\n  - name: x\n   cluster: {server: https://x}\n")
    p = lookout("--kubeconfig", str(broken))
    err = one_line_error(p)
    assert p.returncode == 4 and "broken" in err and "line" in err


def _kubeconfig(path, server: str) -> str:
    path.write_text(textwrap.dedent(f"""\
        apiVersion: v1
        kind: Config
        current-context: a
        clusters:
        - name: c
          cluster: {{server: "{server}", insecure-skip-tls-verify: true}}
        users:
        - name: u
          user: {{token: t}}
        contexts:
        - name: a
          context: {{cluster: c, user: u, namespace: demo}}
        - name: b
          context: {{cluster: c, user: u}}
        """))
    return str(path)


def test_unknown_context_exits_4_and_names_the_known_ones(tmp_path):
    kc = _kubeconfig(tmp_path / "kc", "https://127.0.0.1:1")
    p = lookout("--kubeconfig", kc, "--context", "prod")
    err = one_line_error(p)
    assert p.returncode == 4 and "prod" in err and "a" in err and "b" in err


def test_unreachable_api_server_exits_3(tmp_path):
    kc = _kubeconfig(tmp_path / "kc", "https://127.0.0.1:1")
    p = lookout("--kubeconfig", kc, "--app", "checkout")
    err = one_line_error(p)
    assert p.returncode == 3 and "127.0.0.1:1" in err


def test_bad_config_file_names_file_and_line(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("[findings]\nraise_after = 5\nflap_guard = true\n")
    p = lookout("--config", str(cfg), "--kubeconfig", str(tmp_path / "none"))
    err = one_line_error(p)
    assert p.returncode == 4 and f"{cfg}:3" in err and "flap_guard" in err


async def _run_cli_against(cluster, *args: str) -> subprocess.CompletedProcess:
    import asyncio

    return await asyncio.to_thread(lookout, "--kubeconfig", cluster.kubeconfig_path, "--context", "lookout-demo",
                                   *args)


async def test_ambiguous_and_unknown_rollout_exit_4(tmp_path):
    mdir = tmp_path / "m"
    mdir.mkdir()
    (mdir / "other.yaml").write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: checkout, namespace: shop, labels: {app: checkout}}
        spec:
          replicas: 1
          selector: {matchLabels: {app: checkout}}
          template:
            metadata: {labels: {app: checkout}}
            spec:
              containers: [{name: app, image: "registry.demo/checkout:1.4.2"}]
        """))
    async with demo_cluster(scenario="crashloop", manifests_dir=str(mdir)) as cluster:
        p = await _run_cli_against(cluster, "-A", "--app", "checkout")
        err = one_line_error(p)
        assert p.returncode == 4 and "several" in err and "shop" in err and "demo" in err
        p = await _run_cli_against(cluster, "--app", "chekout")
        err = one_line_error(p)
        assert p.returncode == 4 and "did you mean checkout" in err


async def test_picker_lists_candidates_and_switches(tmp_path):
    """crashloop has two Deployments (checkout and its worker): with no --app the user picks one."""
    from tui.app import LookoutApp
    from widgets.picker import RolloutPicker

    async with demo_cluster(scenario="crashloop", speed=1) as cluster:
        session = await open_session(cluster)
        assert session.choice.target is None
        assert {c.name for c in session.choice.candidates} >= {"checkout", "checkout-worker"}
        app = LookoutApp(session)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, RolloutPicker), what="the picker")
            names = [c.name for c in app.screen.candidates]
            for _ in range(names.index("checkout-worker")):
                await pilot.press("down")
            await pilot.press("enter")
            await until(pilot, lambda: session.target.rollout == "checkout-worker", what="the switch")
            await until(pilot, lambda: len(app.pods_pane.table.rows) >= 1, what="the worker's pods")
            assert all(r.name.startswith("checkout-worker") for r in app.pods_pane.table.rows.values())


def test_every_scenario_file_is_offered_by_the_cli():
    from tui.cli import SCENARIOS
    from tui.demo.scenario import scenario_names

    assert sorted(SCENARIOS) == scenario_names()
