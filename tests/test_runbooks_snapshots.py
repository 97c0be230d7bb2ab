"""Runbook screens as SVG at 80x24 and 120x40: the picker (suggestions first), a step running in the docked panel,
and the confirmation of a step that changes the cluster. Deterministic: the story session's frozen clock, a
running step that waits after its first line, the Rollout's resourceVersion from the seeded story."""

from __future__ import annotations

import asyncio

import pytest

from test_snapshots import SIZES, story_session
from tui.app import LookoutApp

LOCAL = """
id: local-wait
title: A step that is still running
steps:
  - {title: print a line then wait, why: the panel shows output as it comes, run: [sh, -c, 'echo first line; echo "[bold]not markup[/] \\x1b[31mx"; sleep 30'], mutates: false}
"""


async def _settled(pilot) -> None:
    """Until the first assessment is on screen (under load the first status tick can come late)."""
    await pilot.pause(0.3)
    for _ in range(100):
        if pilot.app.assessment is not None and pilot.app.pods_pane.table.rows:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.1)


def _app() -> LookoutApp:
    from tui.runbooks.model import Catalog, load_catalog, parse_runbooks

    session = asyncio.new_event_loop().run_until_complete(story_session("aborted"))
    builtin = load_catalog(include_user_dir=False)
    return LookoutApp(session, clock=session.clock, check_tty=False,
                      runbooks=Catalog(builtin.runbooks + parse_runbooks(LOCAL, "local.yaml")))


@pytest.mark.parametrize("size", sorted(SIZES))
def test_runbook_picker(snap_compare, size):
    async def run_before(pilot):
        await _settled(pilot)
        await pilot.press("r")
        await pilot.pause(0.3)
        assert pilot.app.screen.shown[0].id == "unexpected-rollback"

    assert snap_compare(_app(), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_runbook_step_running(snap_compare, size):
    async def run_before(pilot):
        app = pilot.app
        await _settled(pilot)
        app.open_runbook("local-wait")
        await pilot.pause(0.1)
        await pilot.press("1")
        panel = app.query_one("#runbook-panel")
        for _ in range(100):
            await pilot.pause(0.05)
            if "not markup" in panel.output_text():
                break
        assert panel.states[0] == "running"
        await pilot.pause(0.2)

    assert snap_compare(_app(), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_runbook_confirmation(snap_compare, size):
    async def run_before(pilot):
        app = pilot.app
        await _settled(pilot)
        app.open_runbook("unexpected-rollback")
        await pilot.pause(0.1)
        await pilot.press("5")  # retry: a status patch of the Rollout
        await pilot.pause(0.3)
        assert type(app.screen).__name__ == "ConfirmStep"

    assert snap_compare(_app(), terminal_size=SIZES[size], run_before=run_before)
