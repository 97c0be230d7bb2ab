"""A silent link: the demo cluster behind a TCP proxy that stops forwarding. The liveness probe notices, every pane
and the header say how old their data is, and when bytes flow again the panes equal the server's objects."""

from __future__ import annotations

import asyncio
import time

from e2e_support import demo_cluster, server_keys, store_keys, until
from link_support import StallingProxy, kubeconfig_via
from tui.app import LookoutApp
from tui.config import Settings
from tui.kube.config import load_target
from tui.session import Session, resolve_rollout


async def _session_via(cluster, port: int, tmp_path) -> Session:
    kc = kubeconfig_via(cluster.kubeconfig_path, port, str(tmp_path / "via-proxy.kubeconfig"))
    target = load_target(kc, "lookout-demo", None)
    choice = await resolve_rollout(target, app_name=None, selector=None, all_namespaces=False)
    return Session(target, choice, Settings(), demo=True, kubeconfig_path=kc)


async def test_a_proxy_that_stops_forwarding_turns_everything_stale_and_back(tmp_path):
    async with demo_cluster(scenario="healthy-canary", speed=1, bookmark_interval=3600) as cluster:
        proxy = await StallingProxy(cluster.port).start()
        try:
            session = await _session_via(cluster, proxy.port, tmp_path)
            app = LookoutApp(session)
            async with app.run_test(size=(120, 40)) as pilot:
                pods = app.pods_pane
                sel = session.target.selector
                await until(pilot, lambda: pods.staleness == "live" and len(pods.table.rows) >= 3,
                            timeout=20, what="live pods")
                header = app.query_one("#header")
                assert "● connected" in str(header._last)

                proxy.stall()
                stalled = time.monotonic()
                await until(pilot, lambda: not session.connection.ok, timeout=25, what="the connection to be lost")
                assert time.monotonic() - stalled < 25
                await until(pilot, lambda: "disconnected" in str(header._last), timeout=3, what="the header")
                # every pane says how old its data is, the DNS/endpoints pane included
                await until(pilot, lambda: pods.staleness.startswith("stale "), timeout=3, what="pods stale")
                assert "connection lost" in pods.staleness
                assert app.events_pane.staleness.startswith("stale ")
                network = app.query_one("#network")
                assert network.staleness.startswith("stale ")
                banner = app.query_one("#connection-banner")
                assert banner.display and "CONNECTION LOST" in str(banner._last)
                a = app.assessment
                assert all(st.state == "stale" for st in a.staleness if st.source in ("pods", "services"))
                assert a.decision != "promote"  # never promoted from stale data

                # meanwhile the cluster changes: a pod goes (its ReplicaSet makes another)
                victim = sorted(server_keys(cluster.state, "pods", "demo", sel))[0]
                cluster.state.delete("pods", *victim, grace_period=0)
                await pilot.pause(2)
                assert victim in store_keys(session.store, "pods")  # nothing came through the stalled link

                proxy.forward()
                resumed = time.monotonic()
                await until(pilot, lambda: session.connection.ok, timeout=15, what="the connection to come back")
                await until(pilot, lambda: pods.staleness == "live", timeout=15 - (time.monotonic() - resumed),
                            what="the pods pane to be live again")
                await until(pilot, lambda: set(pods.table.rows) == server_keys(cluster.state, "pods", "demo", sel),
                            timeout=10, what="the pods pane to equal the server's pods")
                assert victim not in store_keys(session.store, "pods")
                await until(pilot, lambda: "● connected" in str(header._last), timeout=3, what="the header")
                assert not banner.display
        finally:
            await proxy.aclose()


async def test_probe_says_lost_only_after_the_bound_and_restores_once():
    """The probe on its own: a stalled proxy makes it fail, lost after LOST_AFTER seconds, restored at once."""
    from tui.kube.client import KubeClient
    from tui.kube.liveness import LinkProbe

    async with demo_cluster(scenario="healthy-canary", speed=1) as cluster:
        proxy = await StallingProxy(cluster.port).start()
        try:
            import tempfile

            with tempfile.TemporaryDirectory() as d:
                kc = kubeconfig_via(cluster.kubeconfig_path, proxy.port, f"{d}/kc")
                target = load_target(kc, "lookout-demo", None)
            changes, restores = [], []
            probe = LinkProbe(target, timeout=0.5, lost_after=1.0, on_change=changes.append,
                              on_restore=lambda: restores.append(1))
            client = KubeClient(target)
            try:
                assert await probe.probe(client) and probe.state.ok
                proxy.stall()
                assert not await probe.probe(client)
                assert probe.state.ok and "no answer within 0.5 s" in probe.state.error  # not yet lost
                await asyncio.sleep(0.6)
                assert not await probe.probe(client)
                assert not probe.state.ok and probe.state.lost_at is not None
                assert [c.ok for c in changes] == [False]
                proxy.forward()
                assert await probe.probe(client)
                assert probe.state.ok and restores == [1] and [c.ok for c in changes] == [False, True]
            finally:
                await client.aclose()
        finally:
            await proxy.aclose()


async def test_app_started_against_a_silent_link_says_connecting_then_lost_then_shows_the_pods(tmp_path):
    async with demo_cluster(scenario="healthy-canary", speed=1) as cluster:
        proxy = await StallingProxy(cluster.port).start()
        try:
            session = await _session_via(cluster, proxy.port, tmp_path)  # start-up got its answers
            proxy.stall()  # then the link goes silent before the screen opens
            app = LookoutApp(session)
            async with app.run_test(size=(120, 40)) as pilot:
                header = app.query_one("#header")
                await until(pilot, lambda: f"… connecting to https://127.0.0.1:{proxy.port}" in str(header._last),
                            timeout=5, what="the header to say where it connects")
                assert app.pods_pane.staleness == "loading …"
                await until(pilot, lambda: "disconnected" in str(header._last), timeout=25,
                            what="the header to say the connection is lost")
                proxy.forward()
                await until(pilot, lambda: "● connected" in str(header._last), timeout=15, what="connected")
                await until(pilot, lambda: len(app.pods_pane.table.rows) >= 3, timeout=15, what="the pods")
        finally:
            await proxy.aclose()


def test_a_lost_link_makes_every_watched_kind_stale_but_keeps_forbidden_named():
    from tui.assessment import source_staleness
    from tui.kube.liveness import LinkState
    from tui.kube.store import SourceHealth

    now = 1000.0
    health = [SourceHealth("pods/demo", "pods", connected=True, synced=True, last_event=now - 1),
              SourceHealth("services/demo", "services", connected=True, synced=True, last_event=now - 1),
              SourceHealth("events/demo", "events", connected=True, error="forbidden: no", forbidden=True)]
    live = {s.source: s.state for s in source_staleness(health, None, now, 30.0, LinkState(True, now - 1))}
    assert live == {"pods": "live", "services": "live", "events": "forbidden"}
    lost = LinkState(False, now - 9, "no answer within 3 s", now - 3, True)
    got = {s.source: s for s in source_staleness(health, None, now, 30.0, lost)}
    assert got["pods"].state == got["services"].state == "stale" and got["events"].state == "forbidden"
    assert got["pods"].age == 9 and got["pods"].text() == "stale 9s: connection lost: no answer within 3 s"
