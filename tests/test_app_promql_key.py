"""`p` on the canary-vs-stable pane opens the PromQL behind the selected figure (it used to crash the app)."""

from __future__ import annotations

import pytest

from test_snapshots import story_session
from tui.app import LookoutApp
from widgets.describe import TextScreen


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_p_shows_the_promql_and_the_app_lives_on(size):
    session = await story_session("selector-outage")
    app = LookoutApp(session, clock=session.clock, check_tty=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.2)
        app.query_one("#compare-body").focus()
        for _ in range(4):  # p99 latency
            await pilot.press("j")
        await pilot.press("p")
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, TextScreen), screen
        log = screen.query_one("#text")
        text = "\n".join(str(line) for line in log.lines)
        assert "histogram_quantile(0.99" in text and "loading" not in text
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, TextScreen) and app.is_running
