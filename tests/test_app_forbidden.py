"""End to end: the real app on a demo cluster whose RBAC forbids reading events (403 Forbidden per kind).

The events pane says so in its title; everything else keeps working live.
"""

from __future__ import annotations

from e2e_support import demo_cluster, open_session, server_keys, until
from tui.app import LookoutApp


async def test_forbidden_events_are_named_in_the_pane_title_while_pods_stay_live():
    async with demo_cluster(scenario="healthy-canary", speed=5, forbidden={"events"}) as cluster:
        session = await open_session(cluster)
        app = LookoutApp(session)
        async with app.run_test(size=(120, 40)) as pilot:
            events = app.events_pane
            title = await until(pilot, lambda: events._title_cache if "forbidden" in events._title_cache else None,
                                timeout=15, what="the events pane to say forbidden")
            assert title.startswith("events · forbidden: ")
            assert 'events is forbidden: User "system:serviceaccount:demo:lookout"' in title
            assert "forbidden" in str(events.border_title)
            assert not events.table.rows
            # the pods pane is unaffected: live, and follows the scenario as it moves
            pods = app.pods_pane
            await until(pilot, lambda: pods.staleness == "live", timeout=15, what="the pods pane to be live")
            assert "forbidden" not in pods._title_cache
            await until(pilot, lambda: any(r.track == "canary" for r in pods.table.rows.values()),
                        timeout=20, what="a canary pod")
            await until(pilot, lambda: set(pods.table.rows) == server_keys(cluster.state, "pods", "demo",
                                                                            session.target.selector),
                        timeout=10, what="the pane to equal the server's pods")
            assert pods.staleness == "live"
            assert "forbidden" in events._title_cache  # still, not a transient error
            # the scenario did emit events: the server holds them, the app was refused them
            assert cluster.state.count("events") > 0
