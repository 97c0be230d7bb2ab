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
    # name: (scenario, seconds of scenario time, app[, seconds between the two scrapes behind the metrics])
    "main": ("healthy-canary", 30, None),
    "crashloop": ("crashloop", 40, None),
    # canary vs stable from the demo's traffic model (two direct scrapes on a hand-moved clock)
    "rollback": ("bad-canary", 40, None, 10),  # canary p99 1.75 s, 5xx 14 %: ROLLBACK
    "promote": ("healthy-canary", 30, None, 10),  # canary at 10-25 %, 239 requests, all within criteria
    "no-data": ("metrics-missing", 40, None, 10),  # canary /metrics refuses: metrics-target-down
}
# the compare pane zoomed (z) at 120x40, one per verdict
ZOOMED = {
    "rollback": CASES["rollback"],
    "promote": CASES["promote"],
    "hold": ("healthy-canary", 30, None, 2),  # 47 canary requests in 2 s: not-enough-traffic
    "no-data": CASES["no-data"],
    "no-traffic": ("canary-no-traffic", 40, "checkout", 10),  # the Service misses the canary: no-traffic
}


def _app(case: str, cases: dict = CASES) -> LookoutApp:
    scenario, seconds, app_name, *gap = cases[case]
    session = asyncio.new_event_loop().run_until_complete(
        scenario_session(scenario, seconds, app=app_name, metrics=bool(gap), metrics_gap=gap[0] if gap else 10))
    return LookoutApp(session, clock=session.clock, check_tty=False)


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("case", sorted(CASES))
def test_main_screen(snap_compare, case, size):
    async def settle(pilot):
        await pilot.pause(0.3)

    assert snap_compare(_app(case), terminal_size=SIZES[size], run_before=settle)


@pytest.mark.parametrize("case", sorted(ZOOMED))
def test_compare_zoomed(snap_compare, case):
    """The canary-vs-stable pane on its own (focus it, press z): every reason whole, figures, trends, findings."""

    async def zoom(pilot):
        pilot.app.query_one("#compare-body").focus()
        await pilot.press("z")
        await pilot.pause(0.3)
        assert pilot.app.zoomed is pilot.app.query_one("#compare")

    assert snap_compare(_app(case, ZOOMED), terminal_size=SIZES["120x40"], run_before=zoom)


# The moments that matter, played whole on the demo clock (tests/assessment_support.py) with metrics polled
# every 5 s of the story: the abort, and the active Service's selector typo (an outage).
STORIES = {
    "aborted": ("bad-canary", 90, None),  # aborted at 46 s: ROLLBACK with the analysis and the last figures
    "selector-outage": ("healthy-canary", 25, "typo"),  # then 10 s with `app: checkout-typo` as selector
    "bluegreen": ("bluegreen-switch", 40, None),  # both colours up: long pod names, two per hash
}


async def story_session(case: str):
    """The real Session at the story's moment (its clock stands still there)."""
    from assessment_support import Player

    scenario, seconds, change = STORIES[case]
    p = await Player(scenario).start()
    try:
        await p.play(seconds)
        if change == "typo":
            def typo(svc):
                svc["spec"]["selector"] = {"app": "checkout-typo"}

            p.state.mutate("services", p.ns, "checkout", typo)
            await p.play(seconds + 10)
    finally:
        await p.stop()
    return p.session


def _story_app(case: str) -> LookoutApp:
    session = asyncio.new_event_loop().run_until_complete(story_session(case))
    return LookoutApp(session, clock=session.clock, check_tty=False)


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("case", ["aborted", "selector-outage"])
def test_story_screen(snap_compare, case, size):
    async def settle(pilot):
        await pilot.pause(0.3)
        a = pilot.app.assessment
        assert a is not None and a.decision != "promote"
        if case == "aborted":
            assert a.decision == "rollback" and a.outcome.state == "aborted"
        else:
            assert a.cell("endpoints").level == "critical"

    assert snap_compare(_story_app(case), terminal_size=SIZES[size], run_before=settle)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_findings_expanded(snap_compare, size):
    """f on the Service selector outage: every finding whole, cause first, with its evidence."""
    async def expand(pilot):
        await pilot.pause(0.3)
        await pilot.press("f")
        await pilot.pause(0.3)
        screen = pilot.app.screen
        assert type(screen).__name__ == "FindingsScreen" and len(screen.findings) >= 2
        assert screen.findings[0].code == "service-selects-no-pods"

    assert snap_compare(_story_app("selector-outage"), terminal_size=SIZES[size], run_before=expand)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_pods_middle_truncated(snap_compare, size):
    """Blue/green pod names are longer than the NAME column: cut in the middle, each keeps its unique suffix."""
    async def check(pilot):
        await pilot.pause(0.3)
        table = pilot.app.query_one("#pod-table")
        names = [key[1] for key in table.rows]
        assert len(names) >= 4
        shown = str(pilot.app.export_screenshot())
        for name in names[:2]:  # the first rows are on screen at both sizes
            assert name[-5:] in shown, f"{name}: its unique suffix is not on screen"

    assert snap_compare(_story_app("bluegreen"), terminal_size=SIZES[size], run_before=check)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_events_after_burst(snap_compare, size):
    """The abort's burst of events: the newest stay in view at the top, the warnings among them marked."""
    async def check(pilot):
        await pilot.pause(0.3)
        app = pilot.app
        app.show_pane(app.events_pane)
        await pilot.pause(0.2)
        table = app.events_pane.table
        assert len(table.rows) >= 10 and table.cursor == 0 and int(table.scroll_y) == 0
        # at 80x24 the abort was on screen only through the findings strip, whose first line is now the failed
        # AnalysisRun (its cause): the abort's warning is still in the burst at the top of the table
        if size == "120x40":
            assert "RolloutAborted" in str(app.export_screenshot())
        top = [table.rows[k] for k in table.display_keys[:12]]
        assert any(r.reason == "RolloutAborted" and r.warning for r in top), [(r.reason, r.warning) for r in top]

    assert snap_compare(_story_app("aborted"), terminal_size=SIZES[size], run_before=check)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_incident_timeline(snap_compare, size, tmp_path):
    """t on the abort with an incident two people write to: entries newest last, each marked by its author."""
    from tui.incident.log import Incident

    app = _story_app("aborted")
    clock = app.session.clock
    inc = Incident.open(tmp_path / "inc-20260101", severity="high", environment="lookout-demo",
                        service="demo/checkout", summary="canary 5xx and p99 up", author="alice@one", clock=clock)
    bob = Incident.open(tmp_path / "inc-20260101", author="bob@two", clock=lambda: clock() + 2)
    bob.record("note", "bob: analysis run failed on error-rate, looking at the canary's logs")
    app._pending_incident = inc

    async def show(pilot):
        await pilot.pause(0.3)
        pilot.app.clear_notifications()
        pilot.app.record_incident("note", "alice: abort confirmed, traffic back on stable")
        await pilot.press("t")
        await pilot.pause(0.4)
        screen = pilot.app.screen
        assert type(screen).__name__ == "TimelineScreen"
        assert {e.author for e in screen._shown} == {"alice@one", "bob@two"}
        assert any(e.kind == "verdict" for e in screen._shown)

    assert snap_compare(app, terminal_size=SIZES[size], run_before=show)


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
