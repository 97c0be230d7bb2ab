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
        assert app.screen.maximized is app.zoomed, f"{where}: zoom is not the screen's maximize"
    elif kind == "back":
        assert app.zoomed is None, where
    elif kind == "incident":
        if app.incident is None:
            said = " ".join(str(n.message) for n in app._notifications)
            assert "no incident is open: I starts one" in said, f"{where}: no notice ({said!r})"
        else:
            assert type(app.screen).__name__ == arg, f"{where}: expected {arg}, got {type(app.screen).__name__}"
    elif kind == "figure":
        assert compare.selected == (before_figure + int(arg)) % 8, where
    elif kind == "cursor":
        assert isinstance(app.screen, MainScreen), where
    else:
        raise AssertionError(f"unknown effect {effect}")


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_every_key_in_every_pane(size, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the diff screen's `e` exports to ./lookout-diff-<app>-<time>.diff
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


# the screens a key opens, by the `where` of their key rows: (pane focused first, opening key, screen)
DRILL = {
    "logs, describe, YAML, PromQL": [("pods", "l", "LogScreen"), ("pods", "L", "LogScreen"),
                                     ("pods", "d", "TextScreen"), ("pods", "y", "TextScreen"),
                                     ("compare", "p", "TextScreen")],
    "logs (l, L)": [("pods", "l", "LogScreen"), ("pods", "L", "LogScreen")],
    "findings (f)": [("pods", "f", "FindingsScreen")],
    "help (?)": [("pods", "question_mark", "HelpScreen")],
    "diff (b)": [("pods", "b", "DiffScreen")],
}


async def _check_drill(app, pilot, r, opener: tuple[str, str, str]) -> bool:
    """Open the screen, press the key, check its declared effect. True when the check could see motion (a view
    long enough to scroll, a list long enough to move in)."""
    pane_id, key, screen_name = opener
    await _home(app, pilot, pane_id)
    await pilot.press(key)
    await pilot.pause(0.3)
    screen = app.screen
    assert type(screen).__name__ == screen_name, (opener, type(screen).__name__)
    effect = EFFECTS[r.action]
    kind, _, arg = effect.partition(":")
    where = f"{r.keys} ({r.action}) on {screen_name} opened by {key} at {app.size}"
    view = screen.query_one("#text") if screen_name in ("LogScreen", "TextScreen") else None
    if kind == "scroll" and view is not None:
        (view.scroll_end if arg == "top" else view.scroll_home)(animate=False)
        await pilot.pause(0.05)
    before = (getattr(screen, "previous", None), getattr(screen, "following", None))
    lst = screen.query("#findings-list").first() if screen_name == "FindingsScreen" and screen.findings else None
    body = {"HelpScreen": "#help-body", "DiffScreen": "#diff-scroll"}.get(screen_name)
    body = screen.query_one(body) if body else None
    if body is not None:
        body.scroll_home(animate=False)
        await pilot.pause(0.05)
    if lst is not None and r.action == "cursor_up":
        lst.highlighted = len(screen.findings) - 1  # from the last, so up cannot wrap
        await pilot.pause(0.05)
    before_highlight = lst.highlighted if lst is not None else None
    before_diff = (getattr(screen, "side_by_side", None), getattr(screen, "switch_view", None),
                   getattr(screen, "current", None))
    await pilot.press(first_key(r.keys))
    await pilot.pause(0.15)
    assert app.is_running, f"the app died on {where}"
    moved = True
    if kind == "main":
        assert isinstance(app.screen, MainScreen), f"{where}: still on {type(app.screen).__name__}"
    elif kind == "shown":
        assert screen.query_one(arg).display, f"{where}: {arg} not shown"
    elif kind == "scroll" and view is not None:
        moved = view.max_scroll_y > 0
        want = 0 if arg == "top" else view.max_scroll_y
        assert view.scroll_y == want, f"{where}: at line {view.scroll_y}, expected {want}"
    elif kind == "scroll" and body is not None:
        moved = body.max_scroll_y > 0
        if r.action == "scroll(1)":
            assert body.scroll_y == min(1, body.max_scroll_y), where
        else:
            assert body.scroll_y == 0, where
    elif kind == "log":
        after = (screen.previous, screen.following)
        flipped = 0 if r.action == "toggle_previous" else 1
        assert after[flipped] != before[flipped], f"{where}: nothing toggled"
        word = ("previous container" if after[0] else "current container") if flipped == 0 else (
            "following" if after[1] else "paused")
        assert word in str(screen.query_one(".screen-title").render()), where
    elif kind == "diff":
        if r.action == "export":
            return False  # writes a file in the working directory: tests/test_diff_e2e.py presses it
        after = (screen.side_by_side, screen.switch_view, screen.current)
        if r.action == "toggle_layout":
            assert after[0] != before_diff[0], where
        elif r.action == "toggle_switch":
            assert after[1] != before_diff[1], where
        else:
            assert after[2] is not None and after[2] != before_diff[2], where
    elif kind == "cursor":
        moved = lst is not None and len(screen.findings) > 1
        if moved:
            want = min(before_highlight + 1, len(screen.findings) - 1) if r.action == "cursor_down" else max(
                before_highlight - 1, 0)
            assert lst.highlighted == want, where
    else:
        raise AssertionError(f"unknown effect {effect} for {where}")
    return moved


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_drill_down_keys(size, tmp_path, monkeypatch):
    """Every key of the screens a key opens (the text view of logs, describe, YAML and PromQL, findings, help), in
    every screen where it is offered, with its declared effect."""
    monkeypatch.chdir(tmp_path)  # the diff screen's `e` exports to ./lookout-diff-<app>-<time>.diff
    session = await story_session("selector-outage")
    app = LookoutApp(session, clock=session.clock, check_tty=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.3)
        pressed, moved = 0, set()
        for r in key_rows():
            for opener in DRILL.get(r.where, ()):
                if await _check_drill(app, pilot, r, opener):
                    moved.add(r.action)
                pressed += 1
        assert pressed >= 30
        # the motion checks saw motion somewhere (a YAML longer than the screen, several findings)
        assert {"top", "bottom", "cursor_down"} <= moved, moved
        # enter on a finding shows its object: the outage's Service, in the DNS / endpoints pane
        await _home(app, pilot, "pods")
        await pilot.press("f")
        await pilot.pause(0.2)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, MainScreen) and app.focused_pane() is app.query_one("#network")
