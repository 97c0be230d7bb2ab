"""Runbooks in the app, end to end: the real app on the demo cluster over HTTPS, steps run by the real kubectl.

A read-only step's output appears in the panel; a mutating step asks first, does nothing when refused, acts
when confirmed (the demo cluster's state changes), and is refused outright under --read-only."""

from __future__ import annotations

import pytest

from e2e_support import demo_cluster, open_session, until
from realtools import require_tool
from tui.app import LookoutApp, MainScreen
from widgets.runbooks import ConfirmStep, RunbookPanel, RunbookPicker

pytestmark = pytest.mark.kubectl


def _panel(app) -> RunbookPanel:
    return app.query_one(RunbookPanel)


async def _open_suggested(app, pilot, runbook_id: str) -> None:
    await until(pilot, lambda: app.assessment is not None and app._suggestion_line(app.assessment)
                and runbook_id in {s.runbook.id for s in _suggestions(app)[:1]}, timeout=30,
                what=f"{runbook_id} suggested first")
    await pilot.press("r")
    await until(pilot, lambda: isinstance(app.screen, RunbookPicker), what="the picker")
    picker = app.screen
    assert picker.shown[0].id == runbook_id and picker.shown[0].because
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, MainScreen) and _panel(app).display, what="the panel")
    assert _panel(app).runbook_id == runbook_id


def _suggestions(app):
    from tui.runbooks.suggest import suggest

    return suggest(app.catalog.runbooks, app.assessment)


async def test_read_step_output_and_confirmed_abort():
    require_tool("kubectl")
    async with demo_cluster(scenario="crashloop", speed=20) as cluster:
        session = await open_session(cluster, app="checkout")
        app = LookoutApp(session, check_tty=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await _open_suggested(app, pilot, "pods-crashing")
            strip = str(app.query_one("#findings").render())
            assert "canary CrashLoopBackOff: runbook Pods crashing (CrashLoopBackOff), press r" in strip
            panel = _panel(app)
            # {pod} is the selected pod: opened from the suggestion, the crashing pod the finding names is selected
            crashing = next(r.name for r in app.pods_pane.table.rows.values() if r.status == "CrashLoopBackOff")
            assert app.pods_pane.table.cursor_row.name == crashing
            assert f"{{pod}} = {crashing}" in str(panel.query_one("#runbook-title").render())
            # step 1: kubectl describe pod <the crashing canary pod>, read-only: runs at once
            await pilot.press("1")
            await until(pilot, lambda: panel.states[0] in ("ok", "failed"), timeout=30, what="step 1 to finish")
            out = panel.output_text()
            assert panel.states[0] == "ok", out
            assert f"describe pod {crashing}" in out and "--context=lookout-demo" in out
            assert f"Name:             {crashing}" in out and "Restart Count:" in out and "BackOff" in out
            # step 4 rolls back (a Deployment: kubectl rollout undo): asks first; "n" leaves the cluster as it was
            image = _image(cluster)
            assert image.endswith(":1.5.0")
            await pilot.press("4")
            await until(pilot, lambda: isinstance(app.screen, ConfirmStep), what="the confirmation")
            shown = str(app.screen.query_one("#confirm-text").render())
            assert "context lookout-demo, namespace demo" in shown and "rollout undo deployment/checkout" in shown
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, MainScreen), what="back from the confirmation")
            assert panel.states[3] == "declined"
            await pilot.pause(0.5)
            assert _image(cluster) == image
            # ... and "y" rolls it back: the Deployment's template is the previous revision's again
            await pilot.press("4")
            await until(pilot, lambda: isinstance(app.screen, ConfirmStep), what="the confirmation again")
            await pilot.press("y")
            await until(pilot, lambda: panel.states[3] in ("ok", "failed", "refused"), timeout=30,
                        what="the undo to finish")
            assert panel.states[3] == "ok", panel.output_text()
            assert "rolled back" in panel.output_text()
            assert _image(cluster).endswith(":1.4.2")
            runs = list(app.run_log.runs)
            assert [r.state for r in runs] == ["ok", "ok"] and runs[1].confirmed and not runs[0].confirmed


def _image(cluster) -> str:
    d = cluster.state.get("deployments", "demo", "checkout")
    return d["spec"]["template"]["spec"]["containers"][0]["image"]


async def test_abort_a_canary_from_a_filtered_runbook():
    """Type to filter in the picker; the Argo abort is a status patch carrying the Rollout's resourceVersion."""
    require_tool("kubectl")
    async with demo_cluster(scenario="healthy-canary", speed=3) as cluster:
        session = await open_session(cluster)
        app = LookoutApp(session, check_tty=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: any(r.track == "canary" for r in app.pods_pane.table.rows.values()),
                        timeout=30, what="a canary pod")
            await pilot.press("r")
            await until(pilot, lambda: isinstance(app.screen, RunbookPicker), what="the picker")
            for ch in "high error":
                await pilot.press("space" if ch == " " else ch)
            await pilot.pause(0.1)
            assert [i.id for i in app.screen.shown] == ["high-error-rate"]
            await pilot.press("enter")
            await until(pilot, lambda: _panel(app).display and _panel(app).runbook_id == "high-error-rate",
                        what="the panel")
            await pilot.press("3")
            await until(pilot, lambda: isinstance(app.screen, ConfirmStep), what="the confirmation")
            shown = str(app.screen.query_one("#confirm-text").render())
            assert "rollout checkout" in shown and '"path":"/status/abort","value":true' in shown
            assert '"path":"/metadata/resourceVersion"' in shown
            # someone else changes the Rollout while the confirmation is on screen: the abort is refused by the API
            # server (its resourceVersion test) and the confirmation is shown again, saying why
            cluster.state.mutate("rollouts", "demo", "checkout",
                                 lambda o: o["metadata"].setdefault("annotations", {}).__setitem__("by", "someone"))
            await pilot.press("y")
            panel = _panel(app)
            await until(pilot, lambda: panel.states[2] == "refused" and isinstance(app.screen, ConfirmStep),
                        timeout=30, what="the stale abort refused and shown again:\n" + panel.output_text())
            assert "changed since it was shown" in str(app.screen.query_one("#confirm-text").render())
            assert not cluster.state.get("rollouts", "demo", "checkout")["status"].get("abort")
            await pilot.press("y")
            await until(pilot, lambda: panel.states[2] in ("ok", "failed"), timeout=30, what="the abort")
            assert panel.states[2] == "ok", panel.output_text()
            assert cluster.state.get("rollouts", "demo", "checkout")["status"].get("abort") is True
            await until(pilot, lambda: app.assessment.outcome.state == "aborted", timeout=20,
                        what="the app to see the abort")


async def test_read_only_refuses_the_mutating_step_in_the_app():
    require_tool("kubectl")
    async with demo_cluster(scenario="crashloop", speed=20) as cluster:
        session = await open_session(cluster, app="checkout", read_only=True)
        app = LookoutApp(session, check_tty=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await _open_suggested(app, pilot, "pods-crashing")
            panel = _panel(app)
            assert panel.notes[3].startswith("read-only")  # said before anything is pressed
            await pilot.press("4")
            await pilot.pause(0.3)
            assert isinstance(app.screen, MainScreen)  # no confirmation: it will not run at all
            assert panel.states[3] == "refused" and "read-only" in panel.output_text()
            await pilot.pause(0.5)
            assert _image(cluster).endswith(":1.5.0")  # not rolled back
            assert [r.state for r in app.run_log.runs] == ["refused"]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_every_runbook_key(size, tmp_path):
    """Every key the picker, the panel and the confirmation declare (widgets/keys.py lists them) is pressed here and
    does what its row says; the app's own story session, with a runbook of local programs."""
    from test_snapshots import story_session
    from tui.runbooks.model import Catalog, parse_runbooks
    from widgets.keys import key_rows

    marker = tmp_path / "changed"
    rb = parse_runbooks(
        "id: local\ntitle: Local steps\nwhen: [{verdict: rollback}, {verdict: hold}, {verdict: no-data}]\nsteps:\n"
        "  - {title: say hello, why: w, run: [echo, hello], mutates: false}\n"
        "  - {title: wait, why: w, run: [sleep, '30'], mutates: false}\n"
        f"  - {{title: change it, why: w, run: [touch, '{marker}']}}\n", "local.yaml")
    session = await story_session("selector-outage")
    app = LookoutApp(session, clock=session.clock, check_tty=False, runbooks=Catalog(rb))
    declared = {(r.where, r.action) for r in key_rows()
                if r.where in ("runbook picker (r)", "runbook panel", "confirmation of a step that changes the cluster")}
    pressed: set[tuple[str, str]] = set()
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.3)
        panel = _panel(app)
        await pilot.press("r")
        await pilot.pause(0.1)
        assert isinstance(app.screen, RunbookPicker)
        await pilot.press("escape")
        await pilot.pause(0.1)
        pressed.add(("runbook picker (r)", "cancel"))
        assert isinstance(app.screen, MainScreen) and not panel.display
        await pilot.press("r")
        await pilot.pause(0.1)
        ol = app.screen.query_one("#runbook-list")
        await pilot.press("down")
        pressed.add(("runbook picker (r)", "move(1)"))
        await pilot.press("up")
        pressed.add(("runbook picker (r)", "move(-1)"))
        assert ol.highlighted == 0
        await pilot.press("enter")
        await until(pilot, lambda: panel.display, what="the panel")
        await pilot.press("1")
        pressed.add(("runbook panel", "run(N)"))
        await until(pilot, lambda: panel.states[0] == "ok", what="step 1")
        assert "hello" in panel.output_text()
        await pilot.press("n")  # the next step not run yet: 2 (sleep)
        pressed.add(("runbook panel", "run_next"))
        await until(pilot, lambda: panel.states[1] == "running", what="step 2 running")
        await pilot.press("x")
        pressed.add(("runbook panel", "cancel"))
        await until(pilot, lambda: panel.states[1] == "cancelled", what="step 2 cancelled")
        panel.query_one("#runbook-steps").highlighted = 2
        await pilot.press("enter")  # the selected step: 3 changes something, so it asks
        pressed.add(("runbook panel", "run_selected"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmStep), what="the confirmation")
        await pilot.press("escape")
        pressed.add(("confirmation of a step that changes the cluster", "answer(False)"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen), what="back")
        await pilot.press("3")
        await until(pilot, lambda: isinstance(app.screen, ConfirmStep), what="the confirmation")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), what="back")
        assert panel.states[2] == "declined" and not marker.exists()
        await pilot.press("3")
        await until(pilot, lambda: isinstance(app.screen, ConfirmStep), what="the confirmation")
        await pilot.press("y")
        pressed.add(("confirmation of a step that changes the cluster", "answer(True)"))
        await until(pilot, lambda: panel.states[2] == "ok", what="step 3")
        assert marker.exists()
        # / searches the output: enter scrolls to the next match, esc closes the search
        await pilot.press("slash")
        pressed.add(("runbook panel", "search_output"))
        box = panel.query_one("#runbook-search")
        assert box.display and box.has_focus
        for ch in "hello":
            await pilot.press(ch)
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert "hello" in str(panel.query_one("#runbook-output").lines[panel._match])
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert not box.display and panel.display  # esc closed the search, not the panel
        await pilot.press("z")
        pressed.add(("runbook panel", "zoom"))
        await pilot.pause(0.1)
        assert panel.has_class("-zoomed") and not app.query_one("#grid").display or \
            app.query_one("#grid").region.height == 0
        await pilot.press("z")
        await pilot.pause(0.1)
        assert not panel.has_class("-zoomed") and app.query_one("#grid").region.height > 0
        await pilot.press("escape")
        pressed.add(("runbook panel", "close"))
        await pilot.pause(0.1)
        assert not panel.display and app.is_running
        await pilot.press("ctrl+c")
    assert pressed == declared, declared ^ pressed


async def test_switch_the_bluegreen_service_moves_its_endpoints():
    require_tool("kubectl")
    async with demo_cluster(scenario="bluegreen-switch", speed=1) as cluster:
        session = await open_session(cluster, app="checkout")
        app = LookoutApp(session, check_tty=False)

        def selector():
            return cluster.state.get("services", "demo", "checkout")["spec"]["selector"]

        def endpoint_pods():
            items, _ = cluster.state.list("endpointslices", "demo",
                                          label_selector="kubernetes.io/service-name=checkout")
            return {(e.get("targetRef") or {}).get("name", "") for s in items for e in s.get("endpoints") or ()}

        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: any(r.track == "green" and r.ready == r.total
                                           for r in app.pods_pane.table.rows.values()),
                        timeout=20, what="a ready green pod")
            assert selector()["environment"] == "blue"
            app.open_runbook("switch-not-completing")
            await pilot.pause(0.2)
            panel = _panel(app)
            await pilot.press("6")
            await until(pilot, lambda: isinstance(app.screen, ConfirmStep), what="the confirmation:\n"
                        + panel.output_text())
            shown = str(app.screen.query_one("#confirm-text").render())
            assert "service/checkout (selector now app=checkout,environment=blue, after " \
                   "app=checkout,environment=green)" in shown
            await pilot.press("y")
            await until(pilot, lambda: panel.states[5] in ("ok", "failed", "refused"), timeout=20, what="the switch")
            assert panel.states[5] == "ok", panel.output_text()
            assert selector() == {"app": "checkout", "environment": "green"}
            await until(pilot, lambda: endpoint_pods() and all("green" in n for n in endpoint_pods()), timeout=20,
                        what="the endpoints to follow the selector")


@pytest.mark.prometheus
async def test_a_promql_step_asks_the_sessions_prometheus():
    """With --prometheus the query runs and its series show as a small table; without one it is shown to copy."""
    from metrics_support import prometheus_for
    from tui.runbooks.model import Catalog, parse_runbooks

    rb = parse_runbooks('id: q\ntitle: Q\nsteps:\n  - {title: up, why: w, promql: \'up{namespace="{namespace}"}\'}\n',
                        "q.yaml")
    async with demo_cluster(scenario="healthy-canary", speed=1) as cluster:
        async with prometheus_for(cluster) as prom:
            session = await open_session(cluster, app="checkout", prometheus_url=prom.url)
            app = LookoutApp(session, check_tty=False, runbooks=Catalog(rb))
            async with app.run_test(size=(120, 40)) as pilot:
                await pilot.pause(0.5)
                app.open_runbook("q")
                await pilot.pause(0.1)
                panel = _panel(app)
                assert panel.notes[0] == ""  # runnable: a Prometheus is configured
                for _ in range(30):  # until Prometheus has scraped the pods once
                    await pilot.press("1")
                    await until(pilot, lambda: panel.states[0] in ("ok", "failed"), timeout=20, what="the query")
                    if "pod=checkout-" in panel.output_text():
                        break
                    panel.set_step(0, "pending")
                    await pilot.pause(1.0)
                out = panel.output_text()
                assert 'PromQL up{namespace="demo"}' in out
                assert any(line.strip().startswith("1  {") and "pod=checkout-" in line for line in out.splitlines()), out
        session2 = await open_session(cluster, app="checkout")
        app2 = LookoutApp(session2, check_tty=False, runbooks=Catalog(rb))
        async with app2.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.3)
            app2.open_runbook("q")
            await pilot.pause(0.1)
            await pilot.press("1")
            await pilot.pause(0.2)
            out = _panel(app2).output_text()
            assert "no Prometheus configured" in out and 'up{namespace="demo"}' in out


async def test_a_runbooks_own_key_opens_it():
    from test_snapshots import story_session
    from tui.runbooks.model import Catalog, parse_runbooks

    rb = parse_runbooks("id: mine\ntitle: Mine\nkey: ctrl+k\nsteps:\n  - {title: t, why: w, check: look}\n", "m.yaml",
                        reserved_keys=("q", "r"))
    session = await story_session("selector-outage")
    app = LookoutApp(session, clock=session.clock, check_tty=False, runbooks=Catalog(rb))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("ctrl+k")
        await pilot.pause(0.1)
        assert _panel(app).display and _panel(app).runbook_id == "mine"


async def test_restart_the_canary_asks_then_replaces_the_pods():
    require_tool("kubectl")
    async with demo_cluster(scenario="healthy-canary", speed=1) as cluster:
        session = await open_session(cluster)
        app = LookoutApp(session, check_tty=False)

        def pods() -> set[str]:
            items, _ = cluster.state.list("pods", "demo", label_selector="app=checkout")
            return {p["metadata"]["name"] for p in items if not p["metadata"].get("deletionTimestamp")}

        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: any(r.track == "canary" for r in app.pods_pane.table.rows.values()),
                        timeout=30, what="a canary pod")
            before = pods()
            app.open_runbook("memory-growth")
            await pilot.pause(0.2)
            panel = _panel(app)
            await pilot.press("3")
            await until(pilot, lambda: isinstance(app.screen, ConfirmStep), what="the confirmation")
            shown = str(app.screen.query_one("#confirm-text").render())
            assert "rollout checkout" in shown and '"path":"/spec/restartAt"' in shown
            await pilot.press("n")
            await pilot.pause(1.0)
            assert "restartAt" not in cluster.state.get("rollouts", "demo", "checkout")["spec"]  # nothing changed
            await pilot.press("3")
            await until(pilot, lambda: isinstance(app.screen, ConfirmStep), what="the confirmation again")
            await pilot.press("y")
            await until(pilot, lambda: panel.states[2] in ("ok", "failed", "refused"), timeout=20, what="the restart")
            if panel.states[2] == "refused":  # the Rollout moved on (a canary step) while it was shown: again
                await until(pilot, lambda: isinstance(app.screen, ConfirmStep), what="shown again")
                await pilot.press("y")
                await until(pilot, lambda: panel.states[2] == "ok", timeout=20, what="the restart")
            assert panel.states[2] == "ok", panel.output_text()
            await until(pilot, lambda: pods() and not (pods() & before), timeout=20, what="every pod replaced")


async def test_steps_confirmations_and_refusals_go_to_the_incident_timeline(tmp_path):
    from test_snapshots import story_session
    from tui.incident.log import Incident
    from tui.runbooks.model import Catalog, parse_runbooks

    marker = tmp_path / "changed"
    rb = parse_runbooks("id: local\ntitle: Local steps\nsteps:\n"
                        "  - {title: say hello, why: w, run: [echo, hello], mutates: false}\n"
                        f"  - {{title: change it, why: w, run: [touch, '{marker}']}}\n", "local.yaml")
    session = await story_session("selector-outage")
    inc = Incident.open(tmp_path / "inc", severity="high", environment="lookout-demo", service="demo/checkout",
                        summary="outage", author="alice@one", clock=session.clock)
    app = LookoutApp(session, clock=session.clock, check_tty=False, runbooks=Catalog(rb), incident=inc)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        app.open_runbook("local")
        await pilot.pause(0.1)
        panel = _panel(app)
        await pilot.press("1")
        await until(pilot, lambda: panel.states[0] == "ok", what="step 1")
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, ConfirmStep), what="the confirmation")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), what="back")
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, ConfirmStep), what="the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: panel.states[1] == "ok", what="step 2")
    reader = Incident.open(tmp_path / "inc", author="reader@x")
    reader.poll()
    entries = [e for e in reader.entries if e.kind in ("step", "confirmed", "refused")]
    assert [e.kind for e in entries] == ["step", "refused", "confirmed", "step"], entries
    assert entries[0].data["output_tail"] == ["hello"] and entries[0].data["exit_code"] == 0
    assert "declined" in entries[1].text and entries[3].data["mutates"] and marker.exists()
    assert entries[3].data["command"] == f"touch {marker}"
