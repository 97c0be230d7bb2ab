"""A 403 is named, never taken for absence: per-kind RBAC refusals on the demo cluster over HTTPS, in `lookout status`
(text and JSON) and in the app (findings strip, health matrix, pane titles)."""

from __future__ import annotations

import argparse
import json

import pytest

from e2e_support import demo_cluster, open_session, until
from tui.app import LookoutApp
from tui.demo.cluster import DemoClusterThread
from tui.status import add_status_arguments, run_status

USER = "system:serviceaccount:demo:lookout"


def status(cluster, capsys, *argv):
    p = argparse.ArgumentParser(prog="lookout status")
    add_status_arguments(p)
    code = run_status(p.parse_args(["--kubeconfig", cluster.kubeconfig_path, *argv]))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def refusing(request):
    demo = DemoClusterThread(scenario="healthy-canary", speed=5, forbidden=set(request.param)).start()
    try:
        yield demo
    finally:
        demo.stop()


def _by_code(report):
    return {f["code"]: f for f in report["findings"]}


@pytest.mark.parametrize("refusing", [("services", "endpointslices")], indirect=True)
def test_status_names_forbidden_services_and_endpointslices(refusing, capsys):
    code, out, _ = status(refusing, capsys, "--app", "checkout", "--json")
    r = json.loads(out)
    f = _by_code(r)["forbidden-endpoints"]
    assert f["severity"] == "warning" and f["cell"] == "endpoints"
    assert f"Services: forbidden for {USER}" in f["text"] and f"EndpointSlices: forbidden for {USER}" in f["text"]
    health = {h["cell"]: h for h in r["health"]}
    assert health["DNS"]["level"] == "unknown" and health["DNS"]["word"] == "forbidden"
    assert health["endpoints"]["level"] != "healthy" and "forbidden" in health["endpoints"]["detail"]
    sources = {s["source"]: s["state"] for s in r["sources"]}
    assert sources["services"] == "forbidden" and sources["endpointslices"] == "forbidden"
    assert code == r["exit_code"] and code >= 2  # it cannot decide: never 0
    # the text says so too
    code2, text, _ = status(refusing, capsys, "--app", "checkout")
    assert "forbidden-endpoints" in text and "DNS forbidden" in text and code2 >= 2


@pytest.mark.parametrize("refusing", [("rollouts",)], indirect=True)
def test_status_names_forbidden_rollouts_rather_than_silently_using_labels(refusing, capsys):
    code, out, _ = status(refusing, capsys, "--app", "checkout", "--json")
    r = json.loads(out)
    f = _by_code(r)["forbidden-rollout"]
    assert f["severity"] == "warning" and f["cell"] == "rollout"
    assert f"Rollouts: forbidden for {USER}" in f["text"] and "selected by label" in f["text"]
    assert {h["cell"]: h["level"] for h in r["health"]}["rollout"] == "degraded"
    assert code == 2


@pytest.mark.parametrize("refusing", [("pods",)], indirect=True)
def test_status_names_forbidden_pods_and_no_blind_findings(refusing, capsys):
    code, out, _ = status(refusing, capsys, "--app", "checkout", "--json")
    r = json.loads(out)
    codes = _by_code(r)
    f = codes["forbidden-pods"]
    assert f["severity"] == "warning" and f["cell"] == "pods" and f"Pods: forbidden for {USER}" in f["text"]
    # no pod may be seen, so none is "missing": no Service is said to select no pods
    assert "service-selects-no-pods" not in codes and "no-ready-endpoints" not in codes
    assert code == 2 and r["verdict"]["decision"] != "promote"


@pytest.mark.parametrize("refusing", [("pods", "rollouts")], indirect=True)
def test_status_says_refused_not_absent_when_the_rollout_cannot_be_found(refusing, capsys):
    code, out, err = status(refusing, capsys, "--app", "checkout", "--json")
    assert code == 2
    line = err.strip()
    assert len(line.splitlines()) == 1 and "no Rollout" not in line
    assert "cannot tell whether checkout exists" in line
    assert f"Rollouts in namespace demo: forbidden for {USER}" in line and f"Pods in namespace demo: forbidden" in line
    assert json.loads(out)["exit_code"] == 2


async def test_app_names_forbidden_services_in_the_network_pane_matrix_and_strip():
    async with demo_cluster(scenario="healthy-canary", speed=5, forbidden={"services", "endpointslices"}) as cluster:
        session = await open_session(cluster)
        app = LookoutApp(session)
        async with app.run_test(size=(120, 40)) as pilot:
            network = app.query_one("#network")
            await until(pilot, lambda: "forbidden" in network.staleness, timeout=15, what="the pane title")
            await until(pilot, lambda: app.assessment is not None and any(
                f.code == "forbidden-endpoints" for f in app.assessment.findings), timeout=20, what="the finding")
            strip = app.query_one("#findings")
            await until(pilot, lambda: "forbidden-endpoints" in str(strip._last), timeout=5, what="the strip")
            matrix = str(app.query_one("#health")._last)
            assert "DNS" in matrix and "forbidden" in matrix.split("DNS", 1)[1]
            await until(pilot, lambda: network.view is not None and any(
                f.code == "forbidden-endpoints" for f in network.view.findings), timeout=5, what="the pane body")
            from widgets.network import summary_text

            body = summary_text(network.view).plain
            assert "No Service selects" not in body and "No network findings" not in body
            assert "forbidden-endpoints" in body
            assert f"Services: forbidden for {USER}" in network.view.findings[0].summary


async def test_app_names_forbidden_rollouts_and_pods():
    async with demo_cluster(scenario="healthy-canary", speed=5, forbidden={"rollouts"}) as cluster:
        session = await open_session(cluster, app="checkout")
        assert session.choice.forbidden.keys() == {"rollouts"}
        app = LookoutApp(session)
        async with app.run_test(size=(120, 40)) as pilot:
            strip = app.query_one("#findings")
            await until(pilot, lambda: "forbidden-rollout" in str(strip._last), timeout=20, what="the strip")
            assert "Rollouts: forbidden for" in str(strip._last)
    async with demo_cluster(scenario="healthy-canary", speed=5, forbidden={"pods"}) as cluster:
        session = await open_session(cluster, app="checkout")
        app = LookoutApp(session)
        async with app.run_test(size=(120, 40)) as pilot:
            pods = app.pods_pane
            await until(pilot, lambda: "forbidden" in pods.staleness, timeout=15, what="the pods pane title")
            strip = app.query_one("#findings")
            await until(pilot, lambda: "forbidden-pods" in str(strip._last), timeout=20, what="the strip")
            assert "service-selects-no-pods" not in str(strip._last)


@pytest.mark.parametrize("refusing", [("events",)], indirect=True)
def test_status_names_forbidden_events_as_info_and_still_decides(refusing, capsys):
    """Events are not needed for the verdict: refused, they are named (info), the rest is judged as usual."""
    code, out, _ = status(refusing, capsys, "--app", "checkout", "--json")
    r = json.loads(out)
    f = _by_code(r)["forbidden-events"]
    assert f["severity"] == "info" and f["cell"] == "rollout"
    assert f"Events: forbidden for {USER}" in f["text"] and "not because nothing happened" in f["text"]
    assert not any(x["severity"] in ("warning", "critical") and x["code"].startswith("forbidden") for x in r["findings"])
