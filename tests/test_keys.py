"""Every key that `?`, the footer, the palette or the README advertises, pressed in every pane where it is offered.

The keys come from the bindings themselves (widgets/keys.py reads them); each declares its expected effect
(widgets/keys.py EFFECTS). The app runs on the demo cluster's own story (a Service outage in healthy-canary,
so there are findings, metrics, endpoints and events) at 80x24 and 120x40.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from test_snapshots import story_session
from tui.app import LookoutApp, MainScreen
from widgets.keys import EFFECTS, key_rows, readme_table

SIZES = [(80, 24), (120, 40)]
PANES = ("pods", "compare", "events", "network")
ROOT = Path(__file__).resolve().parents[1]


def first_key(keys: str) -> str:
    k = keys.split(" / ")[0]
    return {"?": "question_mark", ":": "colon", "/": "slash", "esc": "escape", "↓": "down", "↑": "up",
            "pgdn": "pagedown", "pgup": "pageup"}.get(k, k)


def test_every_declared_key_has_an_effect_and_a_description():
    for r in key_rows():
        assert r.action in EFFECTS, f"{r.owner}: key {r.keys} ({r.action}) declares no expected effect"
        assert r.does, r


def test_readme_key_table_is_the_declared_bindings():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Keys", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("|")]
    assert table == readme_table(), "README's key table differs from the bindings: paste widgets.keys.readme_table()"


async def _home(app, pilot, pane_id: str) -> None:
    """Back to the main screen, unfrozen, unzoomed, with `pane_id` focused."""
    for _ in range(4):
        if isinstance(app.screen, MainScreen):
            break
        app.pop_screen()
        await pilot.pause()
    if app.frozen:
        app.action_freeze()
    bar = app.query_one("#command-bar")
    if bar.display:
        bar.action_close()
    for pane in app.panes():
        if hasattr(pane, "close_filter") and pane.query_one(".filter").display:
            pane.close_filter()
    if app.zoomed is not None:
        app.zoom(None)
        app._auto_zoomed = False
    await pilot.pause()
    app.show_pane(app.query_one(f"#{pane_id}"))
    await pilot.pause(0.05)


async def _check(app, pilot, pane_id: str, r) -> None:
    effect = EFFECTS[r.action]
    before_pane = app.focused_pane()
    before_zoom = app.zoomed
    compare = app.query_one("#compare-body")
    before_figure = compare.selected
    await pilot.press(first_key(r.keys))
    await pilot.pause(0.15)
    where = f"{r.keys} ({r.action}) in {pane_id} at {app.size}"
    assert app.is_running, f"the app died on {where}"
    kind, _, arg = effect.partition(":")
    if kind == "screen":
        assert type(app.screen).__name__ == arg, f"{where}: expected {arg}, got {type(app.screen).__name__}"
    elif kind == "shown":
        scope = app.focused_pane() if arg.startswith(".") else app
        assert any(w.display for w in (scope or app).query(arg)), f"{where}: {arg} not shown"
    elif kind == "pane":
        panes = app.panes()
        want = panes[(panes.index(before_pane) + int(arg)) % len(panes)]
        assert app.focused_pane() is want, f"{where}: focus is on {app.focused_pane()}, expected {want.id}"
    elif kind == "frozen":
        assert app.frozen, where
    elif kind == "zoom":
        assert app.zoomed is not before_zoom, f"{where}: zoom did not change"
    elif kind == "back":
        assert app.zoomed is None, where
    elif kind == "figure":
        assert compare.selected == (before_figure + int(arg)) % 8, where
    elif kind == "cursor":
        assert isinstance(app.screen, MainScreen), where
    else:
        raise AssertionError(f"unknown effect {effect}")


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_every_key_in_every_pane(size):
    session = await story_session("selector-outage")
    app = LookoutApp(session, clock=session.clock, check_tty=False)
    pressed = 0
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.3)
        for pane_id in PANES:
            for r in key_rows():
                offered = (r.where in ("main screen",) and r.action != "app.back"
                           or (r.where == "pods and events panes" and pane_id in ("pods", "events"))
                           or (r.where == "canary vs stable pane" and pane_id == "compare")
                           or (r.where == "pods, events, DNS tables" and pane_id in ("pods", "events", "network")))
                if not offered:
                    continue
                await _home(app, pilot, pane_id)
                await _check(app, pilot, pane_id, r)
                pressed += 1
            # esc: back from a zoom
            await _home(app, pilot, pane_id)
            app.zoom(app.query_one(f"#{pane_id}"))
            await pilot.pause()
            await pilot.press("escape")
            await pilot.pause()
            assert app.zoomed is None and app.is_running
        # ctrl+p opens the palette; q quits
        await _home(app, pilot, "pods")
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "CommandPalette"
        await pilot.press("escape")
        await pilot.pause(0.1)
        await _home(app, pilot, "pods")
        await pilot.press("q")
        await pilot.pause(0.2)
    assert pressed > 40 and app.return_code == 0


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_drill_down_keys(size):
    """The keys of the screens a key opens: logs, text views, findings and help."""
    session = await story_session("selector-outage")
    app = LookoutApp(session, clock=session.clock, check_tty=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.3)
        for opener, screen, presses in (
            ("l", "LogScreen", ["p", "f", "slash", "escape", "escape"]),
            ("L", "LogScreen", ["f", "escape"]),
            ("d", "TextScreen", ["slash", "escape", "q"]),
            ("y", "TextScreen", ["escape"]),
            ("f", "FindingsScreen", ["j", "k", "escape"]),
            ("b", "DiffScreen", ["n", "N", "s", "w", "j", "k", "q"]),  # e (export) writes a file: test_diff_e2e
            ("question_mark", "HelpScreen", ["j", "k", "escape"]),
        ):
            await _home(app, pilot, "pods")
            await pilot.press(opener)
            await pilot.pause(0.2)
            assert type(app.screen).__name__ == screen, (opener, type(app.screen).__name__)
            for key in presses:
                await pilot.press(key)
                await pilot.pause(0.1)
                assert app.is_running, (opener, key)
            assert isinstance(app.screen, MainScreen), (opener, presses, type(app.screen).__name__)
        # enter on a finding shows its object: the outage's Service, in the DNS / endpoints pane
        await _home(app, pilot, "pods")
        await pilot.press("f")
        await pilot.pause(0.2)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, MainScreen) and app.focused_pane() is app.query_one("#network")
