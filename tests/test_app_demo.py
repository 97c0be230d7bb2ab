"""End to end: the real app, over HTTPS, on the demo cluster playing scenarios (no fakes in between)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from e2e_support import demo_cluster, open_session, server_keys, store_keys, until
from tui.app import LookoutApp


def _rows(app):
    return app.pods_pane.table.rows


async def test_pods_pane_shows_scenario_pods_with_tracks():
    async with demo_cluster(scenario="healthy-canary", speed=5) as cluster:
        session = await open_session(cluster)
        assert session.target.rollout == "checkout" and session.target.kind == "Rollout"
        app = LookoutApp(session)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: len(_rows(app)) >= 5, what="the stable pods")
            assert {r.track for r in _rows(app).values()} >= {"stable"}
            # the scenario's first step brings a canary pod up: it appears as the canary track, counted
            # in the pane's title beside the stable ones
            table = app.pods_pane.table
            await until(pilot, lambda: any(r.track == "canary" for r in _rows(app).values())
                        and "canary" in table.title_counts() and "stable" in table.title_counts(),
                        timeout=20, what="a canary pod counted in the title")

            def same():
                return set(_rows(app)) == server_keys(cluster.state, "pods", "demo", session.target.selector)

            await until(pilot, same, what="the pane to equal the server's pods")


async def test_crashloop_shows_in_pane_events_and_findings():
    async with demo_cluster(scenario="crashloop", speed=20) as cluster:
        session = await open_session(cluster, app="checkout")
        app = LookoutApp(session)
        async with app.run_test(size=(120, 40)) as pilot:
            row = await until(
                pilot,
                lambda: next((r for r in _rows(app).values() if r.status == "CrashLoopBackOff"), None),
                timeout=25, what="a CrashLoopBackOff pod in the pods pane")
            assert row.state == "fail" and row.restarts >= 1
            ev = await until(
                pilot,
                lambda: next((r for r in app.events_pane.table.rows.values() if r.reason == "BackOff"), None),
                timeout=15, what="a BackOff event row")
            assert ev.warning
            # the finding names the failing track only, with the container's reason as evidence
            found = await until(pilot, lambda: [f for f in session.findings() if f.code == "track-pods-failing"],
                                timeout=20, what="the track-pods-failing finding")
            assert {f.track for f in found} == {row.track}
            assert any("CrashLoopBackOff" in v for f in found for _, v in f.evidence)


async def test_filter_narrows_the_pods_pane():
    async with demo_cluster(scenario="healthy-canary", speed=1) as cluster:
        session = await open_session(cluster)
        app = LookoutApp(session)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: len(_rows(app)) >= 5, what="pods")
            table = app.pods_pane.table
            name = sorted(_rows(app))[2][1]
            await pilot.press("slash")
            for ch in name:
                await pilot.press(ch)
            await pilot.press("enter")
            await until(pilot, lambda: table.filter == name, what="the filter to apply")
            shown = [k for k in table.display_keys if k in table.rows]
            assert [k[1] for k in shown] == [name]
            assert len(table.rows) >= 5  # the others are hidden, not dropped


async def test_events_pane_shows_only_the_rollouts_events():
    async with demo_cluster(scenario="crashloop", speed=20) as cluster:
        session = await open_session(cluster, app="checkout")
        app = LookoutApp(session)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: any(r.reason == "BackOff" for r in app.events_pane.table.rows.values()),
                        timeout=25, what="the canary's BackOff events")
            # the worker Deployment's CreateContainerConfigError events are in the namespace, not in the pane
            items, _ = cluster.state.list("events", "demo")
            assert any("checkout-worker" in (e.get("involvedObject") or {}).get("name", "") for e in items)
            assert not any("checkout-worker" in r.object for r in app.events_pane.table.rows.values())


async def test_logs_view_follows_new_lines():
    async with demo_cluster(scenario="healthy-canary", speed=1) as cluster:
        session = await open_session(cluster)
        app = LookoutApp(session)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: len(_rows(app)) >= 5, what="pods")
            pod = app.pods_pane.table.cursor_row
            assert pod is not None
            await pilot.press("l")
            from widgets.logs import LogScreen

            await until(pilot, lambda: isinstance(app.screen, LogScreen), what="the log screen")
            await pilot.pause(0.5)  # the follow request is open
            marker = "lookout-e2e-marker [bold]not markup[/bold]"
            container = cluster.state.get("pods", "demo", pod.name)["spec"]["containers"][0]["name"]
            cluster.sim.append_log("demo", pod.name, container, marker)
            screen = app.screen
            await until(pilot, lambda: any(marker in line for line in screen._all), timeout=10,
                        what="the appended log line on screen")
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, LogScreen), what="back to the main screen")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_survives_cluster_restart_and_resyncs(tmp_path):
    from tui.demo.cluster import start_demo_cluster

    state_dir = str(tmp_path / "state")
    port = _free_port()
    cluster = await start_demo_cluster(scenario="healthy-canary", speed=1, port=port, state_dir=state_dir)
    session = await open_session(cluster)
    app = LookoutApp(session)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: len(_rows(app)) >= 5, what="pods")
            await cluster.stop()
            await until(pilot, lambda: not session.connection.ok, timeout=15, what="the connection to drop")
            banner = app.query_one("#connection-banner")
            await until(pilot, lambda: banner.display, timeout=5, what="the connection banner")
            # while it is down, the cluster changes (as after a restart with other state)
            cluster = await start_demo_cluster(scenario="healthy-canary", speed=1, port=port, state_dir=state_dir)
            victim = sorted(server_keys(cluster.state, "pods", "demo", session.target.selector))[0]
            cluster.state.delete("pods", *victim, grace_period=0)
            await until(pilot, lambda: session.connection.ok, timeout=40, what="the connection to recover")
            await until(
                pilot,
                lambda: store_keys(session.store, "pods") == server_keys(
                    cluster.state, "pods", "demo", session.target.selector),
                timeout=20, what="the store to equal the server's pods after the restart")
            await until(pilot, lambda: not banner.display, timeout=5, what="the banner to go")
            await until(pilot, lambda: set(_rows(app)) == store_keys(session.store, "pods"), timeout=5,
                        what="the pane to show what the store holds")
            assert victim not in _rows(app)
    finally:
        await cluster.stop()
