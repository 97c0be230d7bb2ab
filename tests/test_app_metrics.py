"""End to end: the real app on the demo cluster playing `bad-canary`, its canary-vs-stable pane fed by direct scrape.

The canary's p99 climbs past 500 ms and its 5xx share past 5 % from scenario second 15; the Rollout aborts at
second 46 (23 s of wall time at speed 2). Before that the app must turn the health matrix's metrics cell and
the pane's verdict to ROLLBACK, ring the bell once and put the verdict first in the terminal title.
"""

from __future__ import annotations

import dataclasses

from e2e_support import demo_cluster, open_session, until
from tui.app import LookoutApp
from widgets.compare import ComparePane
from widgets.status import HealthMatrix


def _matrix(app) -> str:
    last = app.query_one(HealthMatrix)._last
    return last.plain if last is not None else ""


async def test_bad_canary_turns_the_pane_to_rollback_rings_once_and_titles_the_terminal(monkeypatch):
    async with demo_cluster(scenario="bad-canary", speed=2) as cluster:
        session = await open_session(cluster)
        # poll every 2 s instead of 5 s: more readings before the abort, the same analysis
        session.settings = dataclasses.replace(
            session.settings, metrics=dataclasses.replace(session.settings.metrics, interval=2.0))
        app = LookoutApp(session)
        bells: list[float] = []
        monkeypatch.setattr(app, "bell", lambda: bells.append(cluster.sim.t))
        async with app.run_test(size=(120, 40)) as pilot:
            pane = app.query_one(ComparePane)
            # first the figures of both tracks, from successive scrapes through the API server's pod proxy
            measured = lambda: {t.name for t in pane.state.tracks if t.request_rate_rps}  # noqa: E731
            await until(pilot, lambda: measured() >= {"stable", "canary"}, timeout=20,
                        what="request rates for both tracks")
            assert not bells and "ROLLBACK" not in (app.terminal_title or "")
            await until(pilot, lambda: pane.state.verdict.decision == "rollback", timeout=25,
                        what=f"a ROLLBACK verdict (last: {pane.state.verdict})")
            state = pane.state
            codes = {r.code for r in state.verdict.reasons}
            assert codes & {"latency-above-rollback", "error-rate-above-rollback"}, codes
            await until(pilot, lambda: "metrics ✗ rollback" in _matrix(app), timeout=3,
                        what="the health matrix's metrics cell to say rollback")
            assert app.terminal_title is not None and app.terminal_title.startswith("ROLLBACK"), app.terminal_title
            assert "checkout" in app.terminal_title
            assert len(bells) == 1
            # the next readings say rollback again (or the abort takes the canary away): no second bell
            polled = pane.state
            await until(pilot, lambda: pane.state is not polled, timeout=5, what="another reading")
            await pilot.pause(0.2)
            assert len(bells) == 1, bells
