"""The diff screen (`b`) and the switch preview (`w`) of the config-drift story, and its main screen saying the
environments differ, at 80x24 and 120x40 (deterministic: the story frozen on a hand-moved clock)."""

from __future__ import annotations

import asyncio

import pytest

from snapshot_support import scenario_session
from tui.app import LookoutApp

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


def _app() -> LookoutApp:
    session = asyncio.new_event_loop().run_until_complete(scenario_session("config-drift", 20, app="checkout"))
    return LookoutApp(session, clock=session.clock, check_tty=False)


async def _open(pilot, *keys: str):
    await pilot.pause(0.3)
    await pilot.press("b")
    for _ in range(100):
        await pilot.pause(0.05)
        if type(pilot.app.screen).__name__ == "DiffScreen" and pilot.app.screen.env is not None:
            break
    assert pilot.app.screen.env.result is not None
    for key in keys:
        await pilot.press(key)
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("view", ["diff", "side_by_side", "switch"])
def test_diff_screen(snap_compare, view, size):
    keys = {"diff": ("n",), "side_by_side": ("s",), "switch": ("w",)}[view]

    async def run_before(pilot):
        await _open(pilot, *keys)
        screen = pilot.app.screen
        if view == "switch":
            assert screen.switch_view and "selectors that would change" in str(screen.query_one("#diff-body").render())
        else:
            assert "PAYMENTS_API_KEY" in str(screen.query_one("#diff-body").render())

    assert snap_compare(_app(), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_main_screen_says_the_environments_differ(snap_compare, size):
    async def run_before(pilot):
        await pilot.pause(0.3)
        a = pilot.app.assessment
        assert any(f.code == "environments-differ" for f in a.findings)

    assert snap_compare(_app(), terminal_size=SIZES[size], run_before=run_before)
