"""Screens as SVG, deterministic: scenario objects from a hand-moved clock, a fixed app clock, real Session.

Regenerate with `scripts/test tests/test_snapshots.py --snapshot-update`; the SVGs are copied to
screenshots/ by tests/test_snapshots.py::test_screenshots_are_current.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from snapshot_support import scenario_session
from tui.app import LookoutApp

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
CASES = {
    # name: (scenario, seconds of scenario time, app)
    "main": ("healthy-canary", 30, None),
    "crashloop": ("crashloop", 40, None),
}


def _app(case: str) -> LookoutApp:
    scenario, seconds, app_name = CASES[case]
    session = asyncio.new_event_loop().run_until_complete(scenario_session(scenario, seconds, app=app_name))
    return LookoutApp(session, clock=session.clock, check_tty=False)


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("case", sorted(CASES))
def test_main_screen(snap_compare, case, size):
    async def settle(pilot):
        await pilot.pause(0.3)

    assert snap_compare(_app(case), terminal_size=SIZES[size], run_before=settle)


def test_screenshots_are_current():
    """screenshots/ holds the same SVGs as the snapshot tests (scripts/screenshots copies them)."""
    import re

    snaps = sorted(Path(__file__).parent.joinpath("__snapshots__").rglob("*.svg"))
    assert snaps, "no snapshot SVGs: run scripts/screenshots"
    shots = Path(__file__).parent.parent / "screenshots"
    for svg in snaps:
        m = re.match(r"test_(\w+?)\[(.+)\]\.svg", svg.name)
        name = f"{m.group(1)}_{m.group(2).replace('-', '_')}.svg"
        assert (shots / name).exists(), f"screenshots/{name} is missing: run scripts/screenshots"
        assert (shots / name).read_bytes() == svg.read_bytes(), f"screenshots/{name} is stale: run scripts/screenshots"
